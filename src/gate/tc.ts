import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'

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
 * `tc` and `ip` are the commands, e.g. ['tc'], or ['ip', 'netns', 'exec', 'ns1', 'tc'] (tests,
 * bench). The session answers each line by a sentinel: after every command a `class show` of a
 * device that does not exist, named by a unique token; its "Cannot find device" error marks the
 * end of the command's answer (tc prints nothing on success).
 */
export function createTcRunner(
  tc: readonly string[] = ['tc'],
  ip: readonly string[] = ['ip'],
): TcRunner {
  const [file, ...pre] = tc
  const [ipFile, ...ipPre] = ip
  if (!file || !ipFile) throw new Error('empty tc or ip command')
  let session: ChildProcessWithoutNullStreams | null = null
  let stderr = ''
  let seq = 0
  let queue: Promise<unknown> = Promise.resolve()
  let waiting: { token: string; resolve: (err: string) => void } | null = null

  const settle = () => {
    if (!waiting) return
    const marker = `Cannot find device "${waiting.token}"\n`
    const at = stderr.indexOf(marker)
    if (at < 0) return
    // The sentinel's own failure line follows its message.
    const after = stderr.indexOf('\n', at + marker.length)
    if (after < 0) return
    const answer = stderr
      .slice(0, at)
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^Command failed /.test(l))
      .join('\n')
    stderr = stderr.slice(after + 1)
    const w = waiting
    waiting = null
    w.resolve(answer.trim())
  }

  const open = () => {
    const child = spawn(file, [...pre, '-force', '-batch', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    stderr = ''
    child.stdout.resume()
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => {
      stderr += d
      settle()
    })
    const ended = (why: string) => {
      if (session === child) session = null
      if (waiting) {
        const w = waiting
        waiting = null
        w.resolve(why)
      }
    }
    child.on('error', (err) => ended(`cannot run ${file}: ${err.message}`))
    child.on('exit', (code) => ended(`tc session ended (exit ${code})`))
    child.stdin.on('error', () => {})
    session = child
    return child
  }

  const runLines = (commands: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      if (commands.some((c) => c.includes('\n'))) return reject(new Error('one line per command'))
      const child = session ?? open()
      const token = `bgtc${++seq}`
      const timer = setTimeout(() => {
        waiting = null
        child.kill()
        reject(new Error('tc did not answer within 5 s'))
      }, 5000)
      waiting = {
        token,
        resolve: (err) => {
          clearTimeout(timer)
          if (err) reject(new Error(err))
          else resolve()
        },
      }
      child.stdin.write(`${commands.join('\n')}\nclass show dev ${token}\n`)
    })

  const exec = (f: string, args: readonly string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(f, [...args], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, errText) =>
        err ? reject(new Error(errText.trim() || err.message)) : resolve(stdout),
      )
    })

  return {
    line(command) {
      const run = queue.then(() => runLines([command]))
      queue = run.catch(() => {})
      return run
    },
    lines(commands) {
      const run = queue.then(() => runLines(commands))
      queue = run.catch(() => {})
      return run
    },
    ip: async (args) => {
      await exec(ipFile, [...ipPre, ...args])
    },
    close() {
      session?.stdin.end()
      session = null
    },
  }
}
