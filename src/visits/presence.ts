import { performance } from 'node:perf_hooks'
import type { Clock } from '../clock.js'
import type { Db } from '../db/open.js'
import type { TrackedDeviceRow, VisitStatements } from '../db/visits.js'
import type { Mac } from '../mac.js'
import type { VisitBook } from './book.js'
import {
  clockStepMs,
  planSweep,
  type ClockReading,
  type OpenVisit,
  type Sighting,
  type VisitPolicy,
} from './rules.js'

/** How stale a device's stored last-seen time may get before a sweep writes it again (ms). */
export const DEVICE_SEEN_STEP_MS = 60_000

/**
 * Where signs of life come from. The real one combines the kernel's neighbour table and the
 * firewall's per-MAC counters (src/visits/kernel-presence.ts); tests hand in a fake.
 */
export interface PresenceSource {
  /**
   * The devices showing a sign of life, each with the time of its last activity (UTC epoch ms,
   * at most `now`). A device absent from the map showed none.
   */
  sample(now: number): Promise<Map<Mac, number>>
}

export interface PresenceTrackerDeps {
  db: Db
  source: PresenceSource
  visits: VisitStatements
  book: VisitBook
  policy: VisitPolicy & {
    /** A device verified this long ago or less may open a visit without live access (remember.days). */
    rememberMs: number
  }
  /** Staff devices from the config; devices marked `is_staff` count too. Never in visit figures. */
  staffMacs: ReadonlySet<string>
  /** Time that never jumps (process uptime), to tell a clock step from time passing. */
  monotonic: Clock
  log?: (line: string) => void
}

/** What one sweep saw and did, with its cost. */
export interface SweepReport {
  at: number
  /** Devices with a sign of life. */
  present: number
  opened: number
  touched: number
  closed: number
  /** Staff devices seen (they may need letting through). */
  staffSeen: Mac[]
  /** Wall-clock step detected since the previous sweep (ms), 0 when none. */
  clockStepMs: number
  /** Reading the sources (commands, firewall). */
  sourceMs: number
  /** Work in JavaScript: matching devices to customers and planning. */
  cpuMs: number
  /** Time in SQLite: reads and the one write transaction. */
  dbMs: number
}

/**
 * Samples presence and keeps visits true. Each sweep reads the source once, then reads, plans and
 * writes in ONE transaction. Open visits live only in the database, so they survive a restart:
 * the first sweep after one closes, at their last activity, those whose gap exceeded the idle time.
 */
export function createPresenceTracker(deps: PresenceTrackerDeps) {
  let previous: ClockReading | null = null
  let running = false
  let last: SweepReport | null = null

  function isStaff(mac: string, row: TrackedDeviceRow | undefined): boolean {
    return deps.staffMacs.has(mac) || row?.is_staff === 1
  }

  async function sweep(now: number): Promise<SweepReport> {
    // Read together with `now`, before the source is awaited: a slow command must not read as a step.
    const reading = { wall: now, mono: deps.monotonic.now() }
    const s0 = performance.now()
    const seen = await deps.source.sample(now)
    const s1 = performance.now()
    const before = previous
    const step = clockStepMs(before, reading)
    const reason = before === null ? 'restart' : 'absent'
    let dbMs = 0
    let cpuMs = 0
    const report = deps.db.transaction(() => {
      let t = performance.now()
      // The clock jumped (NTP step): shift open visits with it so their durations stay true.
      if (step !== 0 && before) deps.visits.rebaseOpen(step, before.wall, now)
      const tracked = deps.visits.tracked(now, now - deps.policy.rememberMs)
      const openRows = deps.visits.openAll()
      let u = performance.now()
      dbMs += u - t
      t = u

      const byMac = new Map<string, TrackedDeviceRow>()
      for (const row of tracked) byMac.set(row.mac, row)
      const sightings: Sighting[] = []
      const staffSeen: Mac[] = []
      const touchedDevices: Array<[string, number]> = []
      for (const [mac, at] of seen) {
        const row = byMac.get(mac)
        // A device's last seen serves the device list and idle revocation (minutes): writing it
        // once a minute is enough, and halves the writes of a sweep.
        const seenAt = Math.min(at, now)
        if (row && seenAt - row.last_seen_at >= DEVICE_SEEN_STEP_MS)
          touchedDevices.push([mac, seenAt])
        if (isStaff(mac, row)) staffSeen.push(mac)
        else if (row && row.counts === 1 && row.customer_id !== null)
          sightings.push({ customerId: row.customer_id, at })
      }
      const open: OpenVisit[] = openRows.map((r) => ({
        id: r.id,
        customerId: r.customer_id,
        startedAt: r.started_at,
        lastSeenAt: r.last_seen_at,
      }))
      const plan = planSweep(open, sightings, now, deps.policy, reason)
      u = performance.now()
      cpuMs += u - t
      t = u

      deps.book.apply(plan)
      for (const [mac, at] of touchedDevices) deps.visits.touchDevice(mac, at)
      dbMs += performance.now() - t
      return {
        at: now,
        present: seen.size,
        opened: plan.opened.length,
        touched: plan.touched.length,
        closed: plan.closed.length,
        staffSeen,
        clockStepMs: step,
      }
    })()
    previous = reading
    if (step !== 0)
      deps.log?.(
        `presence: the clock stepped by ${Math.round(step / 1000)} s; open visits shifted with it`,
      )
    last = { ...report, sourceMs: s1 - s0, cpuMs, dbMs }
    return last
  }

  return {
    sweep,
    /** The last sweep's report (the metrics' devices present), or null before the first. */
    lastSweep: (): SweepReport | null => last,
    /** Like `sweep`, but a sweep still running (slow command) makes this one a no-op (null). */
    async sweepUnlessBusy(now: number): Promise<SweepReport | null> {
      if (running) return null
      running = true
      try {
        return await sweep(now)
      } finally {
        running = false
      }
    },
  }
}
export type PresenceTracker = ReturnType<typeof createPresenceTracker>
