import { execFileSync, spawn } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/**
 * A long-lived interactive command session that takes batches of lines and answers each: the
 * `nft -i` of every login's one-line change, the `tc -force -batch -` of every device's classes
 * (a process per change is what they must not cost). The programs print nothing on success and
 * their errors on stderr, in order; after each batch a sentinel line is sent, a command that
 * fails naming a unique token, and its error marks where the batch's answer ends.
 *
 * - Batches run one at a time, in the order they were given, whoever calls.
 * - A batch the program refuses rejects with BatchRefusedError (the program's own words); the
 *   session goes on.
 * - A program that ends (or cannot start) mid-batch fails that batch with SessionEndedError, and
 *   one that does not answer within `timeoutMs` is killed and fails it with SessionTimeoutError.
 *   The batch is not sent again here: part of it may have taken effect, and whether repeating is
 *   safe is the caller's to know (the gate tries its changes again, every one safe to repeat).
 *   The next batch starts a new process.
 * - close() refuses new batches (SessionClosedError), lets those given finish, then ends the
 *   program's input.
 */
export interface BatchSession {
  /** Runs the lines as one batch; resolves when the program has answered every one. */
  run(lines: readonly string[]): Promise<void>
  /** Resolves when the batches given before it are answered and the program has ended. */
  close(): Promise<void>
}

/** How one program answers: its sentinel line, and where the answer of a batch ends. */
export interface SessionDialect {
  /** The program in messages: 'nft', 'tc'. */
  name: string
  /** A line whose error names `token` (it must fail, and touch nothing). */
  sentinel(token: string): string
  /**
   * Splits what the program has written to stderr since the batch was sent: the batch's own
   * errors ('' when it had none) and what follows the sentinel's error; null while the sentinel's
   * error is not all there yet.
   */
  answer(stderr: string, token: string): { errors: string; rest: string } | null
}

/** What the session sees of a running program; tests hand in a fake. */
export interface SessionProcess {
  /** Writes to the program's standard input. */
  write(text: string): void
  /** Closes its standard input: the program ends once it has answered what it read. */
  end(): void
  kill(): void
}

/**
 * Starts the program; it reports its stderr, and its end through `events.ended` with why:
 * 'exit 1', 'SIGKILL', 'cannot run nft: …' (more than once is harmless).
 */
export type SpawnSession = (events: {
  stderr(text: string): void
  ended(why: string): void
}) => SessionProcess

/** Timers, injected so tests fire them rather than wait. Returns a function that cancels. */
export type SessionTimer = (ms: number, fire: () => void) => () => void

export interface BatchSessionOptions {
  spawn: SpawnSession
  dialect: SessionDialect
  /** Milliseconds a batch may take before the program is killed. Default 5000. */
  timeoutMs?: number
  timer?: SessionTimer
}

/** The program answered the batch with errors (its words, as it printed them). */
export class BatchRefusedError extends Error {
  override readonly name = 'BatchRefusedError'
}

/** The program ended or could not start before answering the batch: its effect is unknown. */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError'
}

/** The program did not answer the batch in time and was killed: its effect is unknown. */
export class SessionTimeoutError extends Error {
  override readonly name = 'SessionTimeoutError'
}

/** The session was closed before the batch was given. */
export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError'
}

const realTimer: SessionTimer = (ms, fire) => {
  const t = setTimeout(fire, ms)
  return () => clearTimeout(t)
}

