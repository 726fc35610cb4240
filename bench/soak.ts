import type { BenchSection } from './run.js'
const section: BenchSection = { name: 'soak', onlyWhenNamed: true, async run() {} }
export default section
