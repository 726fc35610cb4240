import { createHash } from 'node:crypto'
import cron from 'node-cron'
import type { Clock } from '../clock.js'
import type { SyncRunner } from './run.js'

/**
 * The regular sync: a node-cron tick, then a per-branch offset so hundreds of branches on the
 * same expression don't reach the CRM in the same second. After a transient failure the next
 * try is scheduled at the backoff time (it may come before the next tick); ticks inside the
 * backoff window are skipped by the run itself.
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

export interface SyncSchedule {
  stop(): Promise<void>
}

export function startSyncSchedule(deps: {
  expression: string
  offsetSeconds: number
  runner: SyncRunner
  clock: Clock
  log: (line: string) => void
}): SyncSchedule {
  const timers = new Set<NodeJS.Timeout>()
  let retryTimer: NodeJS.Timeout | null = null
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    t.unref()
    timers.add(t)
    return t
  }
  const tick = () =>
    syncTick({
      ...deps,
      retryAt: (at) => {
        if (retryTimer) clearTimeout(retryTimer)
        retryTimer = later(Math.max(0, at - deps.clock.now()), () => void tick())
      },
    })
  const task = cron.schedule(deps.expression, () => {
    later(deps.offsetSeconds * 1000, () => void tick())
  })
  deps.log(`sync: schedule "${deps.expression}" + ${deps.offsetSeconds} s offset for this branch`)
  return {
    async stop() {
      await task.stop()
      for (const t of timers) clearTimeout(t)
      timers.clear()
      await deps.runner.stop()
    },
  }
}
