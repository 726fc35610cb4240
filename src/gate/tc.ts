import { execFile } from 'node:child_process'
import { createBatchSession, spawnProgram, type SessionDialect } from './batch-session.js'

/**
 * How branchgate talks to tc and ip for per-device rates: one long-lived `tc -force -batch -`
 * for the lines of every let-through (a process per change is what it must not cost), and
 * single `ip link` commands for the few settings made at start. Arguments are arrays, never a shell string.
 */
export interface TcRunner {
  /** Runs one tc line in the long-lived session. Rejects with tc's message. */
  line(command: string): Promise<void>
  /**
   * Runs several lines in one round trip; rejects with the messages of those that failed (the
   * others took effect: every line branchgate sends is a `replace` or a `del`, safe to repeat).
   */
  lines(commands: readonly string[]): Promise<void>
  /** Runs `ip ARGS…`. Rejects with its message. */
  ip(args: readonly string[]): Promise<void>
  close(): void
}

/**
 * How `tc -force -batch -` answers: nothing on success; on failure its message, then
 * "Command failed -:N" (-force goes on with the next line). The sentinel is a `class show` of a
 * device that does not exist, named by the token; its "Cannot find device" error and its
 * "Command failed" line end each batch's answer.
 */
export const tcDialect: SessionDialect = {
  name: 'tc',
  sentinel: (token) => `class show dev ${token}`,
  answer(stderr, token) {
    const marker = `Cannot find device "${token}"\n`
    const at = stderr.indexOf(marker)
    if (at < 0) return null
    // The sentinel's own failure line follows its message.
    const after = stderr.indexOf('\n', at + marker.length)
    if (after < 0) return null
    const errors = stderr
      .slice(0, at)
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^Command failed /.test(l))
      .join('\n')
    return { errors: errors.trim(), rest: stderr.slice(after + 1) }
  },
}

/**
 * `tc` and `ip` are the commands, e.g. ['tc'], or ['ip', 'netns', 'exec', 'ns1', 'tc'] (tests,
 * bench).
 */
export function createTcRunner(
  tc: readonly string[] = ['tc'],
  ip: readonly string[] = ['ip'],
): TcRunner {
  const [file] = tc
  const [ipFile, ...ipPre] = ip
  if (!file || !ipFile) throw new Error('empty tc or ip command')
  const session = createBatchSession({
    spawn: spawnProgram([...tc, '-force', '-batch', '-']),
    dialect: tcDialect,
  })

  const exec = (f: string, args: readonly string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(f, [...args], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, errText) =>
        err ? reject(new Error(errText.trim() || err.message)) : resolve(stdout),
      )
    })

  return {
    line: (command) => session.run([command]),
    lines: (commands) => session.run(commands),
    ip: async (args) => {
      await exec(ipFile, [...ipPre, ...args])
    },
    close() {
      void session.close()
    },
  }
}
