import { closeSync, openSync, readSync } from 'node:fs'
import { endianness } from 'node:os'
import type { Db } from './open.js'

export interface AuthorizationRow {
  id: number
  mac: string
  customer_id: number | null
  starts_at: number
  ends_at: number
  reason: string
  ended_at: number | null
  end_reason: string | null
  /** 'verified' | 'unverified' | 'pass' | 'staff' | 'manual' (src/access/tiers.ts). */
  tier: string
  /** kbit/s each way in the kernel; null: none of its own. */
  down_kbps: number | null
  up_kbps: number | null
  /** 1 while held at the allowance's floor. */
  slowed: 0 | 1
  /** 1 while the device's next plain-HTTP request is to go to the portal. */
  notice: 0 | 1
  extensions: number
  pass_id: number | null
}

/** What a new authorization carries besides its MAC, holder and times. */
export interface GrantRow {
  mac: string
  customerId: number | null
  now: number
  until: number
  reason: string
  tier: string
  downKbps: number | null
  upKbps: number | null
  slowed: boolean
  notice: boolean
  extensions: number
  passId: number | null
}

/** A MAC's live authorization (see accessStatements' `live`). */
export const LIVE_AUTHORIZATION_SQL = `SELECT * FROM authorizations
  WHERE mac = @mac AND ended_at IS NULL AND ends_at > @now ORDER BY id DESC LIMIT 1`

/**
 * The MACs that may have a live authorization, known without a read (issue 20: the splash's live
 * read was a tenth of its CPU, and most requests come from phones never let through).
 *
 * Exact across connections: a row becomes live only by being inserted (a grant; nothing sets
 * `ended_at` back to NULL or moves `ends_at` later). This connection's grants put their MAC here
 * as they are written; another connection's (the CLI's `allow`, another process or thread) change
 * `PRAGMA data_version`, and the set is then read again. A MAC in the set may have nothing live
 * any more (ended, ran out): the caller's read says so.
 *
 * `PRAGMA data_version` opens a read transaction, which costs nearly what the read it saves does
 * (two lock calls on the -shm file: 8 of the live read's 11 µs on the bench machine). So it is
 * asked only when the WAL index header changed: the first 96 bytes of the -shm file, SQLite's
 * two copies of the header, which every commit of any connection rewrites (walformat.html,
 * "the WAL-index header"). One pread, read before data_version, so a commit after it changes the
 * header seen next time. Without a -shm file, or with a header version this code does not know,
 * data_version is asked every time.
 *
 * Any other connection's commit (the sync's batches, the console worker's imports; not the
 * checkpointer's WAL restarts, which leave data_version alone) reads the set again: O(open
 * authorizations), ~0.1 ms for a few hundred. A grant counter kept by a trigger (a migration)
 * would narrow that to other connections' grants.
 *
 * The header is looked at once per turn of the event loop, not per call: under load a turn
 * answers many requests, and each look is a system call (~2 µs idle; the pread was 8 % of the
 * service's CPU profile through the real gate, issue 20). So another connection's commit is seen
 * from the next turn at the latest (a fraction of a millisecond under load). The service's other
 * writers are other threads and processes (the CLI's `allow`, the console worker; it opens one
 * connection on its main thread), for which that is the same as their commit landing a moment
 * later. This connection's own grants are in the set at once, as before.
 */
export function liveMacs(db: Db) {
  const version = db.prepare('PRAGMA data_version').pluck()
  // The partial index authorizations_live holds exactly these: read without the table.
  const open = db.prepare('SELECT DISTINCT mac FROM authorizations WHERE ended_at IS NULL').pluck()
  let seen: unknown = null
  let macs = new Set<string>()
  let loaded = 0
  const index = walIndexHeader(db)
  /** Whether the header was looked at in this turn of the event loop. */
  let looked = false
  const nextTurn = () => {
    looked = false
  }
  const current = () => {
    if (looked) return macs
    if (index) {
      looked = true
      setImmediate(nextTurn).unref()
      if (index.unchanged()) return macs
    }
    // The version first: a commit landing between the two reads shows next time.
    const v = version.get()
    // Also read again once this connection's own grants doubled the set: ended ones leave it.
    if (v !== seen || macs.size > 2 * loaded + 1000) {
      seen = v
      macs = new Set(open.all() as string[])
      loaded = macs.size
    }
    return macs
  }
  return {
    /** false: the MAC has no live authorization now, for certain. */
    mayHave: (mac: string) => current().has(mac),
    /** This connection is granting the MAC access (before its commit: a rollback leaves it). */
    granted: (mac: string) => {
      current().add(mac)
    },
  }
}

