import { arrivalStatements, type ArrivalsByOs } from '../db/arrivals.js'
import type { Db } from '../db/open.js'
import { localDate } from '../time.js'
import type { Dashboard, DashboardFigures } from './dashboard.js'
import { addDays, daysBetween, localMidnight, type DateRange } from './time.js'

/** The periods the trends page compares: the last 7, 30 or 365 days. */
export type TrendDays = 7 | 30 | 365
export const TREND_DAYS: readonly TrendDays[] = [7, 30, 365]

/** The share of codes sent that were typed back: the login's conversion. */
export interface Conversion {
  /** Codes delivered (a failed send is not counted). */
  sent: number
  verified: number
  /** verified / sent, 0–1; null when nothing was sent. */
  rate: number | null
}

/** One period's figures. */
export interface PeriodFigures {
  range: DateRange
  visits: number
  customers: number
  newCustomers: number
  returningCustomers: number
  medianDwellMinutes: number | null
  conversion: Conversion
  daily: DashboardFigures['daily']
  /** heatmap[weekday][hour] of arrivals, weekday 0 = Monday, branch-local hours. */
  heatmap: number[][]
}

/** What the trends page and the weekly report show: a period and the one before it. */
export interface Trends {
  days: TrendDays
  current: PeriodFigures
  previous: PeriodFigures
  /** Arrivals per OS family in the current period: returning, and on a new address. */
  arrivalsByOs: ArrivalsByOs[]
}

/** The last `days` days ending today (branch-local), and the as many days before them. */
export function trendRanges(
  days: number,
  now: number,
  timeZone: string,
): { current: DateRange; previous: DateRange } {
  const range = (from: string, to: string): DateRange => ({
    kind: 'custom',
    from,
    to,
    fromMs: localMidnight(from, timeZone),
    toMs: localMidnight(addDays(to, 1), timeZone),
    days: daysBetween(from, to),
  })
  const today = localDate(now, timeZone)
  const from = addDays(today, -(days - 1))
  return {
    current: range(from, today),
    previous: range(addDays(from, -days), addDays(from, -1)),
  }
}

/** The trends of the console's "Tendencias" page, over the dashboard's own figures. */
export function createTrends(db: Db, dashboard: Dashboard, timeZone: string) {
  const arrivals = arrivalStatements(db)
  // A code counts as sent once delivered: send_failed never reached the phone.
  const conversion = db.prepare(
    `SELECT COUNT(*) AS sent, COALESCE(SUM(status = 'verified'), 0) AS verified
     FROM otp_challenges WHERE created_at >= @from AND created_at < @to AND status <> 'send_failed'`,
  )
  const period = (range: DateRange, now: number): PeriodFigures => {
    const f = dashboard.figures(range, now)
    const c = conversion.get({ from: range.fromMs, to: range.toMs }) as {
      sent: number
      verified: number
    }
    return {
      range,
      visits: f.visits,
      customers: f.customers,
      newCustomers: f.newCustomers,
      returningCustomers: f.returningCustomers,
      medianDwellMinutes: f.medianDwellMinutes,
      conversion: { ...c, rate: c.sent ? c.verified / c.sent : null },
      daily: f.daily,
      heatmap: f.heatmap,
    }
  }
  return {
    trends(days: TrendDays, now: number): Trends {
      const { current, previous } = trendRanges(days, now, timeZone)
      return {
        days,
        current: period(current, now),
        previous: period(previous, now),
        arrivalsByOs: arrivals.byOsFamily(current.fromMs, current.toMs),
      }
    },
  }
}

/**
 * The busiest hours of the day for staffing: average arrivals per hour of the day over the days
 * the branch had any visit, busiest first.
 */
export function busiestHours(
  p: Pick<PeriodFigures, 'heatmap' | 'daily'>,
  top = 3,
): Array<{ hour: number; perDay: number }> {
  const openDays = Math.max(1, p.daily.filter((d) => d.visits > 0).length)
  return Array.from({ length: 24 }, (_, hour) => ({
    hour,
    perDay: p.heatmap.reduce((sum, row) => sum + (row[hour] ?? 0), 0) / openDays,
  }))
    .filter((h) => h.perDay > 0)
    .sort((a, b) => b.perDay - a.perDay || a.hour - b.hour)
    .slice(0, top)
}

/** Change from the previous period, as a fraction (0.25 = +25 %); null when there was nothing. */
export function change(current: number | null, previous: number | null): number | null {
  if (current === null || previous === null || previous === 0) return null
  return (current - previous) / previous
}
