import { createHash } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { SyncRunner } from './run.js'

/**
 * The regular sync, a job of the jobs table (src/jobs.ts) on the `sync.schedule` cron expression:
 * each tick waits a per-branch offset so hundreds of branches on the same expression don't reach
 * the CRM in the same second. After a transient failure the next try is scheduled at the backoff
 * time (it may come before the next tick); ticks inside the backoff window are skipped by the
 * run itself.
 */

/** Seconds in [0, maxSeconds], fixed per branch id (same id, same offset, on every start). */
export function branchOffsetSeconds(branchId: string, maxSeconds: number): number {
  if (maxSeconds <= 0) return 0
  const n = createHash('sha256')
    .update(`branchgate sync offset:${branchId}`)
    .digest()
    .readUInt32BE(0)
  return n % (maxSeconds + 1)
}

/** The job body, callable without node-cron: one run, and the timer for a retry after a failure. */
export function syncTick(deps: {
  runner: SyncRunner
  clock: Clock
  log: (line: string) => void
  retryAt: (at: number) => void
}): Promise<void> {
  return deps.runner.run().then(
    (r) => {
      if (r.status === 'failed') deps.retryAt(r.nextAttemptAt)
      // A timer may fire a hair before the backoff ends: come back when it does.
      else if (r.status === 'backing-off') deps.retryAt(r.until)
    },
    (err) => deps.log(`sync: run failed unexpectedly: ${(err as Error).stack ?? err}`),
  )
}

/** The sync as the jobs table (src/jobs.ts) runs it on `sync.schedule`. */
export interface SyncJob {
  /** One cron tick: wait this branch's offset, then run; after a failure, retry at the backoff time. */
  tick(): Promise<void>
  /** Cancels the waits and timers and lets a batch in flight finish. */
  stop(): Promise<void>
}

export function createSyncJob(deps: {
  runner: SyncRunner
  offsetSeconds: number
  clock: Clock
  log: (line: string) => void
}): SyncJob & {
  /** Runs now, without the offset: live reload after a new CRM target, so what waited goes out. */
  runNow(): Promise<void>
} {
  let stopped = false
  let retryTimer: NodeJS.Timeout | null = null
  const waits = new Set<() => void>()
  // A wait that stop() ends at once, so shutting down never waits out an offset or a backoff.
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t)
        waits.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      t.unref()
      waits.add(done)
    })
  const runNow = (): Promise<void> => {
    if (stopped) return Promise.resolve()
    return syncTick({
      ...deps,
      retryAt: (at) => {
        if (retryTimer) clearTimeout(retryTimer)
        retryTimer = setTimeout(() => void runNow(), Math.max(0, at - deps.clock.now()))
        retryTimer.unref()
      },
    })
  }
  return {
    async tick() {
      if (stopped) return
      await wait(deps.offsetSeconds * 1000)
      await runNow()
    },
    runNow,
    async stop() {
      stopped = true
      if (retryTimer) clearTimeout(retryTimer)
      for (const end of [...waits]) end()
      await deps.runner.stop()
    },
  }
}
