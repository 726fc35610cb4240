import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { AuditStatements } from '../db/audit.js'
import type { consoleAuditStatements } from '../db/console.js'
import { addressAsHostName, hostCheck, refuseCrossSitePosts } from '../host-check.js'
import { asLocale } from '../i18n/messages.js'
import type { Views } from '../views.js'
import type { ConsoleAuth } from './auth.js'
import type { Campaigns } from './campaigns.js'
import type { ConsentDesk } from '../customers/consent.js'
import type { Erasure } from '../customers/erasure.js'
import type { RightsDesk } from '../privacy/requests.js'
import type { CustomerDesk } from './customers.js'
import type { VisitList } from './exports.js'
import { ct, spanishTagOf } from './messages.js'
import { privacyLawOf, rightsDeadlineOf } from '../customers/config.js'
import { auditPage } from './pages/audit.js'
import { campaignsPage, importTooLargePage } from './pages/campaigns.js'
import { customersPage } from './pages/customers.js'
import { dashboardPage } from './pages/dashboard.js'
import { trendsPage } from './pages/trends.js'
import { exportsPage } from './pages/exports.js'
import { passesPage, type PassesPageDeps } from './pages/passes.js'
import { signInPage } from './pages/sign-in.js'
import { syncPage } from './pages/sync.js'
import { usersPage } from './pages/users.js'
import { visitsPage } from './pages/visits.js'
import { requestsPage } from './pages/requests.js'
import type { CustomerStatements } from '../db/customers.js'
import type { SmsStatsSource, SyncStatusSource } from './ports.js'
import { CONSOLE_CSS, createRender, type ConsoleEnv } from './render.js'
import { checkCsrfToken, readPostedForm, readSession, signedIn } from './session.js'
import type { ConsoleWorker } from './worker.js'

export interface ConsoleRouteDeps {
  config: Config
  views: Views
  clock: Clock
  audit: AuditStatements
  auditLog: ReturnType<typeof consoleAuditStatements>
  auth: ConsoleAuth
  /** Where the long work runs (dashboard, reports, searches, uploads, import checks, CSV). */
  worker: ConsoleWorker
  visitList: VisitList
  customers: CustomerDesk
  /** Privacy (issue 15): block then delete, consents after login, rights requests. */
  privacy: { erasure: Erasure; consents: ConsentDesk; rights: RightsDesk }
  customerRows: CustomerStatements
  marketingCsv: (header: readonly string[]) => string
  campaigns: Campaigns
  sync: SyncStatusSource
  smsStats: SmsStatsSource
  passByMinutes: number
  /** Staff passes (issue 17). */
  passes: PassesPageDeps['passes']
  /** tiers.pass.minutes */
  passMinutes: number
  /** True when the console listener runs TLS: the session cookie is then `Secure`. */
  secure: boolean
  clientAddress: (c: Context) => string | undefined
  log: (line: string) => void
  /** Routes in front of the console's own, with their own checks (/metrics, /readyz). */
  inFront?: Hono
}

/**
 * The manager console: what every request goes through (host check, headers, session, form-post
 * checks), one sub-app per page, and the one error boundary.
 */
