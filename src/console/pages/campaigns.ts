import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from '../../clock.js'
import { tooBigImport, type Campaigns, type ImportResult } from '../campaigns.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf } from '../session.js'
import type { ConsoleWorker } from '../worker.js'

export interface CampaignsDeps {
  render: Render
  clock: Clock
  worker: Pick<ConsoleWorker, 'campaignReports' | 'campaignReport' | 'checkCampaignCsv'>
  campaigns: Pick<Campaigns, 'importRows'>
  /** Days after a promotion in which a visit counts as a walk-in, unless the page asks (1–90). */
  walkInDays: number
}

/**
 * Campaigns (`/campaigns`): the walk-ins each promotion brought, one campaign's report, and the
 * import of a file of promotions sent.
 */
export function campaignsPage(deps: CampaignsDeps) {
  const { render } = deps
  const imported = importedPage(deps)
  const app = new Hono<ConsoleEnv>()

  const walkInDays = (c: Context<ConsoleEnv>) => {
    const n = Number(c.req.query('days'))
    return Number.isInteger(n) && n >= 1 && n <= 90 ? n : deps.walkInDays
  }

  app.get('/', async (c) => {
    const days = walkInDays(c)
    return render(c, 'console/campaigns', {
      days,
      reports: await deps.worker.campaignReports(days, deps.clock.now()),
      result: null,
    })
  })

  app.post('/import', async (c) => {
    const form = c.get('form')
    const text = form.file || form.csv || ''
    // Checked off the portal's thread; written on it in chunks (see ConsoleWorker).
    const checked = await deps.worker.checkCampaignCsv(text)
    const result = checked.ok ? await deps.campaigns.importRows(checked.rows, actorOf(c)) : checked
    return imported(c, result)
  })

  app.get('/report', async (c) => {
    const days = walkInDays(c)
    const report = await deps.worker.campaignReport(c.req.query('c') ?? '', days, deps.clock.now())
    if (!report) throw new HTTPException(404, { message: 'no such campaign' })
    return render(c, 'console/campaign', { days, report })
  })

  return app
}

/** The campaigns page after an import: what was added, or why the file was refused. */
function importedPage(deps: CampaignsDeps) {
  return async (c: Context<ConsoleEnv>, result: ImportResult) => {
    const days = deps.walkInDays
    const reports = await deps.worker.campaignReports(days, deps.clock.now())
    return deps.render(
      c,
      'console/campaigns',
      { days, reports, result },
      result.ok ? 200 : result.status,
    )
  }
}

/**
 * The answer to an import over the console's body limit (the error boundary calls it): the
 * campaigns page, saying what an import accepts.
 */
export function importTooLargePage(deps: CampaignsDeps) {
  const page = importedPage(deps)
  return (c: Context<ConsoleEnv>) => page(c, tooBigImport())
}
