import { parseMac } from '../mac.js'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { AuditStatements } from '../db/audit.js'
import type { consoleAuditStatements } from '../db/console.js'
import type { Db } from '../db/open.js'
import { addressAsHostName, hostCheck, refuseCrossSitePosts } from '../host-check.js'
import { pickLocale, asLocale, type Locale } from '../i18n/messages.js'
import { displayPhone } from '../customers/phone.js'
import type { Views } from '../views.js'
import {
  AccountError,
  ConsoleLoginError,
  sameToken,
  type ConsoleAuth,
  type ConsoleUser,
} from './auth.js'
import { describeAudit } from './audit-text.js'
import { tooBigImport, type Campaigns } from './campaigns.js'
import { barChart, heatmapChart, trendChart, activeHours } from './charts.js'
import type { CustomerDesk } from './customers.js'
import { DWELL_BUCKETS } from './dashboard.js'
import { formFields } from './form.js'
import { createVisitList } from './exports.js'
import { ct, formatters } from './messages.js'
import type { SmsStatsSource, SyncStatusSource } from './ports.js'
import { resolveRange } from './time.js'
import type { ConsoleWorker } from './worker.js'

export const CONSOLE_CSS = readFileSync(
  fileURLToPath(new URL('../../public/console.css', import.meta.url)),
)
const CSS_VERSION = createHash('sha256').update(CONSOLE_CSS).digest('hex').slice(0, 10)

export const SESSION_COOKIE = 'bg_console'
export const LOGIN_COOKIE = 'bg_console_login'
const LANG_COOKIE = 'bg_console_lang'

export interface ConsoleEnv {
  Variables: { locale: Locale; user: ConsoleUser | null; form: Record<string, string> }
}

export interface ConsoleRouteDeps {
  config: Config
  db: Db
  views: Views
  clock: Clock
  audit: AuditStatements
  auditLog: ReturnType<typeof consoleAuditStatements>
  auth: ConsoleAuth
  /** Where the long work runs (dashboard, reports, searches, uploads, import checks, CSV). */
  worker: ConsoleWorker
  customers: CustomerDesk
  campaigns: Campaigns
  sync: SyncStatusSource
  smsStats: SmsStatsSource
  passByMinutes: number
  /** True when the console listener runs TLS: the session cookie is then `Secure`. */
  secure: boolean
  clientAddress: (c: Context) => string | undefined
  log: (line: string) => void
}

