import type { VisitStatements } from '../db/visits.js'
import type { OpenVisit } from './rules.js'

/**
 * An open visit as the sweep keeps it: `lastSeenAt` is the exact last activity (what the tracker
 * knows, or the stored one), `stored` the one in the database, `phase` its write phase.
 */
export interface OpenVisitEntry extends OpenVisit {
  stored: number
  phase: number
  /** Its rowid when read (the sweep writes by it, `touchKnown`). */
  rowid: number
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
  /**
   * How long tracked devices read at one sweep serve later ones with nothing written (ms);
   * default an hour. Devices remembered beyond it are read without their authorizations.
   */
  horizonMs?: number
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
  const horizonMs = deps.horizonMs ?? 60 * 60_000
  /** Counts the memory matches; -1: not read yet (or forgotten). */
  let visitsCount = -1
  let devicesCount = -1
  /**
   * The sweep time tracked devices were read at, and until when they serve: an earlier time (the
   * clock went back) or a later one reads again.
   */
  let devicesReadAt = Infinity
  let devicesUntil = -Infinity
  const open = new Map<string, OpenVisitEntry & { read: number }>()
  const devices = new Map<string, TrackedDevice & { read: number }>()
  const reads = { visits: 0, devices: 0 }

  // A read updates the entries in place (their phases stay) and drops those it did not return.
  function readVisits(known: Map<string, number>) {
    const read = ++reads.visits
    for (const [id, customerId, startedAt, stored, rowid] of deps.visits.openAll()) {
      const mine = known.get(id)
      const lastSeenAt = mine !== undefined && mine > stored ? mine : stored
      const e = open.get(id)
      if (e) {
        e.customerId = customerId
        e.startedAt = startedAt
        e.lastSeenAt = lastSeenAt
        e.stored = stored
        e.rowid = rowid
        e.read = read
      } else
        open.set(id, {
          id,
          customerId,
          startedAt,
          lastSeenAt,
          stored,
          phase: deps.phaseOf(id),
          rowid,
          read,
        })
    }
    for (const [id, e] of open) if (e.read !== read) open.delete(id)
    // Visits closed by someone else (a login's arrive, the CLI, an erasure) are forgotten here.
    for (const [id, at] of known) {
      const e = open.get(id)
      if (!e || at <= e.stored) known.delete(id)
    }
  }

  function readDevices(now: number, rememberSince: number) {
    const read = ++reads.devices
    for (const row of deps.visits.trackedRows(now, rememberSince, now + horizonMs)) {
      const [mac, customerId, isStaff, stored, verifiedAt, liveUntil, passId, passUntil] = row
      let e = devices.get(mac)
      // Two live passes on one MAC: the one that lasts longer.
      if (e?.read === read && e.passUntil >= (passUntil ?? -Infinity)) continue
      if (!e) {
        e = { mac, phase: deps.phaseOf(mac) } as TrackedDevice & { read: number }
        devices.set(mac, e)
      }
      e.customerId = customerId
      e.isStaff = isStaff === 1
      e.stored = stored
      e.verifiedAt = verifiedAt
      e.liveUntil = liveUntil ?? -Infinity
      e.passId = passId
      e.passUntil = passUntil ?? -Infinity
      e.read = read
    }
    for (const [mac, e] of devices) if (e.read !== read) devices.delete(mac)
    devicesReadAt = now
    devicesUntil = now + horizonMs
  }

  return {
    /** Open visits by id, as in the database with the exact last activity. */
    open: open as Map<string, OpenVisitEntry>,
    /** Devices the sweep may count at some time from the last read on, by MAC. */
    devices: devices as Map<string, TrackedDevice>,
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
      if (d !== devicesCount || now < devicesReadAt || now >= devicesUntil) {
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
