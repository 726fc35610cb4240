import { OS_FAMILIES, type OsFamily } from '../os-family.js'
import type { Db } from './open.js'

/** How a customer arrived: new, returning on a device already theirs, or on a new address. */
export type ArrivalKind = 'new-customer' | 'known-device' | 'new-address'

/** OS families the console tells apart, read from the User-Agent by the one reader. */
export { OS_FAMILIES, type OsFamily }

/** Per OS family, in a period: returning arrivals, and those on a new address. */
export interface ArrivalsByOs {
  osFamily: OsFamily
  /** Arrivals of customers seen before (known device or new address). */
  returning: number
  /** Of those, on an address (MAC) the customer had never used. */
  newAddress: number
  /** Customers new to the branch. */
  newCustomers: number
}

/** Prepared statements over device_arrivals (migration 012). */
export function arrivalStatements(db: Db) {
  const insert = db.prepare(
    `INSERT INTO device_arrivals (at, customer_id, kind, os_family) VALUES (@at, @customerId, @kind, @osFamily)`,
  )
  const byOs = db.prepare(
    `SELECT os_family AS osFamily,
            SUM(kind <> 'new-customer') AS "returning",
            SUM(kind = 'new-address') AS newAddress,
            SUM(kind = 'new-customer') AS newCustomers
     FROM device_arrivals WHERE at >= @from AND at < @to GROUP BY os_family`,
  )
  return {
    record: (a: { at: number; customerId: number; kind: ArrivalKind; osFamily: OsFamily }) =>
      insert.run(a),
    /** Every OS family, in OS_FAMILIES order, zeros included, over [from, to). */
    byOsFamily(from: number, to: number): ArrivalsByOs[] {
      const rows = new Map(
        (byOs.all({ from, to }) as ArrivalsByOs[]).map((r) => [r.osFamily, r] as const),
      )
      return OS_FAMILIES.map(
        (osFamily) =>
          rows.get(osFamily) ?? { osFamily, returning: 0, newAddress: 0, newCustomers: 0 },
      )
    },
  }
}
export type ArrivalStatements = ReturnType<typeof arrivalStatements>
