import { spawn } from 'node:child_process'
import type { SessionTimer } from './batch-session.js'
import type { RunCommand } from './neighbours.js'

/**
 * Starts `ip` reading commands from its standard input (`ip -batch -`) with these options; tests
 * hand in a fake. It must write each command's answer as one line (JSON output does) and end at
 * the first command that fails, its reason on stderr.
 */
export type StartIp = (options: readonly string[]) => IpProcess

export interface IpProcess {
  write(line: string): void
  onLine(f: (line: string) => void): void
  /** Called once, when the process ended or could not start, with why. */
  onEnd(f: (why: string) => void): void
  /** Whether the process keeps Node running: while an answer is awaited, not when idle. */
  hold(busy: boolean): void
  kill(): void
}

export interface IpSessionOptions {
  start?: StartIp
  /** A command not answered within this is an error, and the process is ended (ms). */
  timeoutMs?: number
  timer?: SessionTimer
}

const realTimer: SessionTimer = (ms, fire) => {
  const t = setTimeout(fire, ms)
  t.unref()
  return () => clearTimeout(t)
}

/**
 * One long-lived `ip -batch -` that answers commands given as argument lists, in place of a
 * process per command: the presence sweep's `ip -j -s neigh` every 30 s cost the service a fork
 * of itself each time (6 ms of CPU with a 240 MB process, issue 20). Each answer is read by the
 * kernel when the command is, so it is as fresh as a new process's. A command that fails ends
 * the process (ip's batch mode stops at the first error): it is rejected with ip's words and the
 * next command starts a new one. Answers come in the order commands were given.
 */
export function createIpSession(
  options: readonly string[],
  o: IpSessionOptions = {},
): RunCommand & { close(): void } {
  const start = o.start ?? spawnIp
  const timeoutMs = o.timeoutMs ?? 5000
  const timer = o.timer ?? realTimer
  let ip: IpProcess | null = null
  let closed = false
  const waiting: Array<{ resolve(line: string): void; reject(err: Error): void }> = []
  let cancel: (() => void) | null = null

  // The oldest command waiting has timeoutMs from now (from when the one before it was answered).
  const arm = () => {
    cancel?.()
    cancel = null
    ip?.hold(waiting.length > 0)
    if (waiting.length === 0) return
    cancel = timer(timeoutMs, () => {
      ip?.kill()
      end(ip, `ip did not answer within ${timeoutMs} ms`)
    })
  }
  const end = (which: IpProcess | null, why: string) => {
    if (which !== ip || !which) return
    ip = null
    for (const w of waiting.splice(0)) w.reject(new Error(why))
    arm()
  }
  const ensure = (): IpProcess => {
    if (ip) return ip
    const p = start(options)
    ip = p
    p.onLine((line) => {
      if (p !== ip) return
      waiting.shift()?.resolve(line)
      arm()
    })
    p.onEnd((why) => end(p, why))
    return p
  }

  const run = ((file: string, args: string[]) => {
    if (closed) return Promise.reject(new Error('the ip session is closed'))
    if (file !== 'ip') return Promise.reject(new Error(`not an ip command: ${file}`))
    if (args.some((a) => /[\n\r]/.test(a))) return Promise.reject(new Error('bad argument'))
    return new Promise<string>((resolve, reject) => {
      const p = ensure()
      waiting.push({ resolve, reject })
      if (waiting.length === 1) arm()
      p.write(args.join(' ') + '\n')
    })
  }) as RunCommand & { close(): void }
  run.close = () => {
    closed = true
    const p = ip
    ip = null
    for (const w of waiting.splice(0)) w.reject(new Error('the ip session is closed'))
    arm()
    p?.kill()
  }
  return run
}

/** The real one: `ip [options] -batch -`, its lines and stderr read here. */
export const spawnIp: StartIp = (options) => {
  const child = spawn('ip', [...options, '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let rest = ''
  let err = ''
  let onLine: (line: string) => void = () => {}
  let onEnd: (why: string) => void = () => {}
  let ended = false
  const end = (why: string) => {
    if (ended) return
    ended = true
    onEnd(why)
  }
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    let at = chunk.indexOf('\n')
    if (at < 0) {
      rest += chunk
      return
    }
    let from = 0
    let line = rest + chunk.slice(0, at)
    rest = ''
    for (;;) {
      onLine(line)
      from = at + 1
      at = chunk.indexOf('\n', from)
      if (at < 0) break
      line = chunk.slice(from, at)
    }
    rest = chunk.slice(from)
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => (err = (err + d).slice(-500)))
  child.on('error', (e) => end(`cannot run ip: ${e.message}`))
  // 'close', not 'exit': by then ip's last words on stderr are read.
  child.on('close', (code, signal) =>
    end(`ip ended (${signal ?? `exit ${code}`})${err ? `: ${err.trim()}` : ''}`),
  )
  child.stdin.on('error', () => {}) // an ended process: reported by 'close'
  const pipes = [child.stdin, child.stdout, child.stderr] as Array<{
    ref?: () => void
    unref?: () => void
  }>
  return {
    hold(busy) {
      if (busy) child.ref()
      else child.unref()
      for (const s of pipes) (busy ? s.ref : s.unref)?.call(s)
    },
    write: (line) => child.stdin.write(line),
    onLine: (f) => (onLine = f),
    onEnd: (f) => (onEnd = f),
    kill: () => child.kill(),
  }
}
