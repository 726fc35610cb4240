import type { Db } from '../db/open.js'
import { addDays, offsetSegments, type DateRange } from './time.js'

/** The visit rules the reports follow (from config: `visits.minMinutes`, `console.hereNowMinutes`). */
export interface VisitReportRules {
  /** A finished visit shorter than this many minutes is a pass-by: counted, but left out of dwell figures. */
  passByMinutes: number
  /** Minutes since an open visit was last seen for its customer to count as "here now". */
  hereNowMinutes: number
  timeZone: string
}

/** Dwell histogram buckets in minutes: [from, to). */
export const DWELL_BUCKETS: ReadonlyArray<{ from: number; to: number | null }> = [
  { from: 0, to: 5 },
  { from: 5, to: 15 },
  { from: 15, to: 30 },
  { from: 30, to: 60 },
  { from: 60, to: null },
]

export interface HereNow {
  visitId: string
  customerId: number | null
  name: string | null
  startedAt: number
  lastSeenAt: number
  minutes: number
}

export interface DashboardFigures {
  range: DateRange
  /** Visits started in the range, pass-bys included, staff left out. */
  visits: number
  /** Of `visits`, the finished ones shorter than `passByMinutes`. */
  passBys: number
  /** Distinct customers among `visits`. */
  customers: number
  /** Customers whose first visit ever falls in the range. */
  newCustomers: number
  returningCustomers: number
  medianDwellMinutes: number | null
  averageDwellMinutes: number | null
  /** Counts per DWELL_BUCKETS entry. */
  histogram: number[]
  /** heatmap[weekday][hour], weekday 0 = Monday, branch-local hours. */
  heatmap: number[][]
  /** One entry per day of the range, branch-local. */
  daily: Array<{ date: string; visits: number }>
  hereNow: HereNow[]
  /** Issue 17: access that was not an SMS-verified customer, counted apart. */
  tiers: {
    /** Grants of access without a code in the range (the SMS could not be sent). */
    withoutCode: number
    /** Of those, the devices that verified their number later. */
    withoutCodeUpgraded: number
    /** Visits on a staff pass started in the range (also in `visits`). */
    passVisits: number
    passesIssued: number
  }
}

// Visits in [@from, @to), staff customers left out, with their dwell. Dwell of an open visit runs
// to its last sighting. Staff are known by devices.is_staff (set by the visits feature).
const BASE = `
  staff(customer_id) AS (SELECT customer_id FROM devices WHERE is_staff = 1 AND customer_id IS NOT NULL),
  base AS (
    SELECT v.customer_id, v.started_at, v.ended_at IS NULL AS open,
           COALESCE(v.ended_at, v.last_seen_at) - v.started_at AS dwell_ms
    FROM visits v
    WHERE v.started_at >= @from AND v.started_at < @to
      AND (v.customer_id IS NULL OR v.customer_id NOT IN (SELECT customer_id FROM staff))
  )`

// One number per visit, so the scan hands back a plain array of numbers (no row objects): the
// dwell in whole seconds (truncated, as `dwell_ms / 1000`) times 2^32, plus the start in seconds
// after @from times 2, plus 1 when the visit is open. Exact in a double while |dwell| < 2^21 s
// (24 days) and the range < 68 years; a longer "dwell" is damaged data and is clamped to 24 days.
const PACK = 4294967296
const DWELL_CAP = 2_097_151

