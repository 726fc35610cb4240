import { Hono } from 'hono'
import type { Clock } from '../../clock.js'
import type { VisitList } from '../exports.js'
import type { ConsoleEnv, Render } from '../render.js'
import { rangeOf } from './range.js'

export interface VisitsDeps {
  render: Render
  clock: Clock
  visitList: VisitList
  timeZone: string
}

/** The visits of a period (`/visits`), a page at a time (`?after=` the last one shown). */
export function visitsPage(deps: VisitsDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', (c) => {
    const range = rangeOf(c, deps.clock.now(), deps.timeZone)
    const m = /^(\d{1,15})\.([0-9a-f-]{1,40})$/.exec(c.req.query('after') ?? '')
    const page = deps.visitList(range, m ? { start: Number(m[1]), id: m[2]! } : null)
    return deps.render(c, 'console/visits', { range, page })
  })

  return app
}