export function createBatchSession(o: BatchSessionOptions): BatchSession {
  const { dialect } = o
  const timer = o.timer ?? realTimer
  const timeoutMs = o.timeoutMs ?? 5000
  /** A started program, with what it has written to stderr and not yet read as an answer. */
  type Running = {
    process: SessionProcess
    stderr: string
    /** Why it ended, once it has. */
    endedWith: string | null
    ended: Promise<void>
  }
  let running: Running | null = null
  let seq = 0
  let closed = false
  // One batch at a time: the program answers in order, and one sentinel at a time is awaited.
  let queue: Promise<unknown> = Promise.resolve()
  // The batch awaiting its answer, and the program it was written to: the end of a program
  // killed earlier must not fail the batch of its successor.
  let waiting: { r: Running; token: string; done: (err: Error | null) => void } | null = null

  const answered = (r: Running, err: Error | null) => {
    if (waiting?.r !== r) return
    const w = waiting
    waiting = null
    w.done(err)
  }

  const start = (): Running => {
    let markEnded = () => {}
    const r: Running = {
      process: undefined as unknown as SessionProcess,
      stderr: '',
      endedWith: null,
      ended: new Promise<void>((resolve) => (markEnded = resolve)),
    }
    running = r
    r.process = o.spawn({
      stderr(text) {
        r.stderr += text
        if (waiting?.r !== r) return
        const found = dialect.answer(r.stderr, waiting.token)
        if (!found) return
        r.stderr = found.rest
        answered(r, found.errors ? new BatchRefusedError(found.errors) : null)
      },
      ended(why) {
        if (r.endedWith !== null) return
        const tail = r.stderr.trim()
        r.endedWith = `${dialect.name} session ended (${why})${tail ? `: ${tail}` : ''}`
        if (running === r) running = null
        markEnded()
        answered(r, new SessionEndedError(r.endedWith))
      },
    })
    return r
  }

  const runBatch = (lines: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      if (lines.some((l) => l.includes('\n'))) return reject(new Error('one line per command'))
      const r = running ?? start()
      if (r.endedWith !== null) return reject(new SessionEndedError(r.endedWith))
      const token = `bgsync${++seq}`
      const cancel = timer(timeoutMs, () => {
        if (waiting?.r !== r || waiting.token !== token) return
        if (running === r) running = null
        r.process.kill()
        answered(
          r,
          new SessionTimeoutError(`${dialect.name} did not answer within ${timeoutMs} ms`),
        )
      })
      waiting = {
        r,
        token,
        done: (err) => {
          cancel()
          if (err) reject(err)
          else resolve()
        },
      }
      // What the program said between batches is nobody's answer.
      r.stderr = ''
      r.process.write(`${[...lines, dialect.sentinel(token)].join('\n')}\n`)
    })

  return {
    run(lines) {
      if (closed)
        return Promise.reject(new SessionClosedError(`the ${dialect.name} session is closed`))
      const batch = queue.then(() => runBatch(lines))
      queue = batch.catch(() => {})
      return batch
    },
    async close() {
      closed = true
      await queue
      const r = running
      if (!r) return
      running = null
      r.process.end()
      // A program that does not end once its input is closed is killed at the batch limit.
      const cancel = timer(timeoutMs, () => r.process.kill())
      await r.ended
      cancel()
    },
  }
}

/** One end for the program (a file descriptor it inherits) and ours, as a stream. */
export interface FifoEnd {
  child: number
  ours: Socket
}

/**
 * Real pipes for a program's standard input and error, through FIFOs made in a private folder
 * and unlinked at once; null when they cannot be made (the caller keeps Node's own). Node gives
 * a child socket pairs, and `nft -i` reads its input one byte per read(2) (libedit) and writes
 * its answers in many small writes: through sockets each costs more than through a pipe
 * (docs/bench.md: a third more CPU per login for the input alone).
 */
