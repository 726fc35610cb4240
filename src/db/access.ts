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
}

/** Prepared statements over authorizations. */
export function accessStatements(db: Db) {
  const live = db.prepare(
    `SELECT * FROM authorizations WHERE mac = @mac AND ended_at IS NULL AND ends_at > @now
     ORDER BY starts_at DESC LIMIT 1`,
  )
  const allLive = db.prepare(
    `SELECT * FROM authorizations WHERE ended_at IS NULL AND ends_at > @now ORDER BY mac`,
  )
  const insert = db.prepare(
    `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason)
     VALUES (@mac, @customerId, @now, @until, @reason)`,
  )
  const end = db.prepare(
    `UPDATE authorizations SET ended_at = @now, end_reason = @reason WHERE mac = @mac AND ended_at IS NULL`,
  )
  return {
    live: (mac: string, now: number) => live.get({ mac, now }) as AuthorizationRow | undefined,
    allLive: (now: number) => allLive.all({ now }) as AuthorizationRow[],
    grant: (a: {
      mac: string
      customerId: number | null
      now: number
      until: number
      reason: string
    }) => insert.run(a),
    endFor: (mac: string, now: number, reason: string) => end.run({ mac, now, reason }).changes,
  }
}
export type AccessStatements = ReturnType<typeof accessStatements>
