import type { Db } from './open.js'

/** One device let through now, with the customer's name when known. */
export interface LiveDevice {
  mac: string
  customer_id: number | null
  customer_name: string | null
  starts_at: number
  ends_at: number
  reason: string
}

/** Prepared statements for `branchgate status`. */
export function gateStatusStatements(db: Db) {
  const live = db.prepare(
    `SELECT a.mac, a.customer_id, c.name AS customer_name, a.starts_at, a.ends_at, a.reason
       FROM authorizations a LEFT JOIN customers c ON c.id = a.customer_id
      WHERE a.ended_at IS NULL AND a.ends_at > @now
      ORDER BY a.ends_at, a.mac`,
  )
  return {
    live: (now: number) => live.all({ now }) as LiveDevice[],
  }
}
