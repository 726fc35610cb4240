import { Hono } from 'hono'
import type { Clock } from '../../clock.js'
import { barChart, compareChart } from '../charts.js'
import { ct, formatters, type ConsoleVoice, type SpanishTag } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { addDays } from '../time.js'
import { busiestHours, change, TREND_DAYS, type TrendDays, type Trends } from '../trends.js'
import type { ConsoleWorker } from '../worker.js'

export interface TrendsDeps {
  render: Render
  clock: Clock
  worker: Pick<ConsoleWorker, 'trends' | 'campaignReports'>
  timeZone: string
  /** console.walkInDays: days after a send within which a visit is a walk-in. */
  walkInDays: number
  branchName: string
  spanish?: SpanishTag
}

/** Points of the comparison: days for 7 and 30 days, weeks (sums) for a year. */
function points(t: Trends, f: ReturnType<typeof formatters>) {
  const byWeek = t.days > 31
  const group = (daily: Array<{ date: string; visits: number }>) => {
    if (!byWeek) return daily.map((d) => ({ date: d.date, visits: d.visits }))
    const weeks: Array<{ date: string; visits: number }> = []
    daily.forEach((d, i) => {
      if (i % 7 === 0) weeks.push({ date: d.date, visits: 0 })
      weeks[weeks.length - 1]!.visits += d.visits
    })
    return weeks
  }
  const current = group(t.current.daily)
  const previous = group(t.previous.daily)
  return {
    byWeek,
    rows: current.map((c, i) => ({
      label: f.shortDate(c.date),
      day: f.day(c.date),
      current: c.visits,
      previous: previous[i]?.visits ?? 0,
      previousDay: previous[i] ? f.day(previous[i].date) : '',
    })),
  }
}

/** Everything the trends page and the weekly report draw from one Trends. */
async function view(deps: TrendsDeps, locale: ConsoleVoice, days: TrendDays) {
  const now = deps.clock.now()
  const [t, campaigns] = await Promise.all([
    deps.worker.trends(days, now),
    deps.worker.campaignReports(deps.walkInDays, now),
  ])
  const f = formatters(locale, deps.timeZone, deps.spanish)
  const say = (key: string, p?: Record<string, string | number>) => ct(locale, key, p)
  const { byWeek, rows } = points(t, f)
  const unit = say(byWeek ? 'trends.unit.week' : 'trends.unit.day')
  const hours = busiestHours(t.current, 24).sort((a, b) => a.hour - b.hour)
  const top = busiestHours(t.current, 3)
  const figure = (
    key: string,
    current: number | null,
    previous: number | null,
    show: (n: number) => string,
  ) => ({
    label: say(key),
    current: current === null ? say('none') : show(current),
    previous: previous === null ? say('none') : show(previous),
    change: change(current, previous),
  })
  const pct = (n: number) => f.percent(n)
  const figures = [
    figure('trends.visits', t.current.visits, t.previous.visits, f.number),
    figure('trends.new', t.current.newCustomers, t.previous.newCustomers, f.number),
    figure(
      'trends.returning',
      t.current.returningCustomers,
      t.previous.returningCustomers,
      f.number,
    ),
    figure('trends.median', t.current.medianDwellMinutes, t.previous.medianDwellMinutes, f.one),
    {
      ...figure('trends.conversion', t.current.conversion.rate, t.previous.conversion.rate, pct),
      detail: [t.current.conversion, t.previous.conversion].map((c) =>
        say('trends.conversion.detail', { verified: f.number(c.verified), sent: f.number(c.sent) }),
      ),
    },
  ]
  const topCampaigns = campaigns
    .filter((c) => c.lastSentAt >= t.current.range.fromMs && c.recipients > 0)
    .sort((a, b) => b.rate - a.rate || b.walkIns - a.walkIns)
    .slice(0, 5)
  return {
    trends: t,
    days,
    periods: TREND_DAYS,
    figures,
    rows,
    pointLabel: say(byWeek ? 'trends.point.week' : 'trends.point'),
    hours,
    topHours: top.map((h) => `${h.hour}:00`).join(', '),
    topCampaigns,
    arrivals: t.arrivalsByOs.filter((r) => r.returning > 0 || r.newCustomers > 0),
    lead: say('trends.lead', {
      days,
      from: f.day(t.current.range.from),
      to: f.day(t.current.range.to),
      pfrom: f.day(t.previous.range.from),
      pto: f.day(t.previous.range.to),
    }),
    charts: {
      compare: compareChart({
        id: 'compare',
        title: say('trends.chart', { unit }),
        labels: rows.map((r) => r.label),
        current: rows.map((r) => r.current),
        previous: rows.map((r) => r.previous),
        legend: { current: say('trends.current'), previous: say('trends.previous') },
      }),
      hours: barChart({
        id: 'hours',
        title: say('trends.hours'),
        labels: hours.map((h) => `${h.hour}:00`),
        values: hours.map((h) => Math.round(h.perDay * 10) / 10),
      }),
    },
    walkInDays: deps.walkInDays,
    madeAt: f.dateTime(now),
    weekFrom: f.day(t.current.range.from),
    weekTo: f.day(addDays(t.current.range.from, 6)),
    branchName: deps.branchName,
  }
}

/** `/trends` (7, 30 or 365 days against the period before) and `/trends/weekly` (printable). */
export function trendsPage(deps: TrendsDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', async (c) => {
    const asked = Number(c.req.query('days'))
    const days = (TREND_DAYS as readonly number[]).includes(asked) ? (asked as TrendDays) : 30
    return deps.render(c, 'console/trends', await view(deps, c.get('locale'), days))
  })

  app.get('/weekly', async (c) => {
    return deps.render(c, 'console/weekly', await view(deps, c.get('locale'), 7))
  })

  return app
}
