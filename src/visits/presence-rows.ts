import type { TrackedDeviceRow, VisitStatements } from '../db/visits.js'
import type { OpenVisit } from './rules.js'

/**
 * An open visit as the sweep keeps it: `lastSeenAt` is the exact last activity (what the tracker
 * knows, or the stored one), `stored` the one in the database, `phase` its write phase.
 */
export interface OpenVisitEntry extends OpenVisit {
  stored: number
  phase: number
}

/** A device the sweep may count, with what decides whether it counts at a given time. */
export interface TrackedDevice {
  mac: string
  customerId: number | null
  isStaff: boolean
  /** last_seen_at in the database. */
  stored: number
  verifiedAt: number | null
  /** The latest end of its live authorizations (-Infinity: none). */
  liveUntil: number
  /** A live staff pass on it, and when that ends (-Infinity: none). */
  passId: number | null
  passUntil: number
  phase: number
}

/** Whether a device counts at `now`, and for whom: as `tracked` in src/db/visits.ts says. */
export function standingAt(
  d: TrackedDevice,
  now: number,
  rememberSince: number,
): { tracked: boolean; visitor: number | null; counts: boolean } {
  const live = d.liveUntil > now
  const remembered = d.customerId !== null && d.verifiedAt !== null && d.verifiedAt >= rememberSince
  const pass = d.passId !== null && d.passUntil > now
  return {
    tracked: d.isStaff || remembered || live,
    visitor: d.customerId ?? (pass ? -d.passId! : null),
    counts: d.customerId !== null ? remembered || live : pass,
  }
}

export interface PresenceRowsDeps {
  visits: Pick<VisitStatements, 'openAll' | 'trackedRows' | 'changeCounts'>
  /** The write phase of a visit id or a MAC (`phaseOf` in presence.ts). */
  phaseOf: (key: string) => number
}

/**
 * The open visits and tracked devices a presence sweep works on, kept in memory between sweeps
 * instead of read again (issue 20: the two reads of 5,000 rows were most of a sweep once its
 * writes were cut).
 *
 * Never stale: other processes write the same file (the CLI's allow, revoke and erase, the
 * console, retention), so each sweep first compares the database's change counts (migration 016:
 * moved by triggers on every change, by any connection) with those this memory matches, inside
 * the sweep's transaction, and reads again what moved. The sweep applies its own writes here as
 * it makes them and then `settle`s, in the same transaction: it holds the write lock (transactions
 * are IMMEDIATE, src/db/open.ts), so the counts it reads then moved by its own writes alone. A
 * sweep that fails `forget`s everything, and the next one reads afresh.
 */
export function createPresenceRows(deps: PresenceRowsDeps) {
  /** Counts the memory matches; -1: not read yet (or forgotten). */
  let visitsCount = -1
  let devicesCount = -1
  /** The sweep time tracked devices were read at: an earlier one (the clock went back) reads again. */
  let devicesReadAt = Infinity
  const open = new Map<string, OpenVisitEntry>()
  const devices = new Map<string, TrackedDevice>()
  const reads = { visits: 0, devices: 0 }

  function readVisits(known: Map<string, number>) {
    const before = new Map(open)
    open.clear()
    const stillKnown = new Map<string, number>()
    for (const [id, customerId, startedAt, stored] of deps.visits.openAll()) {
      const mine = known.get(id)
      let lastSeenAt = stored
      if (mine !== undefined && mine > stored) {
        stillKnown.set(id, mine)
        lastSeenAt = mine
      }
      open.set(id, {
        id,
        customerId,
        startedAt,
        lastSeenAt,
        stored,
        phase: before.get(id)?.phase ?? deps.phaseOf(id),
      })
    }
    // Visits closed by someone else (a login's arrive, the CLI, an erasure) are forgotten here.
    known.clear()
    for (const [id, at] of stillKnown) known.set(id, at)
    reads.visits++
  }

  function readDevices(now: number, rememberSince: number) {
    const before = new Map(devices)
    devices.clear()
    for (const row of deps.visits.trackedRows(now, rememberSince) as TrackedDeviceRow[]) {
      const [mac, customerId, isStaff, stored, verifiedAt, liveUntil, passId, passUntil] = row
      const had = devices.get(mac)
      // Two live passes on one MAC: the one that lasts longer.
      if (had && had.passUntil >= (passUntil ?? -Infinity)) continue
      devices.set(mac, {
        mac,
        customerId,
        isStaff: isStaff === 1,
        stored,
        verifiedAt,
        liveUntil: liveUntil ?? -Infinity,
        passId,
        passUntil: passUntil ?? -Infinity,
        phase: had?.phase ?? before.get(mac)?.phase ?? deps.phaseOf(mac),
      })
    }
    devicesReadAt = now
    reads.devices++
  }

  return {
    /** Open visits by id, as in the database with the exact last activity. */
    open,
    /** Devices the sweep may count at some time from the last read on, by MAC. */
    devices,
    /** How many times each was read from the database (tests, the bench). */
    reads,
    /**
     * Brings the memory up to the database, inside the sweep's transaction: reads again what
     * changed since. `known` is the tracker's exact last activity per open visit: kept for the
     * visits still open, dropped for the others.
     */
    refresh(now: number, rememberSince: number, known: Map<string, number>) {
      const [v, d] = deps.visits.changeCounts()
      const fresh = { visits: false, devices: false }
      if (v !== visitsCount) {
        readVisits(known)
        fresh.visits = true
      }
      if (d !== devicesCount || now < devicesReadAt) {
        readDevices(now, rememberSince)
        fresh.devices = true
      }
      visitsCount = v
      devicesCount = d
      return fresh
    },
    /** After the sweep's own writes (applied here too), in its transaction: their counts are ours. */
    settle() {
      ;[visitsCount, devicesCount] = deps.visits.changeCounts()
    },
    /** Drops what is known here: the next sweep reads everything (after a failed sweep). */
    forget() {
      visitsCount = -1
      devicesCount = -1
      open.clear()
      devices.clear()
    },
  }
}
export type PresenceRows = ReturnType<typeof createPresenceRows>
