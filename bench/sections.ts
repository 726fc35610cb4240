/**
 * Runs the bench's sections one after the other. A section that throws does not end the run:
 * its error is printed where its figures would be, the next section runs, and the run ends by
 * naming the failed ones (and the JSON result lists them), so one crash no longer loses every
 * other section's figures.
 */
import { inSection } from './figures.js'

export interface BenchSection {
  name: string
  /** Runs only when named on the command line (root, long runs). */
  onlyWhenNamed?: boolean
  run(): Promise<void>
}

/** A section's failure that was printed where it happened, with its stack. */
export class ReportedFailure extends Error {}

/** A section that threw, and what it said. */
export interface FailedSection {
  section: string
  error: string
}

export async function runSections(
  sections: ReadonlyArray<() => Promise<BenchSection>>,
  filter: readonly string[],
  out: (line: string) => void = (line) => console.log(line),
  o: {
    /** Runs one selected section (default: `section.run()` here; bench/run.ts: its own process). */
    run?: (section: BenchSection) => Promise<void>
    /** Only the section of exactly this name, named or not (a section's own process). */
    exact?: string
  } = {},
): Promise<{ ran: string[]; failed: FailedSection[] }> {
  const ran: string[] = []
  const failed: FailedSection[] = []
  const run = o.run ?? ((section: BenchSection) => section.run())
  for (const load of sections) {
    const section = await load()
    const named = filter.some((f) => section.name.includes(f))
    if (
      o.exact !== undefined
        ? section.name !== o.exact
        : filter.length
          ? !named
          : section.onlyWhenNamed
    )
      continue
    out(`\n## ${section.name}`)
    inSection(section.name)
    ran.push(section.name)
    try {
      await run(section)
    } catch (err) {
      // A section's own process printed its failure with the stack already (bench/isolate.ts).
      const error =
        err instanceof Error
          ? err instanceof ReportedFailure
            ? err.message
            : (err.stack ?? err.message)
          : String(err)
      out(`SECTION FAILED: ${section.name}: ${error}`)
      failed.push({
        section: section.name,
        error: err instanceof Error ? err.message : String(err),
      })
    }
  }
  return { ran, failed }
}
