import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../src/config.js'
import { JOBS, startJobs, type Job, type JobDeps } from '../src/jobs.js'
import { FakeClock } from './fakes/clock.js'

afterEach(() => vi.useRealTimers())

describe('background jobs', () => {
  it('lists presence, allowance, expiry, idle, staff, sync, privacy and pruning, with presence and allowance every presence.intervalSeconds', () => {
    const config = loadConfig(JSON.stringify({ presence: { intervalSeconds: 20 } }))
    expect(JOBS.map((j) => j.name)).toEqual([
      'presence',
      'allowance',
      'session-expiry',
      'session-idle',
      'staff',
      'sync',
      'privacy',
      'firewall-check',
      'sms-prune',
    ])
    expect(JOBS.find((j) => j.name === 'sync')!.schedule(config)).toEqual({
      cron: '*/5 * * * *',
      atStart: true,
    })
    // Retention daily, and at every start: a run a kill interrupted is finished then.
    expect(JOBS.find((j) => j.name === 'privacy')!.schedule(config)).toEqual({
      cron: '41 3 * * *',
      atStart: true,
    })
    expect(JOBS.find((j) => j.name === 'sms-prune')!.schedule(config)).toEqual({
      cron: '17 3 * * *',
      atStart: false,
    })
    expect(JOBS[0]!.schedule(config)).toEqual({ everyMs: 20_000, atStart: true })
    expect(JOBS[1]!.schedule(config)).toEqual({ everyMs: 20_000, atStart: false })
  })

  it('runs a job at start and on its schedule, never two runs of one job at once, and waits for it on stop', async () => {
    vi.useFakeTimers()
    const clock = new FakeClock()
    const runs: number[] = []
    let release: () => void = () => {}
    const job: Job = {
      name: 'slow',
      schedule: () => ({ everyMs: 1000, atStart: true }),
      run: (_deps, now) => {
        runs.push(now)
        return new Promise<void>((r) => (release = r))
      },
    }
    const deps = { log: () => {} } as unknown as JobDeps
    const handle = startJobs([job], deps, loadConfig(null), clock)
    expect(runs).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(3000) // still running: the ticks are skipped
    expect(runs).toHaveLength(1)
    release()
    await vi.advanceTimersByTimeAsync(1000)
    expect(runs).toHaveLength(2)
    let stopped = false
    const stopping = handle.stop().then(() => (stopped = true))
    await vi.advanceTimersByTimeAsync(0)
    expect(stopped).toBe(false)
    release()
    await stopping
    await vi.advanceTimersByTimeAsync(5000)
    expect(runs).toHaveLength(2)
  })

  it('logs a failing run and keeps the schedule', async () => {
    vi.useFakeTimers()
    const logs: string[] = []
    let n = 0
    const job: Job = {
      name: 'flaky',
      schedule: () => ({ everyMs: 1000, atStart: false }),
      run: async () => {
        if (++n === 1) throw new Error('ip: not found')
      },
    }
    const handle = startJobs(
      [job],
      { log: (l: string) => logs.push(l) } as unknown as JobDeps,
      loadConfig(null),
      new FakeClock(),
    )
    await vi.advanceTimersByTimeAsync(2000)
    expect(n).toBe(2)
    expect(logs.join('\n')).toMatch(/job flaky failed: Error: ip: not found/)
    await handle.stop()
  })

  it('runs a cron job at its times in the branch time zone, and not after stop', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-03-02T08:59:58Z') }) // 02:59:58 in Mexico City
    const runs: number[] = []
    const job: Job = {
      name: 'at-three',
      schedule: () => ({ cron: '0 3 * * *', atStart: false }),
      run: async (_deps, now) => void runs.push(now),
    }
    const clock = { now: () => Date.now() }
    const handle = startJobs(
      [job],
      { log: () => {} } as unknown as JobDeps,
      loadConfig(null),
      clock,
    )
    await vi.advanceTimersByTimeAsync(1000)
    expect(runs).toEqual([])
    await vi.advanceTimersByTimeAsync(2000)
    expect(runs.map((t) => new Date(t).toISOString().slice(0, 19))).toEqual(['2026-03-02T09:00:00'])
    await handle.stop()
    await vi.advanceTimersByTimeAsync(86_400_000)
    expect(runs).toHaveLength(1)
  })
})