/** The dashboard's figures from one scan of the covering index on visits (and one for customers). */
export function createDashboard(db: Db, rules: VisitReportRules) {
  // Measured on a synthetic busy year (bench/console.ts): one scan whose rows are packed numbers,
  // counted in JS, takes a third of the time of the grouped scans it replaced (one GROUP BY the
  // dwell with its sort, one GROUP BY the local hour per offset segment).
  const visitsPacked = db
    .prepare(
      `WITH ${BASE}
    SELECT MIN(MAX(dwell_ms / 1000, -${DWELL_CAP}), ${DWELL_CAP}) * ${PACK}
           + ((started_at - CAST(@from AS INTEGER)) / 1000) * 2 + open
    FROM base`,
    )
    .pluck()
  // Distinct customers walk the per-customer index; "new" means no visit before the range.
  // A customer some of whose visits are tallies (privacy.retention.visitsMonths) is new only if
  // none is, and is counted once when their last tallied day is in the range too (`overlap`).
  const customers = db.prepare(`WITH ${BASE},
    seen(customer_id) AS (SELECT DISTINCT customer_id FROM base WHERE customer_id IS NOT NULL)
    SELECT COUNT(*) AS customers, COALESCE(SUM(c.tallied_through IS NULL AND NOT EXISTS (
      SELECT 1 FROM visits p WHERE p.customer_id = s.customer_id AND p.started_at < @from
    )), 0) AS fresh, COALESCE(SUM(c.tallied_through >= @fromDay), 0) AS overlap
    FROM seen s LEFT JOIN customers c ON c.id = s.customer_id`)
  // Visits kept only as anonymous tallies (deleted customers, visits past their retention):
  // src/db/tallies.ts. Their slots are quarter hours, so a range's local-midnight bounds and
  // every local hour cut them exactly.
  const talliedDwell = db.prepare(
    `SELECT MAX(dwell_s, 0) AS seconds, dwell_s < 0 AS open, SUM(visits) AS n FROM visit_tallies
     WHERE slot_at >= @from AND slot_at < @to GROUP BY dwell_s`,
  )
  const talliedByLocalHour = db.prepare(
    `SELECT (slot_at + CAST(@offset AS INTEGER)) / 3600000 AS localHour, SUM(visits) AS n
     FROM visit_tallies WHERE slot_at >= @from AND slot_at < @to GROUP BY localHour`,
  )
  // Distinct tallied customers in a range of days: their visit days in it, minus their pairs of
  // consecutive visit days both in it (a range holds a contiguous run of one customer's days).
  const talliedVisitors = db.prepare(
    `SELECT COALESCE(SUM(visitors), 0) AS days, COALESCE(SUM(first_time), 0) AS fresh,
       (SELECT COALESCE(SUM(visitors), 0) FROM visitor_day_pairs
        WHERE from_day >= @fromDay AND to_day <= @toDay) AS pairs
     FROM visitor_tallies WHERE day >= @fromDay AND day <= @toDay`,
  )
  const hereNow = db.prepare(`
    SELECT v.id AS visitId, v.customer_id AS customerId, c.name AS name, c.erased_at AS erasedAt,
           v.started_at AS startedAt, v.last_seen_at AS lastSeenAt
    FROM visits v LEFT JOIN customers c ON c.id = v.customer_id
    WHERE v.ended_at IS NULL AND v.last_seen_at >= @since
      AND (v.customer_id IS NULL OR v.customer_id NOT IN
           (SELECT customer_id FROM devices WHERE is_staff = 1 AND customer_id IS NOT NULL))
    ORDER BY v.started_at`)

  // Issue 17: the tiers apart (unverified grants are never visits; pass visits are).
  const tierFigures = db.prepare(`
    SELECT
      (SELECT count(*) FROM unverified_grants WHERE granted_at >= @from AND granted_at < @to) AS withoutCode,
      (SELECT count(*) FROM unverified_grants WHERE granted_at >= @from AND granted_at < @to
         AND upgraded_at IS NOT NULL) AS withoutCodeUpgraded,
      (SELECT count(*) FROM visits WHERE started_at >= @from AND started_at < @to
         AND customer_id IS NULL AND pass_id IS NOT NULL) AS passVisits,
      (SELECT count(*) FROM passes WHERE issued_at >= @from AND issued_at < @to) AS passesIssued`)

  return {
    figures(range: DateRange, now: number): DashboardFigures {
      const minMs = rules.passByMinutes * 60_000
      const params = { from: range.fromMs, to: range.toMs }
      const segments = offsetSegments(range.fromMs, range.toMs, rules.timeZone)
      // Finished, non-pass-by visits per dwell second; visits per branch-local hour (hours since
      // the epoch on the branch's wall clock).
      const staySeconds = new Map<number, number>()
      const perLocalHour = new Map<number, number>()
      let visits = 0
      let passBys = 0
      let seg = 0
      for (const packed of visitsPacked.all(params) as number[]) {
        const seconds = Math.floor(packed / PACK)
        const low = packed - seconds * PACK
        const open = low & 1
        const startedAt = range.fromMs + (low >>> 1) * 1000
        visits++
        // The offset segment holding the start (rows come nearly in order: start from the last).
        if (startedAt < segments[seg]!.from || startedAt >= segments[seg]!.to) {
          seg = segments.findIndex((g) => startedAt >= g.from && startedAt < g.to)
          if (seg < 0) seg = segments.length - 1
        }
        const hour = Math.floor((startedAt + segments[seg]!.offset) / 3_600_000)
        perLocalHour.set(hour, (perLocalHour.get(hour) ?? 0) + 1)
        // A visit still going has no dwell yet; a finished one too short is a pass-by.
        if (open) continue
        if (seconds * 1000 < minMs) passBys++
        else staySeconds.set(seconds, (staySeconds.get(seconds) ?? 0) + 1)
      }
      // Visits kept only as anonymous tallies (issue 15), by the same rules: a few grouped rows.
      for (const d of talliedDwell.all(params) as Array<{
        seconds: number
        open: 0 | 1
        n: number
      }>) {
        visits += d.n
        if (d.open) continue
        if (d.seconds * 1000 < minMs) passBys += d.n
        else staySeconds.set(d.seconds, (staySeconds.get(d.seconds) ?? 0) + d.n)
      }
      for (const g of segments) {
        const hours = talliedByLocalHour.all({
          from: g.from,
          to: g.to,
          offset: g.offset,
        }) as Array<{
          localHour: number
          n: number
        }>
        for (const h of hours)
          perLocalHour.set(h.localHour, (perLocalHour.get(h.localHour) ?? 0) + h.n)
      }
      const stays = [...staySeconds]
        .map(([seconds, n]) => ({ seconds, n }))
        .sort((a, b) => a.seconds - b.seconds)
      const histogram = DWELL_BUCKETS.map(() => 0)
      let finished = 0
      let sumSeconds = 0
      for (const d of stays) {
        finished += d.n
        sumSeconds += d.seconds * d.n
        const minutes = d.seconds / 60
        const i = DWELL_BUCKETS.findIndex(
          (b) => minutes >= b.from && (b.to === null || minutes < b.to),
        )
        histogram[i]! += d.n
      }

      const heatmap = Array.from({ length: 7 }, () => Array<number>(24).fill(0))
      const perDay = new Map<string, number>()
      for (const [localHour, n] of perLocalHour) {
        const wall = new Date(localHour * 3_600_000)
        heatmap[(wall.getUTCDay() + 6) % 7]![wall.getUTCHours()]! += n
        const date = wall.toISOString().slice(0, 10)
        perDay.set(date, (perDay.get(date) ?? 0) + n)
      }
      const daily: DashboardFigures['daily'] = []
      for (let i = 0; i < range.days; i++) {
        const date = addDays(range.from, i)
        daily.push({ date, visits: perDay.get(date) ?? 0 })
      }

      const days = { fromDay: range.from, toDay: range.to }
      const live = customers.get({ ...params, ...days }) as {
        customers: number
        fresh: number
        overlap: number
      }
      const tallied = talliedVisitors.get(days) as { days: number; fresh: number; pairs: number }
      const who = {
        customers: live.customers - live.overlap + tallied.days - tallied.pairs,
        fresh: live.fresh + tallied.fresh,
      }
      const here = (
        hereNow.all({ since: now - rules.hereNowMinutes * 60_000 }) as Array<
          HereNow & { erasedAt: number | null }
        >
      ).map(({ erasedAt, ...h }) => ({
        ...h,
        name: erasedAt ? null : h.name,
        minutes: Math.max(0, Math.floor((now - h.startedAt) / 60_000)),
      }))
      return {
        range,
        visits,
        passBys,
        customers: who.customers,
        newCustomers: who.fresh,
        returningCustomers: who.customers - who.fresh,
        medianDwellMinutes: finished ? median(stays, finished) / 60 : null,
        averageDwellMinutes: finished ? sumSeconds / finished / 60 : null,
        histogram,
        heatmap,
        daily,
        hereNow: here,
        tiers: tierFigures.get({ from: range.fromMs, to: range.toMs }) as DashboardFigures['tiers'],
      }
    },
  }
}
export type Dashboard = ReturnType<typeof createDashboard>

/** Median of a sorted distribution of (value, count) pairs; the mean of the two middles when even. */
export function median(dist: ReadonlyArray<{ seconds: number; n: number }>, total: number): number {
  const lowRank = Math.floor((total - 1) / 2)
  const highRank = Math.floor(total / 2)
  let seen = 0
  let low: number | null = null
  for (const d of dist) {
    const last = seen + d.n - 1
    if (low === null && lowRank <= last) low = d.seconds
    if (highRank <= last) return ((low ?? d.seconds) + d.seconds) / 2
    seen += d.n
  }
  return low ?? 0
}
