import { performance } from 'node:perf_hooks'
import type { Clock } from '../clock.js'
import type { Db } from '../db/open.js'
import type { VisitStatements } from '../db/visits.js'
import type { Mac } from '../mac.js'
import type { VisitBook } from './book.js'
import { createPresenceRows, standingAt } from './presence-rows.js'
import {
  addSighting,
  clockStepMs,
  planLatest,
  type ClockReading,
  type SweepPlan,
  type VisitPolicy,
} from './rules.js'

/**
 * How far a stored last-seen time (a device's, or an open visit's last activity) may lag what the
 * tracker knows, at most (ms). The tracker keeps the exact times in memory, plans and closes visits
 * with them, and writes a present device's row only when it falls a step behind (each row on its
 * own phase, so a crowd that arrived together spreads over the following sweeps). With sweeps every
 * 30 s a sweep then writes a tenth of the present rows instead of half (issue 20: each write also
 * moves the console's indexes). Arrivals, departures and closed visits are written when they
 * happen. A clean stop writes everything (`flush`); a crash loses at most this much of each time.
 */
export const SEEN_FLUSH_MS = 5 * 60_000

/**
 * The step for a visit policy: `SEEN_FLUSH_MS`, or a third of the idle gap when that is shorter,
 * so a quick restart after a crash never reads a present customer as gone for the idle gap.
 */
export function seenStepMs(policy: Pick<VisitPolicy, 'idleMs'>): number {
  return Math.max(1000, Math.min(SEEN_FLUSH_MS, Math.floor(policy.idleMs / 3)))
}

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

/**
 * The exact times the tracker keeps in memory between the writes of a step: open visits' last
 * activity (visit id → UTC ms) and devices' last seen (MAC → UTC ms), each newer than the stored
 * one. Made by the composition root (`createServices`) and handed both to the tracker, which owns
 * the writes, and to the visit book, so a login's `arrive` decides with the time the tracker
 * would have used (it reads it through `KnownActivity`, src/visits/book.ts).
 */
export function createPresenceMemory() {
  const visits = new Map<string, number>()
  const devices = new Map<Mac, number>()
  return {
    visits,
    devices,
    /** An open visit's last activity known here and not yet written, or undefined. */
    visit: (id: string): number | undefined => visits.get(id),
    /** A device's last seen known here and not yet written, or undefined. */
    device: (mac: string): number | undefined => devices.get(mac as Mac),
  }
}
export type PresenceMemory = ReturnType<typeof createPresenceMemory>

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
  /** How far stored times may lag (ms); `seenStepMs(policy)` when absent (`presenceStepOf` in services). */
  stepMs?: number
  /** Where the exact times live between writes; shared with the visit book (`services.presenceMemory`). Default: its own. */
  memory?: PresenceMemory
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
  /**
   * What this sweep read from the database because it had changed since the last sweep (another
   * writer, a restart, a clock step); the rest came from memory.
   */
  reread: { visits: boolean; devices: boolean }
  /**
   * Rows written, and why. `visits` = opened + closed + visitsBehind; `devices` = devicesBehind
   * + devicesGone. A present device whose stored time is less than a step behind costs nothing.
   */
  written: {
    visits: number
    devices: number
    /** Visits opened (inserted) and closed. */
    opened: number
    closed: number
    /** Open visits whose stored last activity fell a step behind (or crossed its phase). */
    visitsBehind: number
    /** Devices whose stored last seen fell a step behind: arrivals after a step, and the rest on their phase. */
    devicesBehind: number
    /** Devices that left the sample (no neighbour entry, no traffic) with a newer time known here. */
    devicesGone: number
  }
}

/**
 * Samples presence and keeps visits true. Each sweep reads the source once, then reads, plans and
 * writes in ONE transaction. Open visits live in the database, so they survive a restart: the first
 * sweep after one closes, at their last activity, those whose gap exceeded the idle time. Between
 * sweeps the open visits and tracked devices stay in memory, and a sweep reads again only what
 * another writer changed (src/visits/presence-rows.ts).
 *
 * What a sweep writes: a visit when it opens or closes; a stored time (an open visit's last
 * activity, a device's last seen) when it falls `seenStepMs` behind what is known here, or when the
 * device leaves. The exact times live here in between; `flush` writes them at a clean stop, and a
 * crash loses at most one step of each (docs/bench.md, "What a crash can lose").
 */
