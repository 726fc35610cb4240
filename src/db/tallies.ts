import { localDate } from '../time.js'
import type { Db } from './open.js'

/** A quarter of an hour: every time zone's offset is a multiple of it. */
export const TALLY_SLOT_MS = 15 * 60_000

/** One visit about to become a tally. Times are UTC epoch ms. */
export interface VisitToTally {
  started_at: number
  /** The end, or the last sighting of a visit that never ended. */
  ended_at: number
  /** 1 for a visit that never ended: counted as a visit, never in dwell (dwell_s -1). */
  open?: 0 | 1
}

/**
 * Visits turned into anonymous counts (tables visit_tallies, visitor_tallies, visitor_day_pairs
 * of migration 010). Each call must run inside the transaction that deletes the visits, so a
 * visit is either one row or one count, never both and never neither.
 */
export function tallyStatements(db: Db) {
  const addVisit = db.prepare(
    `INSERT INTO visit_tallies (slot_at, dwell_s, visits) VALUES (@slot, @dwell, @n)
     ON CONFLICT (slot_at, dwell_s) DO UPDATE SET visits = visits + excluded.visits`,
  )
  const addDay = db.prepare(
    `INSERT INTO visitor_tallies (day, visitors, first_time) VALUES (@day, 1, @first)
     ON CONFLICT (day) DO UPDATE SET visitors = visitors + 1, first_time = first_time + excluded.first_time`,
  )
  const addPair = db.prepare(
    `INSERT INTO visitor_day_pairs (from_day, to_day, visitors) VALUES (@from, @to, 1)
     ON CONFLICT (from_day, to_day) DO UPDATE SET visitors = visitors + 1`,
  )
  return {
    /**
     * Counts the visits of one customer (or of nobody: `customer` null, for visits whose
     * customer was erased before issue 15) in the tallies. `talliedThrough` is the last local
     * day of that customer's visits tallied before (null: none, so the earliest of these is their
     * first visit ever). Returns the last local day tallied now, or null when nothing was.
     */
    tally(
      visits: readonly VisitToTally[],
      customer: { talliedThrough: string | null } | null,
      timeZone: string,
    ): string | null {
      if (visits.length === 0) return null
      const slots = new Map<string, number>()
      const days = new Set<string>()
      for (const v of visits) {
        const slot =
          v.started_at - (((v.started_at % TALLY_SLOT_MS) + TALLY_SLOT_MS) % TALLY_SLOT_MS)
        // Integer seconds as the dashboard groups them (SQLite's integer division truncates).
        const dwell = v.open ? -1 : Math.trunc(Math.max(0, v.ended_at - v.started_at) / 1000)
        const key = `${slot} ${dwell}`
        slots.set(key, (slots.get(key) ?? 0) + 1)
        days.add(localDate(v.started_at, timeZone))
      }
      for (const [key, n] of slots) {
        const [slot, dwell] = key.split(' ').map(Number) as [number, number]
        addVisit.run({ slot, dwell, n })
      }
      if (!customer) return null
      const through = customer.talliedThrough
      // A day already counted for this customer (a time zone changed since) is not counted twice.
      const sorted = [...days].sort().filter((day) => through === null || day > through)
      let previous = through
      sorted.forEach((day, i) => {
        addDay.run({ day, first: i === 0 && through === null ? 1 : 0 })
        if (previous !== null) addPair.run({ from: previous, to: day })
        previous = day
      })
      return previous
    },
  }
}
export type TallyStatements = ReturnType<typeof tallyStatements>