export function consoleRoutes(deps: ConsoleRouteDeps) {
  const { config, auth, clock, worker, passByMinutes, clientAddress, secure } = deps
  const timeZone = config.branch.timeZone
  const spanish = spanishTagOf(config.defaultLocale)
  const render = createRender({
    views: deps.views,
    branch: config.branch,
    passByMinutes,
    spanish,
  })
  const app = new Hono<ConsoleEnv>()
  // The fleet's scrape and readiness (src/observe/routes.ts): their own host check and token,
  // no session; first, so nothing of the console runs for them.
  if (deps.inFront) app.route('/', deps.inFront)

  // First of all: only the console's own names (DNS rebinding). A refused request gets one plain
  // sentence in both languages, and nothing else runs: no session read, no cookie, no page.
  app.use(
    '*',
    hostCheck(
      {
        port: config.listen.admin.port,
        boundAddress: config.listen.admin.host,
        names: config.console.hosts,
      },
      (c) => {
        const host = config.listen.admin.host
        const address = `${secure ? 'https' : 'http'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : addressAsHostName(host)}:${config.listen.admin.port}`
        return c.text(
          `${ct('es', 'error.unknownHost', { address })}\n${ct('en', 'error.unknownHost', { address })}\n`,
          421,
          { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' },
        )
      },
    ),
  )

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      xFrameOptions: 'DENY',
      // same-origin (not no-referrer): browsers then send the real Origin on the console's own
      // form posts, so the origin check below means something.
      referrerPolicy: 'same-origin',
      // No HSTS: it would hold a browser to https on this name for months, and an operator may
      // turn the console's TLS off again (console.tls).
      strictTransportSecurity: false,
    }),
  )
  // Pages carry customers' data: no cache keeps a copy (no Hono middleware sets just this).
  app.use('*', async (c, next) => {
    await next()
    c.header('Cache-Control', 'no-store')
  })
  app.use(
    '*',
    readSession({
      auth,
      defaultLocale: asLocale(config.defaultLocale) ?? 'es',
      spain: privacyLawOf(config) === 'gdpr',
      secure,
    }),
  )

  // Every form post: bounded body, same site only, and the CSRF token of the session (or, for
  // the sign-in form, of the pre-sign-in cookie).
  app.post(
    '*',
    bodyLimit({
      maxSize: 5 * 1024 * 1024,
      onError: () => {
        throw new HTTPException(413, { message: 'too large' })
      },
    }),
    refuseCrossSitePosts(),
    readPostedForm(worker),
    checkCsrfToken,
  )

  app.get('/console.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8')
    return c.body(CONSOLE_CSS)
  })
  app.get('/healthz', (c) => c.json({ status: 'ok', listener: 'admin' }))
  app.get('/favicon.ico', (c) => c.body(null, 204))
  app.route('/', signInPage({ render, auth, clientAddress, secure }))

  // Everything below needs a signed-in user.
  app.use('*', signedIn)
  app.route('/', dashboardPage({ render, clock, worker, timeZone, spanish }))
  app.route('/visits', visitsPage({ render, clock, visitList: deps.visitList, timeZone }))
  app.route(
    '/customers',
    customersPage({
      render,
      customers: deps.customers,
      worker,
      consents: deps.privacy.consents,
      rights: deps.privacy.rights,
    }),
  )
  app.route(
    '/export',
    exportsPage({
      render,
      clock,
      audit: deps.audit,
      worker,
      timeZone,
      passByMinutes,
      marketingCsv: deps.marketingCsv,
    }),
  )
  app.route(
    '/requests',
    requestsPage({
      render,
      clock,
      timeZone,
      deadline: rightsDeadlineOf(config.privacy, privacyLawOf(config)),
      spain: privacyLawOf(config) === 'gdpr',
      phoneRules: config.phone,
      rights: deps.privacy.rights,
      customers: deps.customers,
      customerRows: deps.customerRows,
      consents: deps.privacy.consents,
      erasure: deps.privacy.erasure,
    }),
  )
  const campaigns = {
    render,
    clock,
    worker,
    campaigns: deps.campaigns,
    walkInDays: config.console.walkInDays,
  }
  app.route('/campaigns', campaignsPage(campaigns))
  app.route(
    '/passes',
    passesPage({ render, clock, timeZone, passes: deps.passes, defaultMinutes: deps.passMinutes }),
  )
  app.route('/sync', syncPage({ render, clock, sync: deps.sync, smsStats: deps.smsStats }))
  app.route('/audit', auditPage({ render, auditLog: deps.auditLog, timeZone, spanish }))
  app.route('/', usersPage({ render, auth, clientAddress }))
  // Trends against the previous period and the printable weekly report (issue 18).
  app.route(
    '/trends',
    trendsPage({
      render,
      clock,
      worker,
      timeZone,
      walkInDays: config.console.walkInDays,
      branchName: config.branch.name,
      spanish,
    }),
  )

  const importTooLarge = importTooLargePage(campaigns)
  app.notFound((c) =>
    render(c, 'console/error', { title: ct(c.get('locale') ?? 'es', 'error.notFound') }, 404),
  )
  app.onError(async (err, c) => {
    const locale = c.get('locale') ?? 'es'
    // A campaign file over the body limit: the campaigns page says what an import accepts.
    if (
      err instanceof HTTPException &&
      err.status === 413 &&
      c.req.path === '/campaigns/import' &&
      c.get('user')
    ) {
      return importTooLarge(c)
    }
    if (err instanceof HTTPException) {
      // The console's one error boundary: access refusals and missing pages get a calm page in
      // the reader's language; anything else HTTP-ish (too large, malformed) a generic one.
      const known: Record<number, { key: string; status: 401 | 403 | 404 | 413 }> = {
        401: { key: 'error.signedOut', status: 401 },
        403: { key: 'error.forbidden', status: 403 },
        404: { key: 'error.notFound', status: 404 },
        413: { key: 'error.generic', status: 413 },
      }
      const page = known[err.status] ?? { key: 'error.generic', status: 400 as const }
      return render(c, 'console/error', { title: ct(locale, page.key) }, page.status)
    }
    deps.log(`console: ${c.req.method} ${c.req.path} failed: ${err.stack ?? err.message}`)
    return render(c, 'console/error', { title: ct(locale, 'error.generic') }, 500)
  })

  return app
}
