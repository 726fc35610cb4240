import type { Db } from './open.js'

/** Prepared statements over data_usage and device_counters (the daily allowance, issue 17). */
export function allowanceStatements(db: Db) {
  const counter = db.prepare(`SELECT bytes FROM device_counters WHERE mac = @mac`)
  const setCounter = db.prepare(
    `INSERT INTO device_counters (mac, bytes) VALUES (@mac, @bytes)
     ON CONFLICT (mac) DO UPDATE SET bytes = excluded.bytes`,
  )
  const add = db.prepare(
    `INSERT INTO data_usage (holder, day, bytes) VALUES (@holder, @day, @bytes)
     ON CONFLICT (holder, day) DO UPDATE SET bytes = bytes + excluded.bytes`,
  )
  const used = db.prepare(`SELECT bytes FROM data_usage WHERE holder = @holder AND day = @day`)
  const markSlowed = db.prepare(
    `UPDATE data_usage SET slowed_at = @now WHERE holder = @holder AND day = @day AND slowed_at IS NULL`,
  )
  // Live authorizations with a holder, and that holder's bytes today.
  const liveHolders = db.prepare(
    `SELECT a.mac, a.tier, a.customer_id, a.pass_id, a.slowed,
            coalesce(u.bytes, 0) AS used
     FROM authorizations a
     LEFT JOIN data_usage u ON u.day = @day AND u.holder =
       CASE WHEN a.tier = 'verified' AND a.customer_id IS NOT NULL THEN 'c:' || a.customer_id
            WHEN a.tier = 'pass' AND a.pass_id IS NOT NULL THEN 'p:' || a.pass_id END
     WHERE a.ended_at IS NULL AND a.ends_at > @now
       AND ((a.tier = 'verified' AND a.customer_id IS NOT NULL)
         OR (a.tier = 'pass' AND a.pass_id IS NOT NULL))`,
  )
  const holderOfMac = db.prepare(
    `SELECT tier, customer_id, pass_id FROM authorizations
     WHERE mac = @mac AND ended_at IS NULL AND ends_at > @now ORDER BY starts_at DESC LIMIT 1`,
  )
  const byCustomers = db.prepare(
    `SELECT cast(substr(holder, 3) AS INTEGER) AS customer_id, bytes, slowed_at FROM data_usage
     WHERE day = @day AND holder LIKE 'c:%'`,
  )
  const prune = db.prepare(`DELETE FROM data_usage WHERE day < @before`)
  return {
    /** The device's kernel byte count as last read, or undefined. */
    counter: (mac: string) => (counter.get({ mac }) as { bytes: number } | undefined)?.bytes,
    setCounter: (mac: string, bytes: number) => setCounter.run({ mac, bytes }),
    /** Adds bytes to the holder's day. */
    add: (holder: string, day: string, bytes: number) => add.run({ holder, day, bytes }),
    /** Bytes the holder moved that day. */
    used: (holder: string, day: string) =>
      (used.get({ holder, day }) as { bytes: number } | undefined)?.bytes ?? 0,
    markSlowed: (holder: string, day: string, now: number) =>
      markSlowed.run({ holder, day, now }).changes,
    liveHolders: (day: string, now: number) =>
      liveHolders.all({ day, now }) as Array<{
        mac: string
        tier: string
        customer_id: number | null
        pass_id: number | null
        slowed: 0 | 1
        used: number
      }>,
    /** The live authorization of a MAC, as far as its holder goes. */
    holderOf: (mac: string, now: number) =>
      holderOfMac.get({ mac, now }) as
        { tier: string; customer_id: number | null; pass_id: number | null } | undefined,
    /** Every customer's bytes that day (the console). */
    customersOn: (day: string) =>
      byCustomers.all({ day }) as Array<{
        customer_id: number
        bytes: number
        slowed_at: number | null
      }>,
    /** Drops days before `before` (YYYY-MM-DD). */
    prune: (before: string) => prune.run({ before }).changes,
  }
}
export type AllowanceStatements = ReturnType<typeof allowanceStatements>
