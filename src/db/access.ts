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

/** Prepared statements over authorizations. */
export function accessStatements(db: Db) {
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
    live: (mac: string, now: number) => live.get({ mac, now }) as AuthorizationRow | undefined,
    allLive: (now: number) => allLive.all({ now }) as AuthorizationRow[],
    grant: (a: GrantRow) =>
      insert.run({ ...a, slowed: a.slowed ? 1 : 0, notice: a.notice ? 1 : 0 }),
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
