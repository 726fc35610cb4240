import { Hono } from 'hono'
import type { Clock } from '../../clock.js'
import { activeHours, barChart, heatmapChart, trendChart } from '../charts.js'
import { DWELL_BUCKETS } from '../dashboard.js'
import { ct, formatters, type SpanishTag } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import type { ConsoleWorker } from '../worker.js'
import { rangeOf } from './range.js'

export interface DashboardDeps {
  render: Render
  clock: Clock
  worker: Pick<ConsoleWorker, 'figures'>
  timeZone: string
  /** Spanish dates and numbers as in Mexico (default) or Spain. */
  spanish?: SpanishTag
}

/** The home page (`/`): a period's visits, dwell, busy hours and who is here now. */
export function dashboardPage(deps: DashboardDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', async (c) => {
    const locale = c.get('locale')
    const now = deps.clock.now()
    const range = rangeOf(c, now, deps.timeZone)
    const figures = await deps.worker.figures(range, now)
    const f = formatters(locale, deps.timeZone, deps.spanish)
    const bucketLabels = DWELL_BUCKETS.map((b) =>
      b.to === null ? `> ${b.from}` : b.from === 0 ? `< ${b.to}` : `${b.from}–${b.to}`,
    )
    const dayLabels = ct(locale, 'dash.weekdays').split(',')
    return deps.render(c, 'console/dashboard', {
      range,
      figures,
      bucketLabels,
      dayLabels,
      hours: activeHours(figures.heatmap),
      notice: c.req.query('changed') ? ct(locale, 'password.changed') : null,
      charts: {
        histogram: barChart({
          id: 'histogram',
          title: ct(locale, 'dash.histogram'),
          labels: bucketLabels,
          values: figures.histogram,
        }),
        heatmap: heatmapChart({
          id: 'heatmap',
          title: ct(locale, 'dash.heatmap'),
          grid: figures.heatmap,
          dayLabels,
        }),
        trend: trendChart({
          id: 'trend',
          title: ct(locale, 'dash.trend'),
          days: figures.daily,
          dateLabel: f.shortDate,
        }),
      },
    })
  })

  return app
}
