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

// One number per visit: its dwell in whole seconds (truncated, as `dwell_ms / 1000`) times @base,
// plus its branch-local hour (counted from the range's first) times 2, plus 1 when the visit is
// open; @base is the smallest power of two above twice the range's hours. Exact in a double for
// any range up to 2^31 hours; a "dwell" longer than 2^21 s (24 days) is damaged data and is
// clamped to 24 days.
const DWELL_CAP = 2_097_151
const HOUR = 3_600_000
const PACKED = `MIN(MAX((COALESCE(ended_at, last_seen_at) - started_at) / 1000, -${DWELL_CAP}), ${DWELL_CAP})
    * CAST(@base AS INTEGER)
  + ((started_at + CAST(@offset AS INTEGER)) / ${HOUR} - CAST(@firstHour AS INTEGER)) * 2
  + (ended_at IS NULL)`
const STAFF = `SELECT customer_id FROM devices WHERE is_staff = 1 AND customer_id IS NOT NULL`
// Dwell seconds below this are counted in an array indexed by the second (a day); the rare
// longer (or damaged, negative) ones in a map.
const DENSE_SECONDS = 86_400

/** The dashboard's figures from one scan of the covering index on visits (and a walk of the customers). */
export function createDashboard(
  db: Db,
  rules: VisitReportRules,
  /** For tests: count the customers one way whatever the range (both give the same figures). */
  tuning: { customersBy?: 'firstVisits' | 'visits' } = {},
) {
  // Measured on a synthetic busy year (bench/console.ts, 182,500 visits): handing SQLite's rows
  // to JS one by one cost more than reading them (a plucked number per visit: ~0.4 µs a row,
  // four times the index scan). So each scan hands back its column as one text of integers
  // separated by commas (`group_concat`: NULL for no row, and it skips NULLs), read by
  // `integerList` below. The same texts as JSON arrays (`json_group_array`, read by
  // JSON.parse) cost a third more in SQLite and some 20 ms more in V8 for the year. One scan
  // per stretch of constant UTC offset (one a year in most zones, three across two
  // daylight-saving changes): SQL computes the local hour, JS only counts. The same pass hands
  // back each visit's customer (none for a pass visit) for the distinct count.
  const visitsScan = db
    .prepare(
      `SELECT group_concat(${PACKED}), group_concat(customer_id) FROM visits
       WHERE started_at >= @from AND started_at < @to`,
    )
    .raw()
  // Staff visits are counted by the scan above and taken off again: staff are a few, and a
  // NOT IN on every visit of the scan cost more than reading their visits twice.
  const staffScan = db
    .prepare(
      `SELECT group_concat(${PACKED}) FROM visits
       WHERE customer_id IN (${STAFF}) AND started_at >= @from AND started_at < @to`,
    )
    .pluck()

  // Distinct customers and the new ones among them ("new": no visit before the range). A
  // customer some of whose visits are tallies (privacy.retention.visitsMonths) is new only if
  // none is, and is counted once when their last tallied day is in the range too (`overlap`).
  // Two ways to the same answer, by the range's size against the customers'. Both count the
  // distinct customers among the scan's ids. A long range counts the new ones by each
  // customer's first visit (customers.first_visit_at, kept by migration 018's triggers): one
  // range of an index. A short one seeks, for each of its few customers, a visit before the
  // range. Measured on the busy year: the walk of 40,000 customers (a seek each for their first
  // visit) that the first way replaced was ~60 ms of CPU; the index range ~8 ms.
  const customerCount = db.prepare(`SELECT COALESCE(MAX(id), 0) FROM customers`).pluck()
  const freshByFirstVisit = db
    .prepare(
      `SELECT count(*) FROM customers
       WHERE first_visit_at >= @from AND first_visit_at < @to AND tallied_through IS NULL
         AND id NOT IN (${STAFF})`,
    )
    .pluck()
  const talliedSince = db
    .prepare(`SELECT id FROM customers WHERE tallied_through >= @fromDay`)
    .pluck()
  // @seen: the ids in ascending order, so the seeks walk the indexes forward.
  const seenCustomers = db.prepare(`
    SELECT COALESCE(SUM(c.tallied_through IS NULL AND NOT EXISTS (
      SELECT 1 FROM visits p WHERE p.customer_id = s.value AND p.started_at < @from
    )), 0) AS fresh, COALESCE(SUM(c.tallied_through >= @fromDay), 0) AS overlap
    FROM json_each(@seen) s LEFT JOIN customers c ON c.id = s.value`)
  const staffCustomers = db.prepare(`SELECT DISTINCT customer_id FROM (${STAFF})`).pluck()
  const customerFigures = (
    range: DateRange,
    rangeVisits: number,
    /** The customer of each visit in the range that has one, per scan. */
    scanned: ReadonlyArray<ArrayLike<number>>,
  ): { customers: number; fresh: number; overlap: number } => {
    const params = { from: range.fromMs, to: range.toMs, fromDay: range.from }
    const staffIds = staffCustomers.all() as number[]
    const byFirstVisit = tuning.customersBy
      ? tuning.customersBy === 'firstVisits'
      : rangeVisits >= (customerCount.get() as number)
    if (byFirstVisit) {
      // Marks by id: 2 for staff (never counted), 1 for a customer seen in the range.
      let max = 0
      for (const ids of scanned)
        for (let i = 0; i < ids.length; i++) if (ids[i]! > max) max = ids[i]!
      for (const id of staffIds) if (id > max) max = id
      const seen = new Uint8Array(max + 1)
      for (const id of staffIds) seen[id] = 2
      let customers = 0
      for (const ids of scanned)
        for (let i = 0; i < ids.length; i++)
          if (seen[ids[i]!] === 0) {
            seen[ids[i]!] = 1
            customers++
          }
      let overlap = 0
      for (const id of talliedSince.all({ fromDay: range.from }) as number[])
        if (seen[id] === 1) overlap++
      const fresh = freshByFirstVisit.get({ from: range.fromMs, to: range.toMs }) as number
      return { customers, fresh, overlap }
    }
    const staff = new Set(staffIds)
    const seen = [...new Set(scanned.flatMap((ids) => Array.from(ids)))]
      .filter((id) => !staff.has(id))
      .sort((a, b) => a - b)
    const found = seenCustomers.get({ ...params, seen: JSON.stringify(seen) }) as {
      fresh: number
      overlap: number
    }
    return { customers: seen.length, ...found }
  }
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
      // Visits per branch-local hour (hours since the epoch on the branch's wall clock), in an
      // array from the range's first local hour to its last.
      let firstHour = Infinity
      let lastHour = -Infinity
      for (const g of segments) {
        firstHour = Math.min(firstHour, Math.floor((g.from + g.offset) / HOUR))
        lastHour = Math.max(lastHour, Math.floor((g.to - 1 + g.offset) / HOUR))
      }
      const perLocalHour = new Float64Array(Math.max(0, lastHour - firstHour + 1))
      let base = 2
      while (base <= 2 * perLocalHour.length + 1) base *= 2
      // Finished, non-pass-by visits per dwell second.
      const dense = new Float64Array(DENSE_SECONDS)
      const sparse = new Map<number, number>()
      const stay = (seconds: number, n: number) => {
        if (seconds >= 0 && seconds < DENSE_SECONDS) dense[seconds]! += n
        else sparse.set(seconds, (sparse.get(seconds) ?? 0) + n)
      }
      let visits = 0
      let rangeVisits = 0
      let passBys = 0
      // The customer of each visit in the range that has one, one list per scan.
      const scanned: Float64Array[] = []
      // Each visit in the range, then each staff visit in it again, taken off (sign -1).
      const count = (text: string | null, sign: 1 | -1) => {
        const list = integerList(text)
        if (sign > 0) rangeVisits += list.length
        for (const packed of list) {
          const seconds = Math.floor(packed / base)
          const low = packed - seconds * base
          visits += sign
          perLocalHour[low >>> 1]! += sign
          // A visit still going has no dwell yet; a finished one too short is a pass-by.
          if (low & 1) continue
          if (seconds * 1000 < minMs) passBys += sign
          else stay(seconds, sign)
        }
      }
      for (const g of segments) {
        const scan = { from: g.from, to: g.to, offset: g.offset, firstHour, base }
        const [packed, customers] = visitsScan.get(scan) as [string | null, string | null]
        count(packed, 1)
        scanned.push(integerList(customers))
        count(staffScan.get(scan) as string | null, -1)
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
        else stay(d.seconds, d.n)
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
        for (const h of hours) perLocalHour[h.localHour - firstHour]! += h.n
      }
      // The dwell distribution in order of seconds: the negative (damaged) ones, the dense
      // array, then the long ones.
      const stays: Array<{ seconds: number; n: number }> = []
      const outliers = [...sparse].sort((a, b) => a[0] - b[0])
      for (const [seconds, n] of outliers) if (seconds < 0 && n) stays.push({ seconds, n })
      for (let seconds = 0; seconds < DENSE_SECONDS; seconds++) {
        if (dense[seconds]) stays.push({ seconds, n: dense[seconds]! })
      }
      for (const [seconds, n] of outliers)
        if (seconds >= DENSE_SECONDS && n) stays.push({ seconds, n })
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
      for (let i = 0; i < perLocalHour.length; i++) {
        const n = perLocalHour[i]!
        if (!n) continue
        const wall = new Date((firstHour + i) * HOUR)
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
      const live = customerFigures(range, rangeVisits, scanned)
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

/**
 * The integers of a `group_concat` text ("12,-3,40"; NULL or empty: none), as JSON.parse would
 * read them as an array: one pass to count, one to read the digits, with no string or array
 * element made per number. Exact below 2^53, as a double is. A number SQLite wrote otherwise (a
 * REAL, "1.5" or "1.0e+15", only in damaged data) is read by Number(), as JSON.parse would.
 */
export function integerList(text: string | null): Float64Array {
  if (!text) return new Float64Array(0)
  let n = 1
  for (let i = text.indexOf(','); i !== -1; i = text.indexOf(',', i + 1)) n++
  const out = new Float64Array(n)
  let k = 0
  let start = 0
  let value = 0
  let negative = false
  let plain = true
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44
    if (c >= 48 && c <= 57) value = value * 10 + (c - 48)
    else if (c === 44) {
      out[k++] = plain ? (negative ? -value : value) : Number(text.slice(start, i))
      start = i + 1
      value = 0
      negative = false
      plain = true
    } else if (c === 45 && i === start) negative = true
    else plain = false
  }
  return out
}

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
