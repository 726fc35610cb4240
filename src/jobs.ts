import type { Clock } from './clock.js'
import type { Config } from './config.js'
import {
  admitStaff,
  expireSessions,
  revokeIdle,
  staffMacsOf,
  type SessionJobDeps,
} from './gate/session-jobs.js'
import type { PresenceTracker } from './visits/presence.js'

/** What the background jobs work with, handed in by main.ts. */
export interface JobDeps {
  tracker: PresenceTracker
  session: SessionJobDeps
  log: (line: string) => void
}

/** One background job: a name, when it runs, and a plain function tests call directly. */
export interface Job {
  name: string
  schedule: (config: Config) => { everyMs: number; atStart: boolean }
  run(deps: JobDeps, now: number): Promise<unknown>
}

/** The background jobs, as a table. */
export const JOBS: Job[] = [
  {
    // Also at start: closes, at their last activity, the visits a downtime interrupted.
    name: 'presence',
    schedule: (c) => ({ everyMs: c.presence.intervalSeconds * 1000, atStart: true }),
    async run(deps, now) {
      const report = await deps.tracker.sweepUnlessBusy(now)
      if (report && report.staffSeen.length) await admitStaff(deps.session, report.staffSeen, now)
      return report
    },
  },
  {
    name: 'session-expiry',
    schedule: () => ({ everyMs: 60_000, atStart: true }),
    run: (deps, now) => expireSessions(deps.session, now),
  },
  {
    name: 'session-idle',
    schedule: () => ({ everyMs: 60_000, atStart: false }),
    run: (deps, now) => revokeIdle(deps.session, now),
  },
  {
    // Staff get through without the portal from the start; the presence job admits them when seen.
    name: 'staff',
    schedule: () => ({ everyMs: 3_600_000, atStart: true }),
    run: (deps, now) => admitStaff(deps.session, staffMacsOf(deps.session), now),
  },
]

/** Runs the jobs on timers. A run still going makes the next tick of that job a no-op. */
export function startJobs(
  jobs: readonly Job[],
  deps: JobDeps,
  config: Config,
  clock: Clock,
): { stop(): Promise<void> } {
  const running = new Map<string, Promise<unknown>>()
  const timers: NodeJS.Timeout[] = []
  let stopped = false
  const tick = (job: Job) => {
    if (stopped || running.has(job.name)) return
    const p = job
      .run(deps, clock.now())
      .catch((err) => deps.log(`job ${job.name} failed: ${(err as Error).stack ?? err}`))
      .finally(() => running.delete(job.name))
    running.set(job.name, p)
  }
  for (const job of jobs) {
    const { everyMs, atStart } = job.schedule(config)
    if (atStart) tick(job)
    timers.push(setInterval(() => tick(job), everyMs))
  }
  return {
    async stop() {
      stopped = true
      for (const t of timers) clearInterval(t)
      await Promise.allSettled([...running.values()])
    },
  }
}
