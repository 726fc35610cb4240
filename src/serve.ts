/**
 * The process boundary of the service (`npm start`, `node dist/serve.js`; `branchgate serve` has
 * the same one in cli.ts): an OperatorError is one sentence and exit 2, anything else exit 1.
 */
import { fatalReport } from './errors.js'
import { main } from './main.js'

main().catch((err) => {
  const report = fatalReport(err)
  console.error(report.text)
  process.exit(report.exitCode)
})
