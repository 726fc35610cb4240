import cron, { type ScheduledTask } from 'node-cron'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import type { SmsStatements } from './db/sms.js'
import {
  admitStaff,
  expireSessions,
  revokeIdle,
  staffMacsOf,
  type SessionJobDeps,
} from './access/session-jobs.js'
import type { Allowance } from './access/allowance.js'
import { pruneSmsRecords } from './sms/metrics.js'
import type { FirewallCheck } from './observe/firewall-check.js'
import { secondsSince, type Metrics } from './observe/metrics.js'
import type { SyncJob } from './sync/schedule.js'
import type { PresenceTracker } from './visits/presence.js'
import type { Retention } from './privacy/retention.js'

/** What the background jobs work with, handed in by main.ts. */
export interface JobDeps {
  tracker: PresenceTracker
  session: SessionJobDeps
  sms: SmsStatements
  /** The CRM sync (src/sync/schedule.ts): the per-branch offset and the retry timer live there. */
  sync: SyncJob
  /** The daily privacy job (src/privacy/retention.ts): retention, block then delete. */
  retention: Pick<Retention, 'run'>
  /** The daily allowance (src/access/allowance.ts). */
  allowance: Pick<Allowance, 'sweep'>
  log: (line: string) => void
  /** Watching the box (issue 13): the sweep's time, and the firewall compared with the database. */
  metrics?: Metrics
  firewallCheck?: FirewallCheck
}

/**
 * When a job runs: every `everyMs` milliseconds, or at the times of a cron expression read in the
 * branch's time zone (node-cron syntax, e.g. '17 3 * * *' for 03:17 every day). `atStart` runs
 * it once as the process starts, too.
 */
export type JobSchedule = { everyMs: number; atStart: boolean } | { cron: string; atStart: boolean }

/** One background job: a name, when it runs, and a plain function tests call directly. */
export interface Job {
  name: string
  schedule: (config: Config) => JobSchedule
  run(deps: JobDeps, now: number): Promise<unknown>
}

/** The background jobs, as a table. */
export const JOBS: Job[] = [
  {
    // Also at start: closes, at their last activity, the visits a downtime interrupted.
    name: 'presence',
    schedule: (c) => ({ everyMs: c.presence.intervalSeconds * 1000, atStart: true }),
    async run(deps, now) {
      const t0 = performance.now()
      const report = await deps.tracker.sweepUnlessBusy(now)
      if (report) deps.metrics?.timing({ op: 'presence' }, secondsSince(t0))
      if (report && report.staffSeen.length) await admitStaff(deps.session, report.staffSeen, now)
      return report
    },
  },
  {
    // The kernel's per-device byte counts added to each holder's day; used-up days slowed.
    name: 'allowance',
    schedule: (c) => ({ everyMs: c.presence.intervalSeconds * 1000, atStart: false }),
    run: (deps, now) => deps.allowance.sweep(now),
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
    run: (deps, now) => {
      // The devices table carries the config's staff too, so every report can leave them out.
      deps.session.sessions.syncConfigStaff(deps.session.staffMacs, now)
      return admitStaff(deps.session, staffMacsOf(deps.session), now)
    },
  },
  {
    // Also at start (after the branch's offset): a branch back from a power cut catches up.
    name: 'sync',
    schedule: (c) => ({ cron: c.sync.schedule, atStart: true }),
    run: (deps) => deps.sync.tick(),
  },
  {
    // Retention, block then delete (privacy.retention). Also at start: a run a restart or a
    // kill interrupted is finished, and a box back from days off catches up (capped per run).
    name: 'privacy',
    schedule: () => ({ cron: '41 3 * * *', atStart: true }),
    run: (deps, now) => deps.retention.run(now),
  },
  {
    // The firewall's set against the database, for the metrics and readiness (off the scrape).
    name: 'firewall-check',
    schedule: () => ({ everyMs: 60_000, atStart: true }),
    run: async (deps, now) => deps.firewallCheck?.run(now) ?? null,
  },
  {
    // Provider tries and ended holds older than 90 days (src/sms/metrics.ts).
    name: 'sms-prune',
    schedule: () => ({ cron: '17 3 * * *', atStart: false }),
    run: async (deps, now) => pruneSmsRecords(deps.sms, now),
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
  const tasks: ScheduledTask[] = []
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
    const when = job.schedule(config)
    if (when.atStart) tick(job)
    if ('cron' in when) {
      tasks.push(
        cron.schedule(when.cron, () => tick(job), {
          name: job.name,
          timezone: config.branch.timeZone,
        }),
      )
    } else {
      timers.push(setInterval(() => tick(job), when.everyMs))
    }
  }
  return {
    async stop() {
      stopped = true
      for (const t of timers) clearInterval(t)
      await Promise.all(tasks.map((t) => t.destroy()))
      await Promise.allSettled([...running.values()])
    },
  }
}
