import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { PASS_MAX_MINUTES, type Passes } from '../../access/passes.js'
import { startOfLocalDay } from '../../time.js'
import type { Clock } from '../../clock.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf } from '../session.js'

export interface PassesPageDeps {
  render: Render
  clock: Clock
  timeZone: string
  passes: Pick<Passes, 'issue' | 'since' | 'revoke'>
  /** tiers.pass.minutes */
  defaultMinutes: number
}

/**
 * Staff passes (`/passes`, issue 17): a manager issues a one-time code for a walk-in without a
 * usable mobile, sees it once (large, printable), and sees or revokes the day's passes.
 */
export function passesPage(deps: PassesPageDeps) {
  const { render, passes } = deps
  const app = new Hono<ConsoleEnv>()

  const page = (c: Context<ConsoleEnv>, extra: Record<string, unknown> = {}, status = 200) => {
    const since = startOfLocalDay(deps.clock.now(), deps.timeZone)
    return render(
      c,
      'console/passes',
      {
        passes: passes.since(since),
        defaultMinutes: deps.defaultMinutes,
        maxMinutes: PASS_MAX_MINUTES,
        issued: null,
        error: null,
        values: { name: '', minutes: '' },
        notice: c.req.query('revoked') ? ct(c.get('locale'), 'passes.revoked') : null,
        ...extra,
      },
      status as 200,
    )
  }

  app.get('/', (c) => page(c))

  app.post('/', (c) => {
    const form = c.get('form')
    const locale = c.get('locale')
    const values = { name: form.name ?? '', minutes: form.minutes ?? '' }
    const name = values.name.normalize('NFC').trim()
    if (name.length > 80) return page(c, { values, error: ct(locale, 'passes.badName') }, 422)
    let minutes: number | undefined
    if (values.minutes.trim() !== '') {
      const n = Number(values.minutes.trim())
      if (!/^\d+$/.test(values.minutes.trim()) || n < 1 || n > PASS_MAX_MINUTES) {
        const error = ct(locale, 'passes.badMinutes', { max: PASS_MAX_MINUTES })
        return page(c, { values, error }, 422)
      }
      minutes = n
    }
    const issued = passes.issue({ name: name || null, minutes, actor: actorOf(c) })
    return page(c, { issued })
  })

  app.post('/:id/revoke', async (c) => {
    const id = Number(c.req.param('id'))
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new HTTPException(404, { message: 'no such pass' })
    if (!(await passes.revoke(id, actorOf(c))))
      throw new HTTPException(404, { message: 'no such pass' })
    return c.redirect('/passes?revoked=1', 303)
  })

  return app
}
