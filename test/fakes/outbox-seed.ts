import type { Db } from '../../src/db/open.js'
import { customerRecord, customerVerified, visitClosed } from '../../src/sync/events.js'
import { appendEvent, macPolicy } from '../../src/sync/outbox.js'

const noMacs = macPolicy('omit', '')

/** The E.164 number of the n-th seeded customer. */
export const seededPhone = (n: number) => `+5255${String(10_000_000 + n).slice(-8)}`

/**
 * Writes `count` events as the product would (customer.verified and visit.closed, round-robin
 * over `customers`), `perTransaction` at a time. Returns the ids in the order written, with the
 * customer each belongs to.
 */
export function seedEvents(
  db: Db,
  p: {
    count: number
    customers: number
    branchId?: string
    startAt?: number
    perTransaction?: number
    nameBytes?: number
    /** Subjects stored as keyed hashes, as the service's outbox writes them (issue 20). */
    subjectKey?: Buffer
  },
): Array<{ id: string; phone: string }> {
  const written: Array<{ id: string; phone: string }> = []
  const per = p.perTransaction ?? 1000
  const t0 = p.startAt ?? Date.parse('2026-03-02T15:00:00Z')
  const pad = 'x'.repeat(p.nameBytes ?? 0)
  const write = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const n = i % p.customers
      const phone = seededPhone(n)
      const customer = customerRecord(
        {
          phone_e164: phone,
          name: `Cliente ${n}${pad}`,
          locale: 'es',
          first_verified_at: t0,
          last_verified_at: t0 + i,
        },
        n % 2 === 0,
      )
      const e =
        i % 3 === 2
          ? visitClosed({
              visit: {
                id: `visit-${i}`,
                branchId: p.branchId ?? 'b1',
                startedAt: t0,
                endedAt: t0 + i * 1000,
                endReason: 'idle',
              },
              customer,
            })
          : customerVerified({
              customer,
              firstTime: i < p.customers,
              mac: '3a:11:22:33:44:55',
              now: t0 + i,
              macs: noMacs,
            })
      written.push({ id: appendEvent(db, p.branchId ?? 'b1', e, undefined, p.subjectKey), phone })
    }
  })
  for (let i = 0; i < p.count; i += per) write(i, Math.min(p.count, i + per))
  return written
}
