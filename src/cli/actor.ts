import { userInfo } from 'node:os'

/**
 * Who ran a command, as the audit log names them: `cli:NAME`. NAME is the person behind `sudo`
 * when there is one, else `$USER`/`$LOGNAME`, else the Unix user the process runs as (a systemd
 * unit or cron has no `$USER`). Never "unknown": a change from the command line always names
 * someone.
 */
export function cliActor(
  env: NodeJS.ProcessEnv,
  osUser: () => string = () => userInfo().username,
): string {
  const fromEnv = [env.SUDO_USER, env.USER, env.LOGNAME].find((v) => v && v.trim() !== '')
  if (fromEnv) return `cli:${fromEnv.trim()}`
  try {
    const name = osUser()
    if (name) return `cli:${name}`
  } catch {
    // No passwd entry for this uid (some containers): name the uid itself.
  }
  return `cli:uid-${process.getuid?.() ?? 'n/a'}`
}
