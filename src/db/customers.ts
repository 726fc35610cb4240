import type { Db } from './open.js'

export interface CustomerRow {
  id: number
  phone_e164: string
  name: string
  locale: string
  first_verified_at: number
  last_verified_at: number
  updated_at: number
}

/** Prepared statements over customers, devices and consents. */
export function customerStatements(db: Db) {
  const byPhone = db.prepare(`SELECT * FROM customers WHERE phone_e164 = ?`)
  const byId = db.prepare(`SELECT * FROM customers WHERE id = ?`)
  const insert = db.prepare(
    `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@phone, @name, @locale, @now, @now, @now) RETURNING *`,
  )
  const verifiedAgain = db.prepare(
    `UPDATE customers SET name = @name, locale = @locale, last_verified_at = @now, updated_at = @now
     WHERE id = @id RETURNING *`,
  )
  // Only called when a code was just verified from this MAC: that is what verified_at records.
  const upsertDevice = db.prepare(
    `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at)
     VALUES (@mac, @customerId, @now, @now, @now)
     ON CONFLICT (mac) DO UPDATE SET customer_id = excluded.customer_id,
       last_seen_at = MAX(last_seen_at, excluded.last_seen_at), verified_at = excluded.verified_at`,
  )
  const deviceWithCustomer = db.prepare(
    `SELECT d.mac, d.is_staff, d.verified_at, c.id AS customer_id, c.name, c.locale, c.last_verified_at,
            (SELECT notice_version FROM consents WHERE customer_id = c.id
             ORDER BY given_at DESC, id DESC LIMIT 1) AS notice_version
     FROM devices d LEFT JOIN customers c ON c.id = d.customer_id WHERE d.mac = ?`,
  )
  const linkedMacs = db
    .prepare(`SELECT mac FROM devices WHERE customer_id IS NOT NULL OR is_staff = 1`)
    .pluck()
  const seenDevice = db.prepare(
    `UPDATE devices SET last_seen_at = MAX(last_seen_at, @now) WHERE mac = @mac`,
  )
  const devicesOf = db.prepare(
    `SELECT mac, first_seen_at, last_seen_at, is_staff FROM devices WHERE customer_id = ? ORDER BY first_seen_at`,
  )
  const insertConsent = db.prepare(
    `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
     VALUES (@customerId, @noticeVersion, @purposes, @now, @branchId, @mac, @locale)`,
  )
  const consentsOf = db.prepare(
    `SELECT notice_version, purposes, given_at, branch_id, locale, withdrawn_at FROM consents
     WHERE customer_id = ? ORDER BY given_at`,
  )
  // Withdrawal ends the voluntary purpose (marketing) of every consent that had it; the necessary
  // purpose (service) ends only with cancellation (blocking).
  const withdrawMarketing = db.prepare(
    `UPDATE consents SET withdrawn_at = @now
     WHERE customer_id = @id AND withdrawn_at IS NULL
       AND EXISTS (SELECT 1 FROM json_each(consents.purposes) WHERE value = 'marketing')`,
  )
  const rename = db.prepare(
    `UPDATE customers SET name = @name, updated_at = @now WHERE id = @id RETURNING *`,
  )
  return {
    /** Rectifies the customer's name. */
    rename: (id: number, name: string, now: number) => rename.get({ id, name, now }) as CustomerRow,
    /** Marks the customer's marketing consents withdrawn; returns how many were. */
    withdrawMarketing: (id: number, now: number) => withdrawMarketing.run({ id, now }).changes,
    byPhone: (phone: string) => byPhone.get(phone) as CustomerRow | undefined,
    byId: (id: number) => byId.get(id) as CustomerRow | undefined,
    /** Creates the customer for a newly verified number, or refreshes the one that exists. */
    verified(p: { phone: string; name: string; locale: string; now: number }): {
      customer: CustomerRow
      created: boolean
    } {
      const existing = byPhone.get(p.phone) as CustomerRow | undefined
      if (existing) {
        return {
          customer: verifiedAgain.get({ ...p, id: existing.id }) as CustomerRow,
          created: false,
        }
      }
      return { customer: insert.get(p) as CustomerRow, created: true }
    },
    /** Links a MAC a code was just verified from to its customer (first seen kept). */
    linkDevice: (mac: string, customerId: number, now: number) =>
      upsertDevice.run({ mac, customerId, now }),
    /** MACs of every device linked to a customer or marked as staff. */
    linkedMacs: () => linkedMacs.all() as string[],
    /** The device and its customer, if any: one indexed read, for the portal's first page. */
    deviceWithCustomer: (mac: string) =>
      deviceWithCustomer.get(mac) as
        | {
            mac: string
            is_staff: 0 | 1
            verified_at: number | null
            customer_id: number | null
            name: string | null
            locale: string | null
            last_verified_at: number | null
            /** The privacy notice version of the customer's latest consent (issue 18). */
            notice_version: string | null
          }
        | undefined,
    /** The device was seen now (welcome back without a code). */
    seenDevice: (mac: string, now: number) => seenDevice.run({ mac, now }),
    devicesOf: (customerId: number) =>
      devicesOf.all(customerId) as Array<{
        mac: string
        first_seen_at: number
        last_seen_at: number
        is_staff: number
      }>,
    recordConsent: (c: {
      customerId: number
      noticeVersion: string
      purposes: string[]
      now: number
      branchId: string
      mac: string
      locale: string
    }) => insertConsent.run({ ...c, purposes: JSON.stringify(c.purposes) }),
    consentsOf: (customerId: number) =>
      consentsOf.all(customerId) as Array<{
        notice_version: string
        purposes: string
        given_at: number
        branch_id: string
        locale: string
        withdrawn_at: number | null
      }>,
  }
}
export type CustomerStatements = ReturnType<typeof customerStatements>
