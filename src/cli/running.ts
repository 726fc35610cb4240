import { readFileSync, rmSync } from 'node:fs'
import type { Config } from '../config.js'
import { pidFile } from '../config-file.js'

/** Whether the process is a branchgate server: a stale pid file must never signal another program. */
export const isBranchgate = (pid: number) => {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return cmdline.some(
      (a) =>
        a.endsWith('src/main.ts') ||
        a.endsWith('branchgate.js') ||
        a.endsWith('src/cli.ts') ||
        a.endsWith('dist/serve.js'),
    )
  } catch {
    return true // no /proc: trust the pid file
  }
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The pid of the branchgate server running with this config's data folder (its pid file), or
 * null. A pid file naming a dead process or another program is stale: it is removed and said.
 */
export function runningServer(config: Config, warn: (line: string) => void): number | null {
  const file = pidFile(config)
  let pid: number | null
  try {
    pid = Number(readFileSync(file, 'utf8').trim()) || null
  } catch {
    return null
  }
  if (pid !== null && alive(pid) && !isBranchgate(pid)) {
    warn(`${file} names process ${pid}, which is not branchgate; removing the stale file`)
    rmSync(file, { force: true })
    return null
  }
  return pid !== null && alive(pid) ? pid : null
}