export function createPresenceTracker(deps: PresenceTrackerDeps) {
  const step = deps.stepMs ?? seenStepMs(deps.policy)
  let previous: ClockReading | null = null
  let running = false
  const memory = deps.memory ?? createPresenceMemory()
  /** Open visits' last activity known here but not yet written (visit id → UTC ms). */
  const known = memory.visits
  /** Tracked devices' last seen known here but not yet written (MAC → UTC ms). */
  const knownDevices = memory.devices
  let last: SweepReport | null = null
  /** Open visits and tracked devices, kept between sweeps and read again only when they changed. */
  const rows = createPresenceRows({ visits: deps.visits, phaseOf })

  /** Writes every last activity known here; inside the caller's transaction. */
  function writeKnown(): number {
    const n = deps.visits.touchMany([...known])
    known.clear()
    const d = deps.visits.touchDevices([...knownDevices])
    knownDevices.clear()
    return n + d
  }

  async function sweep(now: number): Promise<SweepReport> {
    // Read together with `now`, before the source is awaited: a slow command must not read as a step.
    const reading = { wall: now, mono: deps.monotonic.now() }
    const s0 = performance.now()
    const seen = await deps.source.sample(now)
    const s1 = performance.now()
    const before = previous
    const clockStep = clockStepMs(before, reading)
    const reason = before === null ? 'restart' : 'absent'
    let dbMs = 0
    let cpuMs = 0
    const rememberSince = now - deps.policy.rememberMs
    let fresh = { visits: false, devices: false }
    const sweepOnce = deps.db.transaction(() => {
      let t = performance.now()
      // The clock jumped (NTP step): shift open visits with it so their durations stay true.
      // What is known here is on the old clock too: written first, shifted with the rest.
      if (clockStep !== 0 && before) {
        writeKnown()
        deps.visits.rebaseOpen(clockStep, before.wall, now)
      }
      // Open visits and tracked devices as the database has them: from memory, read again only
      // what another writer (or the rebase above) changed since the last sweep.
      fresh = rows.refresh(now, rememberSince, known)
      let u = performance.now()
      dbMs += u - t
      t = u

      // Each visitor's latest usable sign of life (`latestPerCustomer`), built as devices match.
      const latest = new Map<number, number>()
      const staffSeen: Mac[] = []
      const touchedDevices: Array<[string, number]> = []
      let devicesGone = 0
      let knownAndSeen = 0
      for (const [mac, at] of seen) {
        const d = rows.devices.get(mac)
        const s = d === undefined ? undefined : standingAt(d, now, rememberSince)
        const row = s?.tracked ? d : undefined
        if (row) {
          // A device's last seen serves the device list and idle revocation (minutes): written
          // when it falls a step behind, kept here in between.
          const seenAt = Math.min(at, now)
          const mine = knownDevices.get(mac)
          const lastSeen = mine !== undefined && mine > seenAt ? mine : seenAt
          if (lastSeen <= row.stored) knownDevices.delete(mac)
          else if (stepDue(row.stored, lastSeen, step, row.phase)) {
            touchedDevices.push([mac, lastSeen])
            knownDevices.delete(mac)
          } else {
            knownDevices.set(mac, lastSeen)
            knownAndSeen++
          }
        }
        if (deps.staffMacs.has(mac) || row?.isStaff) staffSeen.push(mac)
        else if (row && s!.counts && s!.visitor !== null)
          addSighting(latest, s!.visitor, at, now, deps.policy)
      }
      // A device that left the sample: its last seen is final, written now. (None left when
      // every device known here was just seen: no need to look.)
      if (knownDevices.size > knownAndSeen)
        for (const [mac, at] of knownDevices) {
          if (seen.has(mac)) continue
          touchedDevices.push([mac, at])
          knownDevices.delete(mac)
          devicesGone++
        }
      // Planned with the exact last activity: the stored one, or what is known here if newer.
      const plan = planLatest(rows.open.values(), latest, now, deps.policy, reason)
      // The memory takes what is written below as the statements write it (MAX); should the
      // writes fail, the sweep forgets it all (see the catch below). Visits are written by the
      // rowid the memory read them with (touchKnown).
      const touched: Array<SweepPlan['touched'][number] & { rowid: number }> = []
      for (const v of plan.touched) {
        const e = rows.open.get(v.id)!
        if (stepDue(e.stored, v.lastSeenAt, step, e.phase)) {
          touched.push({ id: v.id, rowid: e.rowid, lastSeenAt: v.lastSeenAt })
          known.delete(v.id)
          if (v.lastSeenAt > e.stored) e.stored = v.lastSeenAt
        } else known.set(v.id, v.lastSeenAt)
        e.lastSeenAt = v.lastSeenAt
      }
      for (const c of plan.closed) {
        known.delete(c.id)
        rows.open.delete(c.id)
      }
      for (const [mac, at] of touchedDevices) {
        const d = rows.devices.get(mac)
        if (d && at > d.stored) d.stored = at
      }
      u = performance.now()
      cpuMs += u - t
      t = u

      const { openedIds, openedRowids } = deps.book.apply({ ...plan, touched: [] })
      deps.visits.touchKnown(touched)
      deps.visits.touchDevices(touchedDevices)
      plan.opened.forEach((o, i) => {
        const id = openedIds[i]!
        const rowid = openedRowids[i]!
        rows.open.set(id, { id, ...o, stored: o.lastSeenAt, phase: phaseOf(id), rowid })
      })
      // Our own writes moved the change counts: the memory matches them.
      rows.settle()
      dbMs += performance.now() - t
      const written = {
        visits: plan.opened.length + plan.closed.length + touched.length,
        devices: touchedDevices.length,
        opened: plan.opened.length,
        closed: plan.closed.length,
        visitsBehind: touched.length,
        devicesBehind: touchedDevices.length - devicesGone,
        devicesGone,
      }
      return {
        at: now,
        present: seen.size,
        opened: plan.opened.length,
        touched: plan.touched.length,
        closed: plan.closed.length,
        staffSeen,
        clockStepMs: clockStep,
        written,
      }
    })
    let report: ReturnType<typeof sweepOnce>
    try {
      report = sweepOnce()
    } catch (err) {
      // Rolled back: what the memory took from this sweep was never written.
      rows.forget()
      throw err
    }
    previous = reading
    if (clockStep !== 0)
      deps.log?.(
        `presence: the clock stepped by ${Math.round(clockStep / 1000)} s; open visits shifted with it`,
      )
    last = { ...report, sourceMs: s1 - s0, cpuMs, dbMs, reread: fresh }
    return last
  }

  return {
    sweep,
    /** The step this tracker writes stored times on (ms): what a crash can lose, at most. */
    stepMs: step,
    /** Writes the last activity and last seen known here (at a clean stop); rows written. */
    flush(): number {
      return deps.db.transaction(writeKnown)()
    },
    /** How many times the open visits and the tracked devices were read from the database. */
    reads: rows.reads,
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