/** SQLite's WAL-index format version (WALINDEX_MAX_VERSION), the header's first field. */
const WAL_INDEX_VERSION = 3007000
/** Two copies of the 48-byte WalIndexHdr. */
const WAL_INDEX_HEADER_BYTES = 96

/**
 * Whether no connection committed since the last call: the WAL index header (the start of the
 * -shm file) byte for byte the same. Null when it cannot be read this way. The file is opened on
 * first use and closed once the connection is.
 */
function walIndexHeader(db: Db): { unchanged(): boolean } | null {
  if (db.memory || !db.name) return null
  let fd: number | null = null
  const now = Buffer.alloc(WAL_INDEX_HEADER_BYTES)
  const last = Buffer.alloc(WAL_INDEX_HEADER_BYTES)
  let usable = true
  // The header is in the machine's own byte order.
  const versionOf = (b: Buffer) => (endianness() === 'LE' ? b.readUInt32LE(0) : b.readUInt32BE(0))
  return {
    unchanged() {
      if (!usable) return false
      if (!db.open) {
        if (fd !== null) closeSync(fd)
        usable = false
        return false
      }
      try {
        fd ??= openSync(`${db.name}-shm`, 'r')
        const n = readSync(fd, now, 0, WAL_INDEX_HEADER_BYTES, 0)
        const v = n >= 4 ? versionOf(now) : 0
        if (n < WAL_INDEX_HEADER_BYTES || v !== WAL_INDEX_VERSION) {
          // Not yet written (a new file): ask SQLite. A layout this code does not know: always.
          if (v !== 0) usable = false
          return false
        }
      } catch {
        usable = false
        return false
      }
      if (now.equals(last)) return true
      now.copy(last)
      return false
    },
  }
}

/** Prepared statements over authorizations. */
export function accessStatements(db: Db) {
  const liveOnes = liveMacs(db)
  // The newest by id (ids grow with each grant, and a grant ends the MAC's others first): read in
  // the index's order. ORDER BY starts_at sorted in a temporary B-tree on every read, and this read
  // runs on every splash page, probe and login (issue 20: 11 % of the splash's CPU profile).
  const live = db.prepare(LIVE_AUTHORIZATION_SQL)
  const allLive = db.prepare(
    `SELECT * FROM authorizations WHERE ended_at IS NULL AND ends_at > @now ORDER BY mac`,
  )
  const insert = db.prepare(
    `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason, tier, down_kbps,
       up_kbps, slowed, notice, extensions, pass_id)
     VALUES (@mac, @customerId, @now, @until, @reason, @tier, @downKbps, @upKbps, @slowed,
       @notice, @extensions, @passId)`,
  )
  const end = db.prepare(
    `UPDATE authorizations SET ended_at = @now, end_reason = @reason WHERE mac = @mac AND ended_at IS NULL`,
  )
  const setRate = db.prepare(
    `UPDATE authorizations SET down_kbps = @downKbps, up_kbps = @upKbps, slowed = @slowed,
       notice = CASE WHEN @slowed = 1 THEN 1 ELSE 0 END
     WHERE id = @id`,
  )
  const clearNotice = db.prepare(
    `UPDATE authorizations SET notice = 0 WHERE mac = @mac AND ended_at IS NULL AND notice = 1`,
  )
  const forgetCounter = db.prepare(`DELETE FROM device_counters WHERE mac = @mac`)
  const forgetCounters = db.prepare(`DELETE FROM device_counters`)
  return {
    live: (mac: string, now: number) =>
      liveOnes.mayHave(mac) ? (live.get({ mac, now }) as AuthorizationRow | undefined) : undefined,
    allLive: (now: number) => allLive.all({ now }) as AuthorizationRow[],
    grant: (a: GrantRow) => {
      liveOnes.granted(a.mac)
      return insert.run({ ...a, slowed: a.slowed ? 1 : 0, notice: a.notice ? 1 : 0 })
    },
    endFor: (mac: string, now: number, reason: string) => end.run({ mac, now, reason }).changes,
    /** A live authorization's new rate; slowed ones get a notice to show, others lose theirs. */
    setRate: (r: { id: number; downKbps: number | null; upKbps: number | null; slowed: boolean }) =>
      setRate.run({ ...r, slowed: r.slowed ? 1 : 0 }).changes,
    /** The device was told what it had to be told. */
    clearNotice: (mac: string) => clearNotice.run({ mac }).changes,
    /** The kernel's byte counts of the MAC restarted (it was cut off): forget the last reading. */
    forgetCounter: (mac: string) => forgetCounter.run({ mac }),
    /** Every device's kernel byte counts restarted (the table was rebuilt). */
    forgetCounters: () => forgetCounters.run(),
  }
}
export type AccessStatements = ReturnType<typeof accessStatements>
