import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { until } from './net-helpers.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Worker } from 'node:worker_threads'
import { startCheckpointer } from '../src/db/checkpointer.js'
import { setBusyPolicy, shareWriterTurn, writerTurnOf } from '../src/db/open.js'
import { tempDb } from './helpers.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

/**
 * A database whose connection shares `flags` slots with a checkpoint thread (shareWriterTurn),
 * followed by `stages` slots of the test's own, all in one shared array.
 */
function sharedTurn(flags: number, stages: number) {
  const t = tempDb()
  cleanups.push(t.close)
  const shared = new Int32Array(new SharedArrayBuffer(4 * (flags + stages)))
  const turn = shared.subarray(0, flags)
  shareWriterTurn(t.db, turn)
  cleanups.push(() => shareWriterTurn(t.db, null))
  return { t, shared, turn }
}

describe('checkpoints off the event loop', () => {
  it('copies committed pages into the database file from a worker, not from the commits', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, 50)
    cleanups.push(() => checkpointer.stop())
    expect(t.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0)
    const before = statSync(t.file).size
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    for (let i = 0; i < 3000; i++) insert.run({ d: 'x'.repeat(200) })
    // The commits above only append to the WAL; the database file grows once the worker has
    // checkpointed: wait for the real worker to do it (the test's timeout is the guard).
    await until(() => statSync(t.file).size > before)
  })

  it('makes the WAL start over while commits never stop, so its file stays small', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    let restarts = 0
    const limit = 256 << 10
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, {
      everyMs: 10,
      restartFrames: 50,
      walLimitBytes: limit,
      onTick: (tick) => (restarts += tick.restarted ? 1 : 0),
    })
    cleanups.push(() => checkpointer.stop())
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    let commits = 0
    // Sustained writes: a commit at every turn of the event loop, as under a stream of logins.
    // Before, a PASSIVE checkpoint never found every frame copied and the WAL grew for ever.
    while (restarts < 3) {
      insert.run({ d: 'x'.repeat(2000) })
      commits++
      await new Promise((r) => setImmediate(r))
    }
    insert.run({ d: 'after the last restart' })
    commits++
    // Frames written since the WAL last started from the beginning.
    const { log } = (t.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!
    // It started over: it holds fewer frames than there were commits (2,000-byte rows: a page
    // each, and the index's).
    expect(log).toBeLessThan(commits)
    // Once the writes stop, the worker cuts a file larger than the limit back (it ends with it).
    await checkpointer.stop()
    expect(statSync(`${t.file}-wal`).size).toBeLessThanOrEqual(limit)
  })

  it('never has a commit cut the WAL file back: the worker does, at a lull', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const limit = 64 << 10
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, {
      everyMs: 10,
      restartFrames: 50,
      walLimitBytes: limit,
      idleMs: 60_000,
    })
    cleanups.push(() => checkpointer.stop())
    // SQLite's journal_size_limit truncated the file in the first commit after a restart, on the
    // event loop (3-40 ms of ftruncate, every second under load in the portal bench).
    expect(t.db.pragma('journal_size_limit', { simple: true })).toBe(-1)
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    // A burst in one go, with no turn of the event loop for the worker's report between: the WAL
    // file grows past the limit.
    for (let i = 0; i < 200; i++) insert.run({ d: 'x'.repeat(2000) })
    expect(statSync(`${t.file}-wal`).size).toBeGreaterThan(limit)
    // Then nothing: the worker copies it, makes it start over and, at the lull, truncates it
    // while still running (idleMs is far away).
    await until(() => statSync(`${t.file}-wal`).size <= limit)
    expect(checkpointer.running()).toBe(true)
  })

  it('has a write transaction wait for the worker’s turn, and begin once it is over', async () => {
    // [turn, stage]: the turn as the checkpoint worker shares it, and how far the other thread is.
    const { t, shared, turn } = sharedTurn(1, 1)
    // Another thread takes its turn as the worker does, waits until this one is about to write,
    // holds the turn a little longer (so a transaction that did not wait would run meanwhile),
    // then notes that it is over (stage 3) and lowers the turn.
    const other = new Worker(
      `const { workerData: s } = require('node:worker_threads')
       Atomics.store(s, 0, 1); Atomics.store(s, 1, 1); Atomics.notify(s, 1)
       Atomics.wait(s, 1, 1)
       Atomics.wait(s, 1, 2, 50)
       Atomics.store(s, 1, 3); Atomics.store(s, 0, 0); Atomics.notify(s, 0)`,
      { eval: true, workerData: shared },
    )
    cleanups.push(() => other.terminate())
    await until(() => Atomics.load(shared, 1) === 1)
    Atomics.store(shared, 1, 2)
    Atomics.notify(shared, 1)
    let stageSeen = 0
    t.db.transaction(() => {
      stageSeen = Atomics.load(shared, 1)
      t.db.prepare(`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'x')`).run()
    })()
    expect(stageSeen).toBe(3)
    // Inside a transaction the connection holds the lock itself (the worker may be waiting for
    // it): a nested one goes on without waiting for the turn.
    const wait = vi.spyOn(Atomics, 'wait')
    cleanups.push(() => wait.mockRestore())
    const nested = t.db.transaction(() => {
      Atomics.store(turn, 0, 1)
      try {
        return t.db.transaction(() => 'nested')()
      } finally {
        Atomics.store(turn, 0, 0)
      }
    })
    expect(nested()).toBe('nested')
    expect(wait).not.toHaveBeenCalled()
  })

  it('holds its transaction flag up while a write transaction runs, and steps back for the worker’s turn', async () => {
    // [turn, writing, stage]
    const { t, shared, turn } = sharedTurn(2, 1)
    const insert = t.db.prepare(`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'x')`)
    let inside = -1
    t.db.transaction(() => {
      inside = Atomics.load(turn, 1)
      insert.run()
    })()
    expect(inside).toBe(1)
    expect(Atomics.load(turn, 1)).toBe(0)
    // A thread that raises the turn as the worker does, waits for this side to step back (the
    // flag down while the turn is up), then notes it (stage 1) and lowers the turn.
    const other = new Worker(
      `const { workerData: s } = require('node:worker_threads')
       Atomics.store(s, 0, 1); Atomics.store(s, 2, 9); Atomics.notify(s, 2)
       while (Atomics.load(s, 1) !== 0 || Atomics.load(s, 2) !== 10) Atomics.wait(s, 2, 9, 5)
       Atomics.store(s, 2, 1); Atomics.store(s, 0, 0); Atomics.notify(s, 0)`,
      { eval: true, workerData: shared },
    )
    cleanups.push(() => other.terminate())
    await until(() => Atomics.load(shared, 2) === 9)
    Atomics.store(shared, 2, 10)
    let stageSeen = 0
    t.db.transaction(() => {
      stageSeen = Atomics.load(shared, 2)
      inside = Atomics.load(turn, 1)
      insert.run()
    })()
    // It began only once the other thread's turn was over, with its flag up again.
    expect(stageSeen).toBe(1)
    expect(inside).toBe(1)
    expect(Atomics.load(turn, 1)).toBe(0)
  })

  it('has the worker wait for a write transaction in progress to end, not be refused the lock', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const ticks: Array<{ restarted: boolean; heldMs: number }> = []
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, {
      everyMs: 10,
      restartFrames: 1,
      onTick: (tick) => ticks.push(tick),
    })
    cleanups.push(() => checkpointer.stop())
    const turn = writerTurnOf(t.db)!
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    const pause = new Int32Array(new SharedArrayBuffer(4))
    // The worker runs once something was written.
    insert.run({ d: 'x'.repeat(2000) })
    await until(() => checkpointer.running())
    let before = -1
    while (before < 0) {
      // A commit gives the worker frames to copy and a restart to make; the write transaction
      // right after is still running when the worker asks for its turn, and goes on for longer
      // than the worker's busy_timeout (10 ms): SQLite alone would refuse the worker the lock.
      // (When the worker's tick fell between the two, nothing is left to restart: again.)
      insert.run({ d: 'x'.repeat(2000) })
      t.db.transaction(() => {
        insert.run({ d: 'y'.repeat(2000) })
        for (let i = 0; i < 200 && Atomics.load(turn, 0) === 0; i++) Atomics.wait(pause, 0, 0, 1)
        if (Atomics.load(turn, 0) === 0) return
        before = ticks.length
        Atomics.wait(pause, 0, 0, 50)
      })()
      await new Promise((r) => setImmediate(r))
    }
    // Every tick reports, in order, right after its turn: once the turn is down, the next report
    // at the latest is that of the tick that asked during the transaction. It, and any tick queued
    // before it, made its restart (on the code before, that one was refused: SQLITE_BUSY).
    await until(() => Atomics.load(turn, 0) === 0)
    const reported = ticks.length
    await until(() => ticks.length > reported)
    const tried = ticks.slice(before).filter((x) => x.heldMs > 0)
    expect(tried.length).toBeGreaterThan(0)
    expect(tried.map((x) => x.restarted)).toEqual(tried.map(() => true))
  })

  it('logs a WAL restart that held writers back at least slowMs, with how long', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const lines: string[] = []
    // slowMs 0: every restart counts as slow, so the line is seen without a slow disk.
    const checkpointer = startCheckpointer(t.db, t.file, (l) => lines.push(l), {
      everyMs: 10,
      restartFrames: 5,
      slowMs: 0,
    })
    cleanups.push(() => checkpointer.stop())
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    while (!lines.some((l) => l.includes('WAL restart'))) {
      insert.run({ d: 'x'.repeat(2000) })
      await new Promise((r) => setImmediate(r))
    }
    expect(lines.find((l) => l.includes('WAL restart'))).toMatch(
      /^database: a WAL restart held writers back for \d+ ms \(\d+ frames; the disk was slow to sync\)$/,
    )
  })

  it('names a slow truncation as a truncation, not a restart', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const lines: string[] = []
    // No restart (restartFrames far away); a WAL over 4 KiB is cut back at the lull after the
    // burst, and with slowMs 0 every one is logged.
    const checkpointer = startCheckpointer(t.db, t.file, (l) => lines.push(l), {
      everyMs: 10,
      restartFrames: 1_000_000,
      walLimitBytes: 4096,
      slowMs: 0,
    })
    cleanups.push(() => checkpointer.stop())
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    for (let i = 0; i < 200; i++) insert.run({ d: 'x'.repeat(2000) })
    await until(() => lines.some((l) => l.includes('WAL truncation')))
    expect(lines.find((l) => l.includes('WAL truncation'))).toMatch(
      /^database: a WAL truncation held writers back for \d+ ms \(\d+ frames; the disk was slow to sync\)$/,
    )
    expect(lines.some((l) => l.includes('WAL restart'))).toBe(false)
  })

  it('waits for the worker’s turn no longer than the connection’s busy budget', () => {
    const t = tempDb()
    cleanups.push(t.close)
    const turn = new Int32Array(new SharedArrayBuffer(4))
    shareWriterTurn(t.db, turn)
    cleanups.push(() => shareWriterTurn(t.db, null))
    // The turn is up and nobody will lower it (a worker stuck in its turn): the wait is bounded
    // by the budget the connection was given, here 200 ms, not the default 5 s.
    Atomics.store(turn, 0, 1)
    setBusyPolicy(t.db, { budgetMs: 200 })
    cleanups.push(() => setBusyPolicy(t.db, {}))
    const wait = vi.spyOn(Atomics, 'wait')
    cleanups.push(() => wait.mockRestore())
    expect(t.db.transaction(() => 'ran')()).toBe('ran')
    // What is left of the budget, 200 ms at most.
    expect(wait).toHaveBeenCalledWith(turn, 0, 1, expect.any(Number))
    const waited = wait.mock.calls[0]![3]!
    expect(waited).toBeGreaterThan(0)
    expect(waited).toBeLessThanOrEqual(200)
    // A budget of 0: no wait at all.
    wait.mockClear()
    setBusyPolicy(t.db, { budgetMs: 0 })
    expect(t.db.transaction(() => 'ran')()).toBe('ran')
    expect(wait).not.toHaveBeenCalled()
  })

  it('runs its thread only while something writes: started by a write, ended once idle', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, { everyMs: 10, idleMs: 50 })
    cleanups.push(() => checkpointer.stop())
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    // The migrations' frames were copied at start: nothing to do, no thread.
    expect(checkpointer.running()).toBe(false)
    const before = statSync(t.file).size
    for (let i = 0; i < 300; i++) insert.run({ d: 'x'.repeat(200) })
    await until(() => checkpointer.running())
    // It copied the writes before it ended.
    await until(() => !checkpointer.running())
    expect(statSync(t.file).size).toBeGreaterThan(before)
    // The next write starts it again.
    insert.run({ d: 'again' })
    await until(() => checkpointer.running())
  })

  it('copies at start what an earlier run left in the WAL', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    t.db.pragma('wal_autocheckpoint = 0')
    const insert = t.db.prepare(
      `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 'test', 'x', @d)`,
    )
    for (let i = 0; i < 300; i++) insert.run({ d: 'x'.repeat(200) })
    const before = statSync(t.file).size
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, { everyMs: 10, idleMs: 50 })
    cleanups.push(() => checkpointer.stop())
    expect(statSync(t.file).size).toBeGreaterThan(before)
    expect(checkpointer.running()).toBe(false)
  })

  it('keeps a process with nothing else to do alive until a running worker has stopped', () => {
    // The bench's visits section ended with exit 13 (an unsettled top-level await) in stop():
    // the unref'd worker was all that was left, so Node ended while waiting for it.
    const dir = mkdtempSync(path.join(tmpdir(), 'checkpointer-'))
    try {
      const script = `
        import { openDb, closeDb } from './src/db/open.ts'
        import { startCheckpointer } from './src/db/checkpointer.ts'
        const db = openDb(${JSON.stringify(path.join(dir, 'b.db'))})
        const c = startCheckpointer(db, db.name, () => {}, { everyMs: 5 })
        const insert = db.prepare("INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 't', 'x', 'y')")
        for (let i = 0; i < 50; i++) insert.run()
        while (!c.running()) await new Promise((r) => setTimeout(r, 5))
        await c.stop()
        closeDb(db)
        console.log('stopped')
      `
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          encoding: 'utf8',
        },
      )
      expect({ status: r.status, out: r.stdout.trim(), err: r.stderr }).toEqual({
        status: 0,
        out: 'stopped',
        err: '',
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('gives checkpointing back to the main connection when stopped', async () => {
    const t = tempDb()
    cleanups.push(t.close)
    const checkpointer = startCheckpointer(t.db, t.file, () => {}, 50)
    await checkpointer.stop()
    expect(t.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000)
  })
})
