import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { shareWriterTurn, type Db } from './open.js'

/** SQLite's default: checkpoint when the WAL reaches this many pages. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000

// Runs in the worker: its own connection. Every tick a PASSIVE checkpoint copies what the WAL
// holds into the database file without waiting for anyone (the fsync happens here, off the
// event loop). Under sustained writes that is not enough: the WAL starts over only when a
// writer finds every frame copied, and some commit always lands during the copy, so the file
// grows for ever. When it holds more than `restartFrames`, a RESTART follows at once: it has
// only the frames of the last moment left to copy, and holds the write lock for that and its
// two fsyncs. The next commit starts the WAL from the beginning.
//
// The main connection does not wait for that lock in SQLite's busy handler, whose sleeps (1, 2,
// 5, 10 ms…) kept the event loop waiting twice as long as the restart held it (bench portal,
// strace: the main thread slept 18 ms for a restart that held it 8 ms, every second under
// load). This thread raises `turn[0]` before it asks for the lock and lowers it when done; the
// main connection's write transactions (src/db/open.ts) wait on it before BEGIN and are woken at
// once (Atomics.notify). The same goes the other way: the main connection holds `turn[1]` up for
// the length of each write transaction, and this thread, its turn raised, waits for it to drop
// before it asks. Asked while a login's transaction was running, SQLite refused the lock and
// slept 1 ms, then 2 (its busy handler's first sleeps): 3 of the 13 ms a restart held the
// writers (bench portal, strace). A writer still holding the lock after `busyMs` (the console's
// thread, a command) makes it give up until the next tick.
//
// What a restart holds the writers for is its copy of the frames written since the last PASSIVE
// began, and two fsyncs. The PASSIVE copies go on until one leaves only a moment's frames
// (`tailFrames`, at most `passes` copies): the last one took 17 ms, and the 340 frames the logins
// wrote meanwhile took 6 ms to copy inside the restart.
//
// The WAL file is cut back here too, never in a login's commit: SQLite's journal_size_limit
// truncates it in the first commit after a restart, on the event loop (3-40 ms of ftruncate
// each second under load). While writes keep coming the file keeps its size and is written over
// from the start; at a lull (few frames written since the last tick) or when the thread ends, a file
// larger than `limitBytes` is truncated (TRUNCATE). 'stop' copies what is left, closes the
// connection and lets the thread end.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads')
const { statSync } = require('node:fs')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { fileMustExist: true })
const turn = workerData.turn
db.pragma('busy_timeout = ' + workerData.busyMs)
const walBytes = () => { try { return statSync(workerData.file + '-wal').size } catch { return 0 } }
// A RESTART or TRUNCATE in this thread's turn (see above): whether it was done, and how long
// the main connection's writers were held back.
function byTurns(mode) {
  const t0 = performance.now()
  Atomics.store(turn, 0, 1)
  try {
    // A write transaction of the main connection in progress: woken at its end. Only this
    // connection's own transactions raise the flag, and they are short; a long one (a purge) is
    // waited for no longer than a second, then SQLite's busy_timeout decides.
    Atomics.wait(turn, 1, 1, 1000)
    const r = db.pragma('wal_checkpoint(' + mode + ')')[0]
    return { done: r.busy === 0, heldMs: performance.now() - t0 }
  } finally {
    Atomics.store(turn, 0, 0)
    Atomics.notify(turn, 0)
  }
}
// The WAL's frames at the last tick: what was written since tells a lull.
let lastLog = 0
const timer = setInterval(() => {
  try {
    const passive = db.pragma('wal_checkpoint(PASSIVE)')[0]
    const written = passive.log >= lastLog ? passive.log - lastLog : passive.log
    lastLog = passive.log
    let restarted = false
    let truncated = false
    let heldMs = 0
    // Nothing written since the last restart: its frames are all copied, and the next commit
    // starts the WAL over by itself (without this, one RESTART a tick until the thread ended).
    if (passive.log >= workerData.restartFrames && written > 0) {
      // More copies sync what landed during the one before, so that the restart, which holds
      // every writer back, has only the last moment's frames to copy and sync.
      let before = passive.log
      for (let i = 0; i < workerData.passes; i++) {
        const again = db.pragma('wal_checkpoint(PASSIVE)')[0]
        const landed = again.log - before
        before = again.log
        if (landed <= workerData.tailFrames) break
      }
      const r = byTurns('RESTART')
      heldMs = r.heldMs
      restarted = r.done
    } else if (written <= workerData.lullFrames && walBytes() > workerData.limitBytes) {
      const r = byTurns('TRUNCATE')
      heldMs = r.heldMs
      truncated = r.done
      lastLog = 0
    }
    if (workerData.report || (heldMs > 0 && heldMs >= workerData.slowMs))
      parentPort.postMessage({ frames: passive.log, restarted, truncated, heldMs })
  } catch { /* busy: next time */ }
}, workerData.everyMs)
parentPort.on('message', (m) => {
  if (m !== 'stop') return
  clearInterval(timer)
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
    if (walBytes() > workerData.limitBytes) byTurns('TRUNCATE')
  } catch { /* busy: the next writer starts a worker */ }
  db.close()
  parentPort.close()
})
`

/** What the worker did in one tick (CheckpointerOptions.onTick). */
export interface CheckpointTick {
  /** The WAL's size in frames before the tick. */
  frames: number
  restarted: boolean
  truncated: boolean
  heldMs: number
}

export interface CheckpointerOptions {
  /** Milliseconds between two checkpoints. */
  everyMs?: number
  /** WAL frames (pages) above which the worker makes the WAL start over. */
  restartFrames?: number
  /**
   * A WAL file larger than this (bytes) is truncated at the next lull or when the worker ends
   * (default 8 MiB): its size stays near what a tick of writes needs instead of its all-time
   * high. If the worker fails, the main connection's journal_size_limit.
   */
  walLimitBytes?: number
  /** At most this many frames written in a tick is a lull (default 64). */
  lullFrames?: number
  /**
   * Before a restart, PASSIVE copies go on until at most this many frames landed during one
   * (default 64), at most `restartPasses` of them (default 4): what is left is copied while the
   * writers wait.
   */
  tailFrames?: number
  restartPasses?: number
  /**
   * Called after each tick with the WAL's size in frames before it, whether it restarted or
   * truncated the WAL, and how long that held the main connection's writers back, in ms.
   */
  onTick?: (t: CheckpointTick) => void
  /** A restart or truncation that holds writers back this long (ms) is logged; default 1000. */
  slowMs?: number
  /**
   * Milliseconds without a write to the WAL after which the worker thread ends (default 30000);
   * the next write starts it again.
   */
  idleMs?: number
}

export interface Checkpointer {
  /** Stops the worker; the main connection checkpoints by itself again. */
  stop(): Promise<void>
  /** Whether a worker thread is up (or ending): only while there are writes to copy. */
  running(): boolean
}

/**
 * Moves WAL checkpoints off the portal's event loop. better-sqlite3 is synchronous, and SQLite's
 * automatic checkpoint (with its fsync) runs inside whichever commit crosses the threshold: a
 * guest's login then waits for the disk. Here a worker thread with its own connection
 * checkpoints every `everyMs` and makes a long WAL start over; if it dies, the main connection
 * goes back to automatic checkpoints, so the WAL never grows without bound.
 *
 * The thread runs only while something writes. A worker's V8 instance and connection held ~8 MB
 * of the service's RSS (the startup bench), for nothing on a branch where nobody logs in. The main
 * thread looks at the WAL file's size and modification time every `everyMs` (one stat: any
 * writer, this connection, the console's thread or a command, changes them), starts the worker
 * when they change and ends it after `idleMs` without a change. Frames left in the WAL
 * meanwhile are safe there and stay few: the WAL only grows with writes, and a write starts the
 * worker within `everyMs`.
 */
export function startCheckpointer(
  db: Db,
  file: string,
  log: (line: string) => void,
  o: CheckpointerOptions | number = {},
): Checkpointer {
  const opts = typeof o === 'number' ? { everyMs: o } : o
  const everyMs = opts.everyMs ?? 1000
  const idleTicks = Math.max(1, Math.ceil((opts.idleMs ?? 30_000) / everyMs))
  const slowMs = opts.slowMs ?? 1000
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const limitBytes = opts.walLimitBytes ?? 8 << 20
  // [0]: 1 while the worker wants or holds the write lock; [1]: 1 while the main connection is in
  // a write transaction (see WORKER_SOURCE and src/db/open.ts).
  const turn = new Int32Array(new SharedArrayBuffer(8))
  const fallBack = () => {
    shareWriterTurn(db, null)
    if (!db.open) return
    db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`)
    db.pragma(`journal_size_limit = ${limitBytes}`)
  }
  let worker: Worker | null = null
  // Workers told to stop and not yet ended (stop() waits for them too).
  const ending = new Set<Promise<void>>()
  let failed = false
  const startWorker = () => {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file,
        driver,
        everyMs,
        restartFrames: opts.restartFrames ?? 1000,
        lullFrames: opts.lullFrames ?? 64,
        tailFrames: opts.tailFrames ?? 64,
        passes: opts.restartPasses ?? 4,
        limitBytes,
        turn,
        busyMs: 10,
        report: opts.onTick !== undefined,
        slowMs,
      },
      // It holds one connection and a timer: a small heap is plenty.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    })
    w.unref()
    w.on('message', (t: CheckpointTick) => {
      // Writers wait for the restart or truncation: one that lasts long is why a login waited.
      if (t.heldMs > 0 && t.heldMs >= slowMs)
        log(
          `database: a WAL ${t.truncated ? 'truncation' : 'restart'} held writers back for ${Math.round(t.heldMs)} ms (${t.frames} frames; the disk was slow to sync)`,
        )
      opts.onTick?.(t)
    })
    w.on('error', (err) => {
      log(`database: checkpoint worker failed (${err.message}); checkpointing in the main thread`)
      failed = true
      clearInterval(watch)
      fallBack()
    })
    w.once('exit', () => {
      // A thread that ended in the middle of its turn (killed, out of memory) never lowered it.
      Atomics.store(turn, 0, 0)
      Atomics.notify(turn, 0)
      if (worker === w) worker = null
    })
    worker = w
  }
  const endWorker = (): Promise<void> => {
    const w = worker
    if (!w) return Promise.resolve()
    worker = null
    const exited = new Promise<void>((r) => w.once('exit', () => r()))
    // The thread is unref'd so it never keeps a quiet service up; once told to stop it is held
    // until it has closed its connection. Unheld, a process with nothing else to do (a command,
    // the bench) ended while stop() awaited it: exit 13, an unsettled await, its work lost.
    w.ref()
    ending.add(exited)
    void exited.then(() => {
      ending.delete(exited)
      // Its own last truncation is not a write to copy: no new worker for it.
      seen = stamp()
    })
    w.postMessage('stop')
    return exited
  }

  db.pragma('wal_autocheckpoint = 0')
  // No truncation in a commit: the worker cuts the file back (see WORKER_SOURCE).
  db.pragma('journal_size_limit = -1')
  shareWriterTurn(db, turn)
  const wal = `${file}-wal`
  const stamp = () => {
    try {
      const s = statSync(wal, { bigint: true })
      return `${s.size}:${s.mtimeNs}`
    } catch {
      return ''
    }
  }
  // What the last run, the migrations and the start's own writes left is copied now, once, on
  // this thread (main.ts calls this at the end of the start); a worker starts only if some of it
  // could not be.
  const left = db.pragma('wal_checkpoint(PASSIVE)') as Array<{
    busy: number
    log: number
    checkpointed: number
  }>
  let seen = stamp()
  if (left[0] && (left[0].busy !== 0 || left[0].checkpointed < left[0].log)) startWorker()
  let quiet = 0
  const watch = setInterval(() => {
    const now = stamp()
    if (now !== seen) {
      seen = now
      quiet = 0
      if (!worker && !failed) startWorker()
    } else if (worker && ++quiet >= idleTicks) void endWorker()
  }, everyMs)
  watch.unref()
  return {
    async stop() {
      clearInterval(watch)
      await endWorker()
      await Promise.all(ending)
      fallBack()
    },
    running: () => worker !== null || ending.size > 0,
  }
}
