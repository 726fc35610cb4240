import type { BenchSection } from './run.js'
const section: BenchSection = { name: 'portal', async run() { console.log('todo') } }
export default section