/** The manager console: sign-in, dashboard, visits, customers, exports, campaigns, sync, audit. */
export function consoleRoutes(deps: ConsoleRouteDeps) {
  const { config, views, auth } = deps
  const tz = config.branch.timeZone
  const visitList = createVisitList(deps.db, deps.passByMinutes)
  const app = new Hono<ConsoleEnv>()

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
        const address = `${deps.secure ? 'https' : 'http'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : addressAsHostName(host)}:${config.listen.admin.port}`
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
  app.use('*', async (c, next) => {
    await next()
    c.header('Cache-Control', 'no-store')
  })

  app.use('*', async (c, next) => {
    const query = asLocale(c.req.query('lang'))
    if (query)
      setCookie(c, LANG_COOKIE, query, {
        path: '/',
        maxAge: 365 * 86400,
        sameSite: 'Strict',
        httpOnly: true,
        secure: deps.secure,
      })
    c.set(
      'locale',
      pickLocale(
        query ?? getCookie(c, LANG_COOKIE),
        c.req.header('accept-language'),
        asLocale(config.defaultLocale) ?? 'es',
      ),
    )
    c.set('user', auth.session(getCookie(c, SESSION_COOKIE)))
    await next()
  })

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
    async (c, next) => {
      const contentType = c.req.header('content-type') ?? ''
      // An upload (the campaign import, up to 5 MB) is parsed in the console's worker: ~100 ms
      // of JavaScript the portal's guests would otherwise wait behind.
      const body = await c.req.arrayBuffer().catch(() => new ArrayBuffer(0))
      const form = /^multipart\/form-data\b/i.test(contentType)
        ? await deps.worker.readMultipart(body, contentType)
        : await formFields(body, contentType)
      c.set('form', form)
      const user = c.get('user')
      const expected = c.req.path === '/login' ? getCookie(c, LOGIN_COOKIE) : user?.csrf
      if (!expected || !sameToken(form._csrf, expected)) {
        throw new HTTPException(403, { message: 'missing or wrong CSRF token' })
      }
      await next()
    },
  )

  const render = (
    c: Context<ConsoleEnv>,
    view: string,
    data: Record<string, unknown> = {},
    status: 200 | 400 | 401 | 403 | 404 | 413 | 422 | 429 | 500 = 200,
  ) => {
    const locale = c.get('locale')
    const user = c.get('user')
    const f = formatters(locale, tz)
    const other: Locale = locale === 'es' ? 'en' : 'es'
    return c.html(
      views.render(view, {
        otherLocale: other,
        langHref: switchLanguageHref(c.req.method, c.req.url, other),
        locale,
        t: (key: string, params?: Record<string, string | number>) => ct(locale, key, params),
        f,
        user,
        csrf: user?.csrf ?? '',
        branch: config.branch,
        cssVersion: CSS_VERSION,
        path: c.req.path,
        url: c.req.url,
        displayPhone,
        passByMinutes: deps.passByMinutes,
        error: null,
        notice: null,
        ...data,
      }),
      status,
    )
  }

  app.get('/console.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8')
    return c.body(CONSOLE_CSS)
  })
  app.get('/healthz', (c) => c.json({ status: 'ok', listener: 'admin' }))
  app.get('/favicon.ico', (c) => c.body(null, 204))

  const loginPage = (
    c: Context<ConsoleEnv>,
    data: Record<string, unknown>,
    status: 200 | 401 | 429 = 200,
  ) => {
    // Reuse the pre-sign-in token while it lives: a second sign-in page (another tab, or a
    // browser's favicon request bounced to /login) must not invalidate the first form.
    const existing = getCookie(c, LOGIN_COOKIE)
    const token =
      existing && /^[A-Za-z0-9_-]{24}$/.test(existing)
        ? existing
        : randomBytes(18).toString('base64url')
    setCookie(c, LOGIN_COOKIE, token, {
      path: '/login',
      httpOnly: true,
      sameSite: 'Strict',
      secure: deps.secure,
    })
    return render(
      c,
      'console/login',
      { loginCsrf: token, next: safeNext(c.req.query('next'), c.req.url), name: '', ...data },
      status,
    )
  }

  app.get('/login', (c) => (c.get('user') ? c.redirect('/', 303) : loginPage(c, {})))

  app.post('/login', async (c) => {
    const form = c.get('form')
    const name = (form.name ?? '').trim().slice(0, 40)
    const next = safeNext(form.next, c.req.url)
    try {
      const { token, user } = await auth.login(
        name,
        form.password ?? '',
        deps.clientAddress(c) ?? 'unknown',
      )
      setCookie(c, SESSION_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'Strict',
        secure: deps.secure,
      })
      deleteCookie(c, LOGIN_COOKIE, { path: '/login' })
      return c.redirect(user.mustChange ? '/password' : next, 303)
    } catch (err) {
      if (!(err instanceof ConsoleLoginError)) throw err
      const locale = c.get('locale')
      if (err.reason === 'throttled') {
        c.header('Retry-After', String(err.retryAfterSeconds))
        return loginPage(
          c,
          {
            name,
            next,
            error: ct(locale, 'login.throttled', {
              minutes: Math.ceil(err.retryAfterSeconds / 60),
            }),
          },
          429,
        )
      }
      return loginPage(c, { name, next, error: ct(locale, 'login.invalid') }, 401)
    }
  })

  // Everything below needs a signed-in user.
  app.use('*', async (c, next) => {
    const user = c.get('user')
    if (!user) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        const target = c.req.path + (new URL(c.req.url).search || '')
        return c.redirect(`/login?next=${encodeURIComponent(target)}`, 303)
      }
      throw new HTTPException(401, { message: 'not signed in' })
    }
    if (user.mustChange && c.req.path !== '/password' && c.req.path !== '/logout')
      return c.redirect('/password', 303)
    await next()
  })

  const adminOnly: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
    if (c.get('user')?.role !== 'admin') throw new HTTPException(403, { message: 'admins only' })
    await next()
  }

  app.post('/logout', (c) => {
    auth.logout(c.get('user')!)
    deleteCookie(c, SESSION_COOKIE, { path: '/' })
    return c.redirect('/login', 303)
  })

  app.get('/password', (c) => render(c, 'console/password', { forced: c.get('user')!.mustChange }))
  app.post('/password', async (c) => {
    const form = c.get('form')
    const user = c.get('user')!
    const locale = c.get('locale')
    if ((form.next ?? '') !== (form.again ?? '')) {
      return render(
        c,
        'console/password',
        { forced: user.mustChange, error: ct(locale, 'password.mismatch') },
        422,
      )
    }
    try {
      await auth.changeOwnPassword(
        user,
        form.current ?? '',
        form.next ?? '',
        deps.clientAddress(c) ?? 'unknown',
      )
    } catch (err) {
      if (err instanceof ConsoleLoginError) {
        c.header('Retry-After', String(err.retryAfterSeconds))
        const error = ct(locale, 'login.throttled', {
          minutes: Math.ceil(err.retryAfterSeconds / 60),
        })
        return render(c, 'console/password', { forced: user.mustChange, error }, 429)
      }
      if (!(err instanceof AccountError)) throw err
      const key = err.message === 'wrong-current' ? 'password.wrongCurrent' : 'password.weak'
      return render(c, 'console/password', { forced: user.mustChange, error: ct(locale, key) }, 422)
    }
    return c.redirect('/?changed=1', 303)
  })

  app.get('/', async (c) => {
    const locale = c.get('locale')
    const now = deps.clock.now()
    const range = resolveRange(
      { range: c.req.query('range'), from: c.req.query('from'), to: c.req.query('to') },
      now,
      tz,
    )
    const figures = await deps.worker.figures(range, now)
    const f = formatters(locale, tz)
    const bucketLabels = DWELL_BUCKETS.map((b) =>
      b.to === null ? `> ${b.from}` : b.from === 0 ? `< ${b.to}` : `${b.from}–${b.to}`,
    )
    const dayLabels = ct(locale, 'dash.weekdays').split(',')
    return render(c, 'console/dashboard', {
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

  app.get('/visits', (c) => {
    const now = deps.clock.now()
    const range = resolveRange(
      { range: c.req.query('range'), from: c.req.query('from'), to: c.req.query('to') },
      now,
      tz,
    )
    const m = /^(\d{1,15})\.([0-9a-f-]{1,40})$/.exec(c.req.query('after') ?? '')
    const page = visitList(range, m ? { start: Number(m[1]), id: m[2]! } : null)
    return render(c, 'console/visits', { range, page, passByMinutes: deps.passByMinutes })
  })

  app.get('/customers', async (c) => {
    const q = c.req.query('q') ?? ''
    return render(c, 'console/customers', {
      q,
      results: await deps.worker.searchCustomers(q),
      notice: c.req.query('erased') ? ct(c.get('locale'), 'customer.erased') : null,
    })
  })

  const customerId = (c: Context<ConsoleEnv>) => {
    const id = Number(c.req.param('id'))
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new HTTPException(404, { message: 'no such customer' })
    return id
  }

  app.get('/customers/:id', (c) => {
    const file = deps.customers.page(customerId(c))
    if (!file) throw new HTTPException(404, { message: 'no such customer' })
    return render(c, 'console/customer', { file, passByMinutes: deps.passByMinutes })
  })

  app.post('/customers/:id/export', (c) => {
    const id = customerId(c)
    const data = deps.customers.exportFile(id, `user:${c.get('user')!.name}`)
    if (!data) throw new HTTPException(404, { message: 'no such customer' })
    return c.body(JSON.stringify(data, null, 2), 200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="customer-${id}.json"`,
    })
  })

  // Staff devices get through without the portal and stay out of the figures (issue 4).
  app.post('/customers/:id/devices/:mac/staff', adminOnly, (c) => {
    const id = customerId(c)
    const mac = parseMac(c.req.param('mac'))
    if (!mac) throw new HTTPException(404, { message: 'no such device' })
    const staff = c.get('form').staff === '1'
    if (!deps.customers.setStaff(id, mac, staff, `user:${c.get('user')!.name}`)) {
      throw new HTTPException(404, { message: 'no such device' })
    }
    return c.redirect(`/customers/${id}`, 303)
  })

  app.get('/customers/:id/erase', adminOnly, (c) => {
    const file = deps.customers.page(customerId(c))
    if (!file || file.customer.erased_at)
      throw new HTTPException(404, { message: 'no such customer' })
    return render(c, 'console/erase', { file })
  })

  app.post('/customers/:id/erase', adminOnly, async (c) => {
    const id = customerId(c)
    const file = deps.customers.page(id)
    if (!file || file.customer.erased_at)
      throw new HTTPException(404, { message: 'no such customer' })
    if (c.get('form').confirm !== 'yes') {
      return render(
        c,
        'console/erase',
        { file, error: ct(c.get('locale'), 'erase.confirmNeeded') },
        422,
      )
    }
    await deps.customers.erase(id, `user:${c.get('user')!.name}`)
    return c.redirect('/customers?erased=1', 303)
  })

  app.get('/export', (c) => {
    const range = resolveRange(
      { range: c.req.query('range') ?? '30', from: c.req.query('from'), to: c.req.query('to') },
      deps.clock.now(),
      tz,
    )
    return render(c, 'console/export', { range })
  })

  app.post('/export/visits.csv', (c) => {
    const form = c.get('form')
    const range = resolveRange(
      { range: 'custom', from: form.from, to: form.to },
      deps.clock.now(),
      tz,
    )
    const delimiter = form.delimiter === 'semicolon' ? ';' : ','
    const user = c.get('user')!
    deps.audit.record({
      at: deps.clock.now(),
      actor: `user:${user.name}`,
      action: 'visits.export',
      detail: { from: range.from, to: range.to, format: 'csv' },
    })
    const stream = deps.worker.visitsCsv({
      range,
      timeZone: tz,
      passByMinutes: deps.passByMinutes,
      delimiter,
      header: ct(c.get('locale'), 'export.header').split(','),
    })
    return new Response(stream, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="visits-${range.from}_${range.to}.csv"`,
      },
    })
  })

  const walkInDays = (c: Context<ConsoleEnv>) => {
    const n = Number(c.req.query('days'))
    return Number.isInteger(n) && n >= 1 && n <= 90 ? n : config.console.walkInDays
  }

  app.get('/campaigns', async (c) => {
    const days = walkInDays(c)
    return render(c, 'console/campaigns', {
      days,
      reports: await deps.worker.campaignReports(days, deps.clock.now()),
      result: null,
    })
  })

  app.post('/campaigns/import', async (c) => {
    const form = c.get('form')
    const days = config.console.walkInDays
    const text = form.file || form.csv || ''
    // Checked off the portal's thread; written on it in chunks (see ConsoleWorker).
    const checked = await deps.worker.checkCampaignCsv(text)
    const result = checked.ok
      ? await deps.campaigns.importRows(checked.rows, `user:${c.get('user')!.name}`)
      : checked
    return render(
      c,
      'console/campaigns',
      { days, reports: await deps.worker.campaignReports(days, deps.clock.now()), result },
      result.ok ? 200 : result.status,
    )
  })

  app.get('/campaigns/report', async (c) => {
    const days = walkInDays(c)
    const report = await deps.worker.campaignReport(c.req.query('c') ?? '', days, deps.clock.now())
    if (!report) throw new HTTPException(404, { message: 'no such campaign' })
    return render(c, 'console/campaign', { days, report })
  })

  app.get('/sync', adminOnly, (c) =>
    render(c, 'console/sync', {
      status: deps.sync.status(deps.clock.now()),
      sms: deps.smsStats.stats(deps.clock.now()),
    }),
  )

  app.get('/audit', adminOnly, (c) => {
    const action = (c.req.query('action') ?? '').slice(0, 40)
    const before = Number(c.req.query('before'))
    const limit = 200
    const entries = deps.auditLog.page({
      beforeId: Number.isSafeInteger(before) && before > 0 ? before : null,
      actionPrefix: action,
      limit,
    })
    const last = entries[entries.length - 1]
    const f = formatters(c.get('locale'), tz)
    return render(c, 'console/audit', {
      entries: entries.map((e) => describeAudit(e, c.get('locale'), f)),
      action,
      olderThan: entries.length === limit && last ? last.id : null,
    })
  })

  app.get('/users', adminOnly, (c) => render(c, 'console/users', { users: auth.list() }))

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
      const days = config.console.walkInDays
      return render(
        c,
        'console/campaigns',
        {
          days,
          reports: await deps.worker.campaignReports(days, deps.clock.now()),
          result: tooBigImport(),
        },
        413,
      )
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

/**
 * Where the language link goes: the same page (its query kept) for a page read with GET; after
 * a form post, the page the form belongs to is not addressable, so the sign-in page or home.
 * A request for `//evil.example/x` has that path: it is written with one leading slash, so the
 * link never turns into a protocol-relative one.
 */
export function switchLanguageHref(method: string, url: string, lang: Locale): string {
  const u = new URL(url)
  if (method !== 'GET') return `${u.pathname === '/login' ? '/login' : '/'}?lang=${lang}`
  u.searchParams.set('lang', lang)
  return `/${u.pathname.replace(/^\/+/, '')}${u.search}`
}

/**
 * Where sign-in sends the reader: `next` resolved as a URL against the console's own origin
 * (`requestUrl`), kept only when it stays on that origin; then its path and query, which is all
 * the Location header gets. Control characters are refused before parsing (the URL parser drops
 * tab, CR and LF silently, so `/\t/evil.example` would become `//evil.example`), so are
 * backslashes (browsers read them as `/`), and so is a path that still starts with `//` once
 * resolved (`/..//evil.example`), which a browser would read as another host. Anything else: "/".
 */
export function safeNext(next: string | undefined, requestUrl: string): string {
  if (!next || next.length > 500 || /[\u0000-\u001f\u007f-\u009f\\]/.test(next)) return '/'
  let target: URL
  let origin: string
  try {
    origin = new URL(requestUrl).origin
    target = new URL(next, origin)
  } catch {
    return '/'
  }
  if (target.origin !== origin || target.pathname.startsWith('//')) return '/'
  return target.pathname + target.search
}
