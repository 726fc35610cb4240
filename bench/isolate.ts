/**
 * Each section of a bench run in its own process. Run one after another in one process, a
 * section inherited what the sections before it left: a heap grown by a 100,000-event sync, a
 * gate's 100,000 MACs, the portal's servers' leftovers. The year's dashboard, measured in the
 * bench's own process, took 139 ms in a quiet run after portal, sync, visits and gate, against
 * 90 ms for the section alone.
 * A fresh process per section measures each as it runs in the service, whatever ran before.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { adoptFigures, type BenchResult } from './figures.js'
import { ReportedFailure } from './sections.js'

/**
 * Runs `command --section NAME --json FILE` with the terminal shared (its figures print as they
 * come), then keeps the figures it wrote. Throws, for the run to report the section as failed,
 * when the section failed in its process or the process ended without a result.
 */
export async function sectionInOwnProcess(
  name: string,
  command: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-section-'))
  const file = path.join(dir, 'result.json')
  try {
    const [exe, ...args] = command
    const code = await new Promise<number | string>((resolve, reject) => {
      const child = spawn(exe!, [...args, '--section', name, '--json', file], {
        stdio: 'inherit',
        env,
      })
      child.on('error', reject)
      child.on('exit', (c, signal) => resolve(signal ?? c ?? 0))
    })
    let result: BenchResult
    try {
      result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult
    } catch {
      throw new Error(`its process ended (${code}) without writing its figures`)
    }
    adoptFigures(result.figures)
    const failed = result.failed?.find((f) => f.section === name)
    if (failed) throw new ReportedFailure(failed.error)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
