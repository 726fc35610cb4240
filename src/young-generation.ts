import { setFlagsFromString } from 'node:v8'

const FLAG = 'semi-space-growth-factor'
/** V8's own default for the flag (`node --v8-options`). */
const DEFAULT_GROWTH = 2

/**
 * Keeps the service's start from sizing V8's young generation for its whole life; returns the
 * function that lets it grow again (call it once the service is up).
 *
 * V8 doubles the young generation's two semi-spaces (up to 8 MB each here) after scavenges in
 * which much survives, and keeps them until it is idle long enough for its memory reducer. The
 * start (modules, migrations, compiled views and statements: nearly everything it allocates
 * lives on) survives like nothing the service does afterwards, and grew them to their maximum:
 * 16 MB committed, most of it resident, measured in the startup bench as some 5 MB of RSS after
 * start and after the first pages. With growth held at 1× while it starts, the young generation
 * stays at its initial size; afterwards V8 grows it as requests need, so the portal's figures are
 * those of a default heap (`--max-semi-space-size`, a cap for good, cost the portal's logins
 * 3–7 % more CPU in a side-by-side run). The flag is read by V8 at each growth, so setting it at
 * run time takes effect. An operator's own setting of it (NODE_OPTIONS, node's arguments) is
 * left alone.
 */
export function holdYoungGeneration(
  given: readonly string[] = [...process.execArgv, process.env.NODE_OPTIONS ?? ''],
): () => void {
  if (given.some((a) => a.includes(FLAG))) return () => {}
  setFlagsFromString(`--${FLAG}=1`)
  let released = false
  return () => {
    if (released) return
    released = true
    setFlagsFromString(`--${FLAG}=${DEFAULT_GROWTH}`)
  }
}
