import { Hono } from 'hono'
import type { Clock } from '../../clock.js'
import type { AuditStatements } from '../../db/audit.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf } from '../session.js'
import { resolveRange } from '../time.js'
import type { ConsoleWorker } from '../worker.js'
import { rangeOf } from './range.js'

export interface ExportsDeps {
  /** The customers who accept offers now (issue 15): src/console/exports.ts marketingCsv. */
  marketingCsv: (header: readonly string[]) => string
  render: Render
  clock: Clock
  audit: Pick<AuditStatements, 'record'>
  worker: Pick<ConsoleWorker, 'visitsCsv'>
  timeZone: string
  passByMinutes: number
}

/** The visits of a period as a CSV download (`/export`), audit-logged. */
export function exportsPage(deps: ExportsDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', (c) =>
    deps.render(c, 'console/export', { range: rangeOf(c, deps.clock.now(), deps.timeZone, '30') }),
  )

  app.post('/visits.csv', (c) => {
    const form = c.get('form')
    const now = deps.clock.now()
    const range = resolveRange(
      { range: 'custom', from: form.from, to: form.to },
      now,
      deps.timeZone,
    )
    deps.audit.record({
      at: now,
      actor: actorOf(c),
      action: 'visits.export',
      detail: { from: range.from, to: range.to, format: 'csv' },
    })
    const stream = deps.worker.visitsCsv({
      range,
      timeZone: deps.timeZone,
      passByMinutes: deps.passByMinutes,
      delimiter: form.delimiter === 'semicolon' ? ';' : ',',
      header: ct(c.get('locale'), 'export.header').split(','),
    })
    return new Response(stream, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="visits-${range.from}_${range.to}.csv"`,
      },
    })
  })

  // Issue 15: who may get offers; withdrawn and blocked customers never are in it.
  app.post('/marketing.csv', (c) => {
    const now = deps.clock.now()
    deps.audit.record({
      at: now,
      actor: actorOf(c),
      action: 'marketing.export',
      detail: { format: 'csv' },
    })
    const csv = deps.marketingCsv(ct(c.get('locale'), 'export.marketing.header').split(','))
    return c.body(csv, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="marketing-${new Date(now).toISOString().slice(0, 10)}.csv"`,
    })
  })

  return app
}