export function fifoPipes(): { stdin: FifoEnd; stderr: FifoEnd } | null {
  let dir: string | null = null
  const opened: number[] = []
  const open = (file: string, flags: number) => {
    const fd = openSync(file, flags)
    opened.push(fd)
    return fd
  }
  try {
    dir = mkdtempSync(path.join(tmpdir(), 'branchgate-stdio-'))
    const inFifo = path.join(dir, 'in')
    const errFifo = path.join(dir, 'err')
    execFileSync('mkfifo', ['-m', '600', inFifo, errFifo], { stdio: 'ignore' })
    // No open may block: a FIFO's reader waits for a writer and a writer for a reader. Input: a
    // non-blocking reader first, then our writer, then the blocking reader the program gets
    // (nft must not see EAGAIN). Error: our non-blocking reader, then the program's writer.
    const inProbe = open(inFifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const inOurs = open(inFifo, constants.O_WRONLY)
    const inChild = open(inFifo, constants.O_RDONLY)
    const errOurs = open(errFifo, constants.O_RDONLY | constants.O_NONBLOCK)
    const errChild = open(errFifo, constants.O_WRONLY)
    const stdin = {
      child: inChild,
      ours: new Socket({ fd: inOurs, readable: false, writable: true }),
    }
    const stderr = {
      child: errChild,
      ours: new Socket({ fd: errOurs, readable: true, writable: false }),
    }
    closeSync(inProbe)
    return { stdin, stderr }
  } catch {
    for (const fd of opened) {
      try {
        closeSync(fd)
      } catch {
        // already closed or wrapped
      }
    }
    return null
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Starts `argv` (e.g. ['nft', '-i'], or ['ip', 'netns', 'exec', 'ns1', 'nft', '-i']) as the
 * session's program. Arguments are an array, never a shell string. `pipe`: its standard input
 * and error are real pipes (fifoPipes), for programs that read and write them byte by byte.
 */
export function spawnProgram(
  argv: readonly string[],
  o: { pipe?: boolean; lastWordsMs?: number } = {},
): SpawnSession {
  const [file, ...args] = argv
  if (!file) throw new Error('empty command')
  return (events) => {
    const fifo = o.pipe ? fifoPipes() : null
    // `nft -i` keeps a readline history in $HOME/.nft.history: every line, so every guest's MAC.
    // The service's HOME is its data folder, where the file grew without any retention rule.
    // A HOME that does not exist leaves nothing behind (the programs need no HOME otherwise).
    const child = spawn(file, args, {
      stdio: fifo ? [fifo.stdin.child, 'pipe', fifo.stderr.child] : ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: '/nonexistent' },
    })
    // The child has its own copies of its ends; ours would keep it from ever seeing the end of
    // its input, and us from seeing the end of its errors.
    if (fifo) for (const fd of [fifo.stdin.child, fifo.stderr.child]) closeSync(fd)
    // Without FIFOs all three are Node's pipes.
    const stdin = fifo ? fifo.stdin.ours : child.stdin!
    const stderr = fifo ? fifo.stderr.ours : child.stderr!
    child.stdout!.resume()
    stderr.setEncoding('utf8')
    stderr.on('data', (d: string) => events.stderr(d))
    stderr.on('error', () => {})
    // Told once. Its end is told once its last words on stderr are read too: 'exit' can come
    // before them (a FIFO is read on our side like any socket), and the reason it ended would
    // then lack what it said (seen in a test on a loaded machine). A program whose stderr is held
    // open by something it left running is told ended `lastWordsMs` after it exited all the same.
    let told = false
    const tell = (why: string) => {
      if (told) return
      told = true
      events.ended(why)
    }
    let exited: string | null = null
    let errorsRead = false
    const endOnceRead = () => {
      if (exited !== null && errorsRead) tell(exited)
    }
    stderr.once('close', () => {
      errorsRead = true
      endOnceRead()
    })
    // A missing program fails at spawn ('error', maybe no 'exit'): answer at once, not at the
    // timeout.
    child.on('error', (err) => tell(`cannot run ${file}: ${err.message}`))
    child.on('exit', (code, signal) => {
      exited = code === null ? `${signal}` : `exit ${code}`
      stdin.destroy()
      endOnceRead()
      if (!told) setTimeout(() => tell(exited!), o.lastWordsMs ?? 1000).unref()
    })
    child.on('error', () => stdin.destroy())
    stdin.on('error', () => {})
    return {
      write: (text) => stdin.write(text),
      end: () => stdin.end(),
      kill: () => child.kill(),
    }
  }
}
