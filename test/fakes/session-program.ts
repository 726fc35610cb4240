import type { SessionTimer, SpawnSession } from '../../src/gate/batch-session.js'

/**
 * How a real program writes its answers, copied from `nft -i` (nftables 1.0.6) and
 * `tc -force -batch -` (iproute2 6.1) on Debian 12; test/e2e/nftables-real.test.ts holds the
 * dialects to the real programs. `sentinel` picks out the sentinel line and its token; `refused`
 * and `sentinelError` are what the program prints to stderr.
 */
export interface ProgramVoice {
  sentinel: RegExp
  refused(line: string, message: string, lineNo: number): string
  sentinelError(line: string, token: string, lineNo: number): string
}

export const NFT_VOICE: ProgramVoice = {
  sentinel: /^(bgsync\d+)$/,
  refused: (line, message) =>
    `Error: ${message}\n${line}\n${' '.repeat(4)}${'^'.repeat(Math.max(1, line.length - 4))}\n`,
  // nft 1.0.6's own words for a bare word on a line.
  sentinelError: (line) =>
    `Error: syntax error, unexpected newline, expecting string\n${line}\n${' '.repeat(line.length)}^\n`,
}

export const TC_VOICE: ProgramVoice = {
  sentinel: /^class show dev (\S+)$/,
  refused: (_line, message, lineNo) => `${message}\nCommand failed -:${lineNo}\n`,
  sentinelError: (_line, token, lineNo) =>
    `Cannot find device "${token}"\nCommand failed -:${lineNo}\n`,
}

/** One started copy of the program. */
export interface FakeProcess {
  /** Lines it read, in order. */
  read: string[]
  inputEnded: boolean
  killed: boolean
  ended: boolean
}

/**
 * A program behind a batch session, played by hand: it reads lines, refuses those the test
 * names, can hold its answers, die at a line, refuse to start, or ignore the end of its input.
 * Its stderr comes in two pieces per answer (a pipe does not keep lines whole) and always after
 * the write that asked for it (a pipe is never synchronous).
 */
export class FakeProgram {
  readonly processes: FakeProcess[] = []
  /** Lines refused, with the program's message. */
  refuse = new Map<string, string>()
  /** A line at which the program dies, with what it prints and its exit. */
  crash: { line: string; stderr: string; exit: string } | null = null
  /** Answers are kept until release() while this is true. */
  holding = false
  /** The next starts fail as a missing program's do. */
  missing = false
  /** The program stays on when its input ends. */
  ignoresEnd = false
  /** The most sentinels ever waiting for their answer at once. */
  mostInFlight = 0
  private held: Array<() => void> = []
  private stderrOf: Array<(text: string) => void> = []
  private endKill: Array<() => void> = []

  constructor(private readonly voice: ProgramVoice) {}

  get starts() {
    return this.processes.length
  }

  /** Lines read by every copy, without the sentinels. */
  get commands() {
    return this.processes.flatMap((p) => p.read).filter((l) => !this.voice.sentinel.test(l))
  }

  /** Lets the held answers out, in order. */
  release() {
    this.holding = false
    for (const send of this.held.splice(0)) send()
  }

  /** The latest copy writes to stderr unasked (a warning between batches). */
  mutter(text: string) {
    this.stderrOf.at(-1)?.(text)
  }

  /** Ends the killed copies (a killed program's exit comes later than the kill). */
  reapKilled() {
    for (const end of this.endKill.splice(0)) end()
  }

  spawn: SpawnSession = (events) => {
    const p: FakeProcess = { read: [], inputEnded: false, killed: false, ended: false }
    this.processes.push(p)
    const end = (why: string) => {
      if (p.ended) return
      p.ended = true
      events.ended(why)
    }
    if (this.missing) {
      setImmediate(() => end('cannot run nft: spawn nft ENOENT'))
      return { write() {}, end() {}, kill() {} }
    }
    this.stderrOf.push((text) => !p.ended && events.stderr(text))
    let inFlight = 0
    // One pipe: pieces come out in the order they were said, one per turn of the event loop.
    const pipe: string[] = []
    const pump = () => {
      const piece = pipe.shift()
      if (piece === undefined || p.ended) return
      events.stderr(piece)
      if (pipe.length) setImmediate(pump)
    }
    const say = (text: string) => {
      const half = Math.ceil(text.length / 2)
      const send = () => {
        if (!pipe.length) setImmediate(pump)
        pipe.push(text.slice(0, half), text.slice(half))
      }
      if (this.holding) this.held.push(send)
      else send()
    }
    return {
      write: (text) => {
        if (p.ended) return
        const lines = text.split('\n').slice(0, -1)
        inFlight += lines.filter((l) => this.voice.sentinel.test(l)).length
        this.mostInFlight = Math.max(this.mostInFlight, inFlight)
        for (const line of lines) {
          p.read.push(line)
          const n = p.read.length
          if (this.crash?.line === line) {
            const { stderr, exit } = this.crash
            setImmediate(() => {
              events.stderr(stderr)
              end(exit)
            })
            return
          }
          const token = this.voice.sentinel.exec(line)?.[1]
          if (token !== undefined) {
            say(this.voice.sentinelError(line, token, n))
            const done = () => inFlight--
            if (this.holding) this.held.push(done)
            else setImmediate(done)
            continue
          }
          const message = this.refuse.get(line)
          if (message !== undefined) say(this.voice.refused(line, message, n))
        }
      },
      end: () => {
        p.inputEnded = true
        if (!this.ignoresEnd) setImmediate(() => end('exit 0'))
      },
      kill: () => {
        p.killed = true
        this.endKill.push(() => end('SIGTERM'))
      },
    }
  }
}

/** A timer the test fires by hand: `fire()` runs every live one. */
export function manualTimer() {
  const live = new Set<() => void>()
  const timer: SessionTimer = (_ms, fire) => {
    live.add(fire)
    return () => live.delete(fire)
  }
  return {
    timer,
    get pending() {
      return live.size
    },
    fire() {
      const now = [...live]
      live.clear()
      for (const f of now) f()
    },
  }
}
