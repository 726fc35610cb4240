import { Hono } from 'hono'
import type { Clock } from '../../clock.js'
import type { SmsStatsSource, SyncStatusSource } from '../ports.js'
import type { ConsoleEnv, Render } from '../render.js'
import { adminOnly } from '../session.js'

export interface SyncDeps {
  render: Render
  clock: Clock
  sync: SyncStatusSource
  smsStats: SmsStatsSource
}

/** The status page (`/sync`, admins): the CRM sync's queue and the SMS providers' figures. */
export function syncPage(deps: SyncDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', adminOnly, (c) => {
    const now = deps.clock.now()
    return deps.render(c, 'console/sync', {
      status: deps.sync.status(now),
      sms: deps.smsStats.stats(now),
    })
  })

  return app
}
