import type { VisitReportRow } from '../db/visits.js'
import { averageDwellMs } from './rules.js'

/** The figures of a set of visits, as a manager reads them. */
export interface VisitFigures {
  visits: number
  /** Distinct customers (an erased customer counts once per visit). */
  customers: number
  /** Visits still open. */
  open: number
  /** Closed visits shorter than visits.minMinutes. */
  passBys: number
  /** Average dwell of closed visits in ms, pass-bys left out; null when there is none. */
  averageDwellMs: number | null
}

/** Sums up visits (e.g. `visitStatements(db).between(from, to)`) for the CLI and the console. */
export function visitFigures(rows: readonly VisitReportRow[]): VisitFigures {
  const closed = rows
    .filter((v) => v.ended_at !== null)
    .map((v) => ({ startedAt: v.started_at, endedAt: v.ended_at!, passBy: v.pass_by === 1 }))
  let erased = 0
  const known = new Set<number>()
  for (const v of rows) {
    if (v.customer_id === null) erased++
    else known.add(v.customer_id)
  }
  return {
    visits: rows.length,
    customers: known.size + erased,
    open: rows.length - closed.length,
    passBys: closed.filter((v) => v.passBy).length,
    averageDwellMs: averageDwellMs(closed),
  }
}
