import type { BenchSection } from './run.js'
const section: BenchSection = { name: 'scale', onlyWhenNamed: true, async run() {} }
export default section
