import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import type { RunResult, SyncRunner } from '../src/sync/run.js'
import { branchOffsetSeconds, createSyncJob, syncTick } from '../src/sync/schedule.js'
import { FakeClock } from './fakes/clock.js'

describe('the sync schedule', () => {
  it('defaults to every 5 minutes with up to 240 s of per-branch offset', () => {
    const c = loadConfig(null).sync
    expect(c.schedule).toBe('*/5 * * * *')
    expect(c.offsetMaxSeconds).toBe(240)
  })

  it('gives each branch a fixed offset, and spreads many branches over the window', () => {
    expect(branchOffsetSeconds('mx-cdmx-001', 240)).toBe(branchOffsetSeconds('mx-cdmx-001', 240))
    const offsets = Array.from({ length: 500 }, (_, i) => branchOffsetSeconds(`branch-${i}`, 240))
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...offsets)).toBeLessThanOrEqual(240)
    // No second of the window gets more than a small crowd.
    const perSecond = new Map<number, number>()
    for (const o of offsets) perSecond.set(o, (perSecond.get(o) ?? 0) + 1)
    expect(perSecond.size).toBeGreaterThan(150)
    expect(Math.max(...perSecond.values())).toBeLessThan(10)
    expect(branchOffsetSeconds('any', 0)).toBe(0)
  })

  it('asks for a retry at the backoff time after a failed run, and not after a good one', async () => {
    const clock = new FakeClock()
    const results: RunResult[] = [
      {
        status: 'failed',
        delivered: 0,
        parked: 0,
        retried: 0,
        batches: 1,
        error: 'webhook answered 503',
        nextAttemptAt: clock.now() + 4000,
      },
      { status: 'done', delivered: 3, parked: 0, retried: 0, batches: 1 },
    ]
    const runner: SyncRunner = {
      run: async () => results.shift()!,
      retryParked: () => 0,
      stop: async () => {},
    }
    const retries: number[] = []
    const deps = { runner, clock, log: () => {}, retryAt: (at: number) => retries.push(at) }
    await syncTick(deps)
    await syncTick(deps)
    expect(retries).toEqual([clock.now() + 4000])
  })

  it('stops at once even while a tick waits out the branch offset, without running', async () => {
    let runs = 0
    let stopped = false
    const runner: SyncRunner = {
      run: async () => (
        runs++,
        { status: 'done', delivered: 0, parked: 0, retried: 0, batches: 0 }
      ),
      retryParked: () => 0,
      stop: async () => void (stopped = true),
    }
    const job = createSyncJob({
      runner,
      offsetSeconds: 3600,
      clock: new FakeClock(),
      log: () => {},
    })
    const tick = job.tick()
    await job.stop()
    await tick
    expect(runs).toBe(0)
    expect(stopped).toBe(true)
    await job.tick()
    expect(runs).toBe(0)
  })

  it('runs on a tick once the offset has passed', async () => {
    let runs = 0
    const runner: SyncRunner = {
      run: async () => (
        runs++,
        { status: 'done', delivered: 1, parked: 0, retried: 0, batches: 1 }
      ),
      retryParked: () => 0,
      stop: async () => {},
    }
    const job = createSyncJob({ runner, offsetSeconds: 0, clock: new FakeClock(), log: () => {} })
    await job.tick()
    expect(runs).toBe(1)
    await job.stop()
  })
})
