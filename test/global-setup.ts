import { execFileSync } from 'node:child_process'
import path from 'node:path'

/**
 * Tests that start the real server or the `branchgate` command run the compiled JavaScript in
 * dist/, as production does: build it once per run when src/ changed (well under a second).
 */
export default function buildOnce() {
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: 'inherit',
  })
}
