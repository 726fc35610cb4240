import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { endianness } from 'node:os'
import { loadKoffi } from '../ffi.js'
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
 * The header is read where SQLite keeps it: the -shm file mapped into this process (read-only,
 * shared: the same pages every connection's commit writes), 96 bytes compared at each call,
 * ~50 ns and no system call. Where the mapping cannot be made (no koffi), one pread per turn of
 * the event loop instead (~2 µs each, plus the turn's setImmediate: under load a turn answers
 * many requests; the pread per call was 8 % of the service's CPU profile through the real gate,
 * issue 20), so another connection's commit is seen from the next turn at the latest. The
 * service's other writers are other threads and processes (the CLI's `allow`, the console
 * worker; it opens one connection on its main thread). This connection's own grants are in the
 * set at once.
 */
export function liveMacs(
  db: Db,
  /** false: read the header by pread, once a turn, as where it cannot be mapped (tests). */
  o: { map?: boolean } = {},
) {
  const version = db.prepare('PRAGMA data_version').pluck()
  // The partial index authorizations_live holds exactly these: read without the table.
  const open = db.prepare('SELECT DISTINCT mac FROM authorizations WHERE ended_at IS NULL').pluck()
  let seen: unknown = null
  let macs = new Set<string>()
  let loaded = 0
  const index = walIndexHeader(db, o.map ?? true)
  /** Whether the header was looked at in this turn of the event loop. */
  let looked = false
  const nextTurn = () => {
    looked = false
  }
  const current = () => {
    if (looked) return macs
    if (index) {
      if (!index.mapped) {
        looked = true
        setImmediate(nextTurn).unref()
      }
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
 * -shm file) byte for byte the same. Null when it cannot be read this way. `mapped`: read from
 * the file mapped into memory (no system call), else by pread. The file is opened (and mapped)
 * on first use, and let go once the connection is closed.
 */
function walIndexHeader(
  db: Db,
  map: boolean,
): { unchanged(): boolean; readonly mapped: boolean } | null {
  if (db.memory || !db.name) return null
  let fd: number | null = null
  let view: Uint8Array | null = null
  let unmap: (() => void) | null = null
  const buf = Buffer.alloc(WAL_INDEX_HEADER_BYTES)
  const last = Buffer.alloc(WAL_INDEX_HEADER_BYTES)
  let usable = true
  /** Whether the header is read from the mapping; asked on first use (koffi loads then). */
  let mapped: boolean | undefined
  const header = {
    get mapped() {
      return (mapped ??= map && mapping() !== null)
    },
    unchanged() {
      if (!usable) return false
      if (!db.open) {
        // Let go before another connection could be the first again (it truncates the file).
        unmap?.()
        if (fd !== null) closeSync(fd)
        usable = false
        return false
      }
      try {
        fd ??= openSync(`${db.name}-shm`, 'r')
        if (view === null && header.mapped) {
          // Mapped once SQLite has sized the file (32 KB at its first write): reading a mapped
          // page past the end of a file is a SIGBUS. No connection truncates it while this one
          // is open (it holds the file's shared lock).
          if (fstatSync(fd).size >= WAL_INDEX_HEADER_BYTES) {
            const m = mapping()!(fd)
            if (typeof m === 'string') mapped = false
            else ({ view, unmap } = m)
          }
        }
        let now: Uint8Array
        if (view !== null) now = view
        else {
          const n = readSync(fd, buf, 0, WAL_INDEX_HEADER_BYTES, 0)
          if (n < WAL_INDEX_HEADER_BYTES) return false
          now = buf
        }
        const v = versionOf(now)
        if (v !== WAL_INDEX_VERSION) {
          // Not yet written (a new file): ask SQLite. A layout this code does not know: always.
          if (v !== 0) usable = false
          return false
        }
        if (last.equals(now)) return true
        last.set(now)
        return false
      } catch {
        usable = false
        return false
      }
    },
  }
  return header
}

const LITTLE_ENDIAN = endianness() === 'LE'
/** The header is in the machine's own byte order. */
function versionOf(b: Uint8Array): number {
  return LITTLE_ENDIAN
    ? (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0
    : ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
}

const PROT_READ = 1
const MAP_SHARED = 1
const PAGE = 4096
let mapper: ((fd: number) => { view: Uint8Array; unmap: () => void } | string) | null | undefined

/** mmap through koffi (the first page of a file, read-only, shared), or null without koffi. */
function mapping() {
  if (mapper !== undefined) return mapper
  const k = loadKoffi()
  if (typeof k === 'string') return (mapper = null)
  try {
    const libc = k.load('libc.so.6')
    const mmap = libc.func(
      'void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)',
    ) as (
      addr: null,
      length: number,
      prot: number,
      flags: number,
      fd: number,
      offset: number,
    ) => unknown
    const munmap = libc.func('int munmap(void *addr, size_t length)') as (
      addr: unknown,
      length: number,
    ) => number
    mapper = (fd) => {
      const at = mmap(null, PAGE, PROT_READ, MAP_SHARED, fd, 0)
      const address = at === null ? 0n : k.address(at)
      // MAP_FAILED is (void *) -1.
      if (address === 0n || address === 0xffff_ffff_ffff_ffffn) return 'mmap failed'
      let mapped = true
      return {
        view: new Uint8Array(k.view(at, WAL_INDEX_HEADER_BYTES)),
        unmap: () => {
          if (mapped) munmap(at, PAGE)
          mapped = false
        },
      }
    }
  } catch {
    mapper = null
  }
  return mapper
}

/** Prepared statements over authorizations. */
export function accessStatements(
  db: Db,
  /** false: the WAL index header read by pread (tests: as where it cannot be mapped). */
  o: { mapWalIndex?: boolean } = {},
) {
  const liveOnes = liveMacs(db, { map: o.mapWalIndex ?? true })
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
