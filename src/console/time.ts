/**
 * Branch-local calendar arithmetic. Visits are stored in UTC milliseconds; reports speak in the
 * branch's days and hours. SQLite knows no time zones, so the offsets in force over a range are
 * computed here once, as a few segments, and handed to SQL.
 */
import { instantOfWallTime, localDate, offsetAt } from '../time.js'

const DAY = 86_400_000

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/

/** True for a real calendar date written YYYY-MM-DD. */
export function isDate(text: string): boolean {
  const m = DATE_RE.exec(text)
  if (!m) return false
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  return d.toISOString().slice(0, 10) === text
}

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in `timeZone`. */
export function localMidnight(date: string, timeZone: string): number {
  return instantOfWallTime(Date.parse(`${date}T00:00:00Z`), timeZone)
}

// The branch-local calendar date (YYYY-MM-DD) of an instant: the one in src/time.ts.
export { localDate }

export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)
}

/** A stretch of time over which the zone's offset is constant: [from, to). */
export interface OffsetSegment {
  from: number
  to: number
  offset: number
}

// A year's segments take 730 Intl calls (~5 ms); the same few ranges are asked again and again
// (the dashboard and its page, the trends' two periods). The answer never changes: keep a few.
const knownSegments = new Map<string, readonly OffsetSegment[]>()

/** The offsets in force over [fromMs, toMs): one segment per daylight-saving change. */
export function offsetSegments(
  fromMs: number,
  toMs: number,
  timeZone: string,
): readonly OffsetSegment[] {
  const key = `${fromMs} ${toMs} ${timeZone}`
  let known = knownSegments.get(key)
  if (!known) {
    known = Object.freeze(computeSegments(fromMs, toMs, timeZone).map((g) => Object.freeze(g)))
    if (knownSegments.size >= 16) knownSegments.clear()
    knownSegments.set(key, known)
  }
  return known
}

function computeSegments(fromMs: number, toMs: number, timeZone: string): OffsetSegment[] {
  const segments: OffsetSegment[] = []
  let start = fromMs
  let offset = offsetAt(fromMs, timeZone)
  // Sample every 12 hours (a zone changes at most once a day); a change is then located to
  // the second by bisection.
  for (let t = fromMs; t < toMs;) {
    const next = Math.min(t + 12 * 3_600_000, toMs)
    const o = next < toMs ? offsetAt(next, timeZone) : offset
    if (o !== offset) {
      // Bisect in whole seconds: offsets change on a second boundary.
      let lo = Math.floor(t / 1000)
      let hi = Math.ceil(next / 1000)
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2)
        if (offsetAt(mid * 1000, timeZone) === offset) lo = mid
        else hi = mid
      }
      hi *= 1000
      segments.push({ from: start, to: hi, offset })
      start = hi
      offset = o
    }
    t = next
  }
  segments.push({ from: start, to: toMs, offset })
  return segments
}

/** Wall-clock time `YYYY-MM-DD HH:MM:SS` of an instant, given the segments covering it. */
export function formatLocal(
  ms: number,
  segments: readonly OffsetSegment[],
  timeZone: string,
): string {
  let offset: number | undefined
  for (const s of segments) {
    if (ms >= s.from && ms < s.to) {
      offset = s.offset
      break
    }
  }
  offset ??= offsetAt(ms, timeZone)
  const iso = new Date(ms + offset).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))

/**
 * `formatLocal` for many instants in a row, as the CSV export asks (three per visit): the same
 * text, without a Date and an ISO string per call. The date part is kept for the last local day
 * seen (a day's visits come together), the time part built from two-digit strings, and the
 * segment holding the last instant is tried first.
 */
export function localClock(
  segments: readonly OffsetSegment[],
  timeZone: string,
): (ms: number) => string {
  let seg = 0
  let dayStart = NaN
  let dayText = ''
  return (ms) => {
    let offset: number | undefined
    const last = segments[seg]
    if (last && ms >= last.from && ms < last.to) offset = last.offset
    else {
      const i = segments.findIndex((s) => ms >= s.from && ms < s.to)
      if (i >= 0) {
        seg = i
        offset = segments[i]!.offset
      }
    }
    offset ??= offsetAt(ms, timeZone)
    // Whole seconds, as the ISO string's HH:MM:SS truncates the milliseconds.
    const wall = Math.floor((ms + offset) / 1000) * 1000
    if (!(wall >= dayStart && wall < dayStart + DAY)) {
      dayStart = wall - (((wall % DAY) + DAY) % DAY)
      dayText = `${new Date(dayStart).toISOString().slice(0, 10)} `
    }
    const s = (wall - dayStart) / 1000
    return `${dayText}${TWO_DIGITS[Math.floor(s / 3600)]}:${TWO_DIGITS[Math.floor(s / 60) % 60]}:${TWO_DIGITS[s % 60]}`
  }
}

/** A report period: whole branch-local days `from`..`to` (inclusive), as UTC [fromMs, toMs). */
export interface DateRange {
  kind: RangeKind
  from: string
  to: string
  fromMs: number
  toMs: number
  days: number
}

export type RangeKind = 'today' | '7' | '30' | 'custom'
export const MAX_RANGE_DAYS = 366

/**
 * Reads the period a page asks for: today, the last 7 or 30 days (ending today), or a chosen
 * range. Anything unreadable falls back to today; ranges are capped at MAX_RANGE_DAYS.
 */
export function resolveRange(
  q: { range?: string | undefined; from?: string | undefined; to?: string | undefined },
  now: number,
  timeZone: string,
): DateRange {
  const today = localDate(now, timeZone)
  let kind: RangeKind = 'today'
  let from = today
  let to = today
  if (q.range === '7' || q.range === '30') {
    kind = q.range
    from = addDays(today, -(Number(q.range) - 1))
  } else if (q.range === 'custom' || (q.range === undefined && q.from && q.to)) {
    if (q.from && q.to && isDate(q.from) && isDate(q.to)) {
      kind = 'custom'
      ;[from, to] = q.from <= q.to ? [q.from, q.to] : [q.to, q.from]
      if (daysBetween(from, to) > MAX_RANGE_DAYS) from = addDays(to, -(MAX_RANGE_DAYS - 1))
    }
  }
  return {
    kind,
    from,
    to,
    fromMs: localMidnight(from, timeZone),
    toMs: localMidnight(addDays(to, 1), timeZone),
    days: daysBetween(from, to),
  }
}

/** Number of calendar days from `a` to `b` inclusive. */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY) + 1
}
