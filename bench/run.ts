/**
 * `npm run bench`: prints the figures each issue names. Each section lives in its own file and
 * is listed here; `npm run bench -- portal` runs only the sections whose name matches.
 * `scale` and `soak` need root or ten minutes and run only when named.
 *
 * Options: `--json FILE` writes every figure (unit, target, met) with the machine's description;
 * `--compare OLD.json` prints each figure beside the old one and flags a change worse than 10 %.
 */
import { writeFileSync } from 'node:fs'
import { sectionInOwnProcess } from './isolate.js'
import { runSections, type BenchSection } from './sections.js'
import {
  allFigures,
  compare,
  describeMachine,
  printComparison,
  readResult,
  type BenchResult,
} from './figures.js'

export type { BenchSection } from './sections.js'

const SECTIONS: Array<() => Promise<BenchSection>> = [
  async () => (await import('./portal.js')).default,
  async () => (await import('./real-path.js')).default,
  async () => (await import('./sync.js')).default,
  async () => (await import('./visits.js')).default,
  async () => (await import('./sms.js')).default,
  async () => (await import('./gate.js')).default,
  async () => (await import('./neighbours.js')).default,
  async () => (await import('./console.js')).default,
  async () => (await import('./startup.js')).default,
  async () => (await import('./scale.js')).default,
  async () => (await import('./soak.js')).default,
  // Issues 19 and 16: DNS before and after login, forwarding, time to the splash and to the internet.
  async () => (await import('./guest-network.js')).default,
  async () => (await import('./guest-network.js')).forwardingSection,
  async () => (await import('./guest-network.js')).loginTimesSection,
  // Issue 13: a scrape with 10,000 devices; what the instrumentation costs a login.
  async () => (await import('./metrics.js')).default,
]

function usage(message: string): never {
  console.error(
    `bench: ${message}\nusage: npm run bench -- [SECTION...] [--json FILE] [--compare OLD.json]`,
  )
  process.exit(2)
}

const filter: string[] = []
let jsonFile: string | null = null
let compareFile: string | null = null
/** Internal: this process runs only the section of that name, for a run's parent (isolate.ts). */
let ownSection: string | null = null
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  const value = () => {
    const v = args[++i]
    if (!v || v.startsWith('-')) usage(`${a} needs a file name`)
    return v
  }
  if (a === '--json') jsonFile = value()
  else if (a === '--compare') compareFile = value()
  else if (a === '--section') ownSection = value()
  else if (a.startsWith('--json=')) jsonFile = a.slice(7)
  else if (a.startsWith('--compare=')) compareFile = a.slice(10)
  else if (a.startsWith('-')) usage(`unknown option ${a}`)
  else filter.push(a)
}
// Read the old result first: a wrong file is said before minutes of measuring.
let old: BenchResult | null = null
if (compareFile) {
  try {
    old = readResult(compareFile)
  } catch (err) {
    usage(`cannot read ${compareFile}: ${(err as Error).message}`)
  }
}

const machine = describeMachine()
const startedAt = new Date().toISOString()
if (ownSection === null)
  console.log(
    `machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.memoryGiB} GiB, ${machine.kernel}, Node ${machine.node}, load ${machine.loadAverage.join(' ')}${machine.commit ? `, commit ${machine.commit}` : ''}`,
  )
const { ran, failed } =
  ownSection !== null
    ? // The parent printed the section's heading; a failure is printed here, with its stack.
      await runSections(SECTIONS, [], (line) => line.startsWith('\n## ') || console.log(line), {
        exact: ownSection,
      })
    : await runSections(SECTIONS, filter, undefined, {
        run: (section) =>
          sectionInOwnProcess(section.name, [
            process.execPath,
            ...process.execArgv,
            process.argv[1]!,
          ]),
      })
if (filter.length && ran.length === 0) usage(`no section matches ${filter.join(', ')}`)

if (ownSection !== null) {
  // A section's own process: its figures go to the parent through the file, nothing else.
  writeFileSync(
    jsonFile ?? '/dev/null',
    JSON.stringify({ sections: ran, figures: allFigures(), failed }),
  )
  process.exit(0)
}
if (jsonFile) {
  const result: BenchResult = {
    machine,
    startedAt,
    finishedAt: new Date().toISOString(),
    sections: ran,
    figures: [...allFigures()],
    ...(failed.length ? { failed } : {}),
  }
  writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n')
  console.log(`\nwrote ${allFigures().length} figures to ${jsonFile}`)
}
if (old && compareFile) printComparison(compare(allFigures(), old), compareFile)
const missed = allFigures().filter((f) => f.met === false)
console.log(
  `\n${allFigures().filter((f) => f.target).length} targets, ${missed.length} not met${missed.length ? `: ${missed.map((f) => `${f.section}/${f.key}`).join(', ')}` : ''}`,
)
if (failed.length) {
  console.log(
    `${failed.length} section(s) failed, their figures missing: ${failed.map((f) => f.section).join(', ')}`,
  )
}
process.exit(failed.length ? 1 : 0)
