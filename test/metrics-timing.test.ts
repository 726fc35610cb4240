import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { JOBS, type JobDeps } from '../src/jobs.js'
import type { Metrics, TimedOperation } from '../src/observe/metrics.js'
import type { CrmAdapter } from '../src/sync/adapter.js'
import { createSyncRunner } from '../src/sync/run.js'
import { FakeClock } from './fakes/clock.js'
import { seedEvents } from './fakes/outbox-seed.js'
import { tempDb } from './helpers.js'

/** Metrics that keep what they were told. */
class RecordingMetrics implements Metrics {
  readonly timings: Array<{ t: TimedOperation; seconds: number }> = []
  funnel() {}
  refusal() {}
  smsAttempt() {}
  timing(t: TimedOperation, seconds: number) {
    this.timings.push({ t, seconds })
  }
}

let t: ReturnType<typeof tempDb>
afterEach(() => t?.close())

describe('the timed operations outside the portal', () => {
  it('times each CRM batch by its outcome', async () => {
    t = tempDb()
    seedEvents(t.db, { count: 5, customers: 2 })
    const metrics = new RecordingMetrics()
    const answers: Array<Awaited<ReturnType<CrmAdapter['deliver']>>> = [
      { kind: 'transient', error: 'CRM down', retryAfterMs: null },
      { kind: 'acked' },
    ]
    const clock = new FakeClock()
    const runner = createSyncRunner({
      db: t.db,
      adapter: { name: 'fake', deliver: async () => answers.shift()! },
      clock,
      config: loadConfig(null).sync,
      branchId: 'b1',
      log: () => {},
      random: () => 0,
      metrics,
    })
    expect((await runner.run()).status).toBe('failed')
    expect((await runner.run({ force: true })).status).toBe('done')
    expect(metrics.timings.map((x) => x.t)).toEqual([
      { op: 'sync', outcome: 'transient' },
      { op: 'sync', outcome: 'acked' },
    ])
    for (const x of metrics.timings) expect(x.seconds).toBeGreaterThanOrEqual(0)
  })

  it('times a presence sweep, and not a sweep skipped because one still runs', async () => {
    const metrics = new RecordingMetrics()
    const presence = JOBS.find((j) => j.name === 'presence')!
    let busy = false
    const report = { staffSeen: [] }
    const deps = {
      tracker: { sweepUnlessBusy: async () => (busy ? null : report) },
      metrics,
    } as unknown as JobDeps
    await presence.run(deps, 0)
    busy = true
    await presence.run(deps, 1)
    expect(metrics.timings.map((x) => x.t)).toEqual([{ op: 'presence' }])
  })
})
