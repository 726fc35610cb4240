import { Hono } from 'hono'
import type { consoleAuditStatements } from '../../db/console.js'
import { describeAudit } from '../audit-text.js'
import { formatters, type SpanishTag } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { adminOnly } from '../session.js'

/** Audit entries shown per page. */
const PAGE_SIZE = 200

export interface AuditDeps {
  render: Render
  auditLog: Pick<ReturnType<typeof consoleAuditStatements>, 'page'>
  timeZone: string
  /** Spanish dates and numbers as in Mexico (default) or Spain. */
  spanish?: SpanishTag
}

/** The audit log (`/audit`, admins), newest first, filtered by kind of action. */
export function auditPage(deps: AuditDeps) {
  const app = new Hono<ConsoleEnv>()

  app.get('/', adminOnly, (c) => {
    const locale = c.get('locale')
    const action = (c.req.query('action') ?? '').slice(0, 40)
    const before = Number(c.req.query('before'))
    const entries = deps.auditLog.page({
      beforeId: Number.isSafeInteger(before) && before > 0 ? before : null,
      actionPrefix: action,
      limit: PAGE_SIZE,
    })
    const last = entries[entries.length - 1]
    const f = formatters(locale, deps.timeZone, deps.spanish)
    return deps.render(c, 'console/audit', {
      entries: entries.map((e) => describeAudit(e, locale, f)),
      action,
      olderThan: entries.length === PAGE_SIZE && last ? last.id : null,
    })
  })

  return app
}
