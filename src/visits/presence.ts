import { performance } from 'node:perf_hooks'
import type { Clock } from '../clock.js'
import type { Db } from '../db/open.js'
import type { TrackedDeviceTuple, VisitStatements } from '../db/visits.js'
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
 * How far an open visit's stored last activity may lag what the tracker knows (ms). The tracker
 * keeps the exact time in memory, plans and closes visits with it, and writes it once per step:
 * a sweep of thousands of present devices then writes a share of them instead of all (each
 * write also moves two console indexes). A crash loses at most this much of an open visit's
 * end; a clean stop writes everything (`flush`).
 */
export const VISIT_SEEN_STEP_MS = 60_000

/** A fixed fraction in [0, 1) per key (FNV-1a), so rows on a step fall due in different sweeps. */
export function phaseOf(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) / 2 ** 32
}

/**
 * Whether a time stored as `stored` must be written again now that it is `at`: when it lags by
 * a whole step, or when `at` crossed one of the row's own step boundaries (shifted by its
 * phase). Each row is then written about once per step, and rows that became due together (a
 * crowd arriving in one sweep) spread over the following sweeps.
 */
export function stepDue(stored: number, at: number, stepMs: number, phase: number): boolean {
  if (at <= stored) return false
  return (
    at - stored >= stepMs || Math.floor(at / stepMs + phase) > Math.floor(stored / stepMs + phase)
  )
}

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
  /** Rows written: open visits' last activity, devices' last seen (the others wait for their step). */
  written: { visits: number; devices: number }
}

/**
 * Samples presence and keeps visits true. Each sweep reads the source once, then reads, plans and
 * writes in ONE transaction. Open visits live only in the database, so they survive a restart:
 * the first sweep after one closes, at their last activity, those whose gap exceeded the idle time.
 */
export function createPresenceTracker(deps: PresenceTrackerDeps) {
  let previous: ClockReading | null = null
  let running = false
  /** Open visits' last activity known here but not yet written (visit id → UTC ms). */
  let known = new Map<string, number>()
  let last: SweepReport | null = null

  /** Writes every last activity known here; inside the caller's transaction. */
  function writeKnown(): number {
    const n = deps.visits.touchMany([...known])
    known = new Map()
    return n
  }

  function isStaff(mac: string, row: TrackedDeviceTuple | undefined): boolean {
    return deps.staffMacs.has(mac) || row?.[2] === 1
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
      // What is known here is on the old clock too: written first, shifted with the rest.
      if (step !== 0 && before) {
        writeKnown()
        deps.visits.rebaseOpen(step, before.wall, now)
      }
      const tracked = deps.visits.tracked(now, now - deps.policy.rememberMs)
      const openRows = deps.visits.openAll()
      let u = performance.now()
      dbMs += u - t
      t = u

      const byMac = new Map<string, TrackedDeviceTuple>()
      for (const row of tracked) byMac.set(row[0], row)
      const sightings: Sighting[] = []
      const staffSeen: Mac[] = []
      const touchedDevices: Array<[string, number]> = []
      for (const [mac, at] of seen) {
        const row = byMac.get(mac)
        // A device's last seen serves the device list and idle revocation (minutes): writing it
        // once a minute is enough, and halves the writes of a sweep.
        const seenAt = Math.min(at, now)
        if (row && stepDue(row[3], seenAt, DEVICE_SEEN_STEP_MS, phaseOf(mac)))
          touchedDevices.push([mac, seenAt])
        if (isStaff(mac, row)) staffSeen.push(mac)
        else if (row && row[4] === 1 && row[1] !== null) sightings.push({ customerId: row[1], at })
      }
      // Planned with the exact last activity: the stored one, or what is known here if newer.
      const stored = new Map<string, number>()
      const stillKnown = new Map<string, number>()
      const open: OpenVisit[] = openRows.map(([id, customerId, startedAt, lastSeenAt]) => {
        stored.set(id, lastSeenAt)
        const mine = known.get(id)
        if (mine !== undefined && mine > lastSeenAt) stillKnown.set(id, mine)
        return { id, customerId, startedAt, lastSeenAt: Math.max(lastSeenAt, mine ?? 0) }
      })
      // Visits closed by someone else (a login's arrive) are forgotten here.
      known = stillKnown
      const plan = planSweep(open, sightings, now, deps.policy, reason)
      const touched = plan.touched.filter((v) => {
        if (stepDue(stored.get(v.id)!, v.lastSeenAt, VISIT_SEEN_STEP_MS, phaseOf(v.id))) {
          known.delete(v.id)
          return true
        }
        known.set(v.id, v.lastSeenAt)
        return false
      })
      for (const c of plan.closed) known.delete(c.id)
      u = performance.now()
      cpuMs += u - t
      t = u

      deps.book.apply({ ...plan, touched })
      deps.visits.touchDevices(touchedDevices)
      dbMs += performance.now() - t
      return {
        at: now,
        present: seen.size,
        opened: plan.opened.length,
        touched: plan.touched.length,
        closed: plan.closed.length,
        staffSeen,
        clockStepMs: step,
        written: { visits: touched.length, devices: touchedDevices.length },
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
    /** Writes the last activity known here of every open visit (at a clean stop). */
    flush(): number {
      return deps.db.transaction(writeKnown)()
    },
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
