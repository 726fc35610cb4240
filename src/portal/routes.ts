import { Hono, type Context } from 'hono'
import { getCookie } from 'hono/cookie'
import { serialize } from 'hono/utils/cookie'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import { DeviceUnknownError, ChallengeNotFoundError, GateError } from '../errors.js'
import { osFamilyOfUserAgent, type OsFamily } from '../observe/labels.js'
import { noMetrics, secondsSince, type Metrics } from '../observe/metrics.js'
import type { DeviceAccess } from '../access/device-access.js'
import { refuseCrossSitePosts } from '../host-check.js'
import { asLocale, pickLocale, t, type Locale } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { branchTimeFormat } from '../time.js'
import type { Views } from '../views.js'
import type { Challenge, Login } from './login.js'
import { offersWhatsapp } from '../sms/sender.js'
import { PORTAL_CSS, PORTAL_CSS_VERSION, renderPage, sendPage, type PageState } from './page.js'
import { displayPhone } from '../customers/phone.js'
import { readForm } from './form-body.js'
import type { DeviceVariables } from './device.js'
import type { ConsentDesk } from '../customers/consent.js'
import type { FullNotice } from '../privacy/notice.js'

export interface PortalEnv {
  Variables: DeviceVariables & {
    locale: Locale
    page: PageState | undefined
    /** Extra headers for the page this request ends with (see sendPage). */
    pageHeaders: Record<string, string> | undefined
  }
}

export interface PortalDeps {
  config: Config
  views: Views
  login: Login
  access: DeviceAccess
  clock: Clock
  db: Db
  gateBackend: string
  /** Issue 15: withdrawal from the welcome-back page, a new notice accepted on return. */
  consents: Pick<
    ConsentDesk,
    'hasMarketing' | 'noticeVersionOf' | 'withdrawMarketing' | 'acceptNotice'
  >
  /** The full privacy notice per language (src/privacy/notice.ts). */
  notices: Record<Locale, FullNotice>
  /** The funnel per OS family and the time of POST /login and /verify; default: nowhere. */
  metrics?: Metrics
}

const LANG_COOKIE = 'bg_lang'
const DEFAULT_LOCALE = (cfg: Config): Locale => asLocale(cfg.defaultLocale) ?? 'es'

/** The guest-facing routes: splash, code, welcome, the RFC 8908 API and the health check. */
export function portalRoutes(deps: PortalDeps) {
  const { config, views, login } = deps
  const metrics = deps.metrics ?? noMetrics
  const offerWhatsapp = offersWhatsapp(config.sms.providers)
  const app = new Hono<PortalEnv>()
  /** The OS family of the phone asking (a closed set: never the User-Agent itself). */
  const osOf = (c: Context<PortalEnv>): OsFamily => osFamilyOfUserAgent(c.req.header('user-agent'))
  const codeSent = (c: Context<PortalEnv>, ch: Challenge) =>
    metrics.funnel('code_sent', osOf(c), { provider: ch.provider ?? 'other', channel: ch.channel })

  // Phones send a handful of Accept-Language values: remember what each one picked.
  const byAcceptLanguage = new Map<string, Locale>()
  const fallback = DEFAULT_LOCALE(config)
  app.use('*', async (c, next) => {
    // Most requests carry neither a query nor a cookie: skip parsing what is not there.
    const query = c.req.url.includes('?') ? c.req.query('lang') : undefined
    const explicit =
      asLocale(query) ?? (c.req.header('cookie') ? asLocale(getCookie(c, LANG_COOKIE)) : null)
    const accept = c.req.header('accept-language') ?? ''
    let locale = explicit
    if (!locale) {
      locale = byAcceptLanguage.get(accept) ?? null
      if (!locale) {
        locale = pickLocale(undefined, accept, fallback)
        if (byAcceptLanguage.size < 1000) byAcceptLanguage.set(accept, locale)
      }
    }
    if (asLocale(query)) {
      c.set('pageHeaders', {
        'Set-Cookie': serialize(LANG_COOKIE, locale, {
          path: '/',
          maxAge: 365 * 86400,
          sameSite: 'Lax',
          httpOnly: true,
        }),
      })
    }
    c.set('locale', locale)
    await next()
  })
  // Cross-site form posts are refused; one with neither Origin nor Sec-Fetch-Site (captive
  // sheets of older phones) is let in, the code and MAC bind it (see refuseCrossSitePosts).
  app.post('*', refuseCrossSitePosts())
  // The two POSTs a customer waits on, timed whatever their outcome (a refusal's page too).
  for (const route of ['login', 'verify'] as const) {
    app.post(`/${route}`, async (_c, next) => {
      const t0 = performance.now()
      try {
        await next()
      } finally {
        metrics.timing({ op: 'portal', route }, secondsSince(t0))
      }
    })
  }

  /** Who is asking (see deviceLookup); a device the kernel does not know cannot sign in. */
  async function deviceOf(c: Context<PortalEnv>): Promise<Mac> {
    const { ip, mac } = await c.var.device()
    if (!mac) throw new DeviceUnknownError(ip ?? '')
    return mac
  }

  const page = (c: Context<PortalEnv>, view: string, opts: Parameters<typeof renderPage>[4] = {}) =>
    renderPage(views, config, c.get('locale'), view, opts)

  const codePageState = (ch: Challenge, code: string): PageState => ({
    view: 'portal/code',
    values: { code },
    challenge: {
      id: ch.id,
      purpose: ch.purpose,
      digits: ch.digits,
      phoneDisplay: displayPhone(ch.phone),
      resendWait: Math.max(0, Math.ceil((ch.resendAt - deps.clock.now()) / 1000)),
      channel: ch.channel,
      offerWhatsapp,
    },
  })

  // The empty splash page depends only on the locale: render it once per locale.
  const splashCache = new Map<Locale, string>()
  const emptySplashPage = (c: Context<PortalEnv>) => {
    const locale = c.get('locale')
    let html = splashCache.get(locale)
    if (html === undefined) {
      html = page(c, 'portal/splash', { showLangSwitch: true, values: emptySplash })
      splashCache.set(locale, html)
    }
    return sendPage(c, html)
  }

  // The first page every phone opens: one neighbour lookup, and a database read only for a device
  // linked to a customer.
  app.get('/', async (c) => {
    const splash = () => {
      metrics.funnel('splash', osOf(c))
      return emptySplashPage(c)
    }
    if (c.req.url.includes('?') && c.req.query('fresh') !== undefined) return splash()
    const { mac } = await c.var.device()
    if (!mac) return splash()
    const standing = login.standing(mac)
    const locale = c.get('locale')
    if (standing.kind !== 'staff') metrics.funnel('splash', osOf(c))
    switch (standing.kind) {
      case 'staff':
        await login.letStaffThrough(mac)
        return sendPage(c, page(c, 'portal/staff', { title: t(locale, 'staff.title') }))
      case 'remembered':
        return sendPage(c, returningPage(c, standing))
      case 'expired':
        return sendPage(
          c,
          page(c, 'portal/splash', {
            showLangSwitch: true,
            values: { ...emptySplash, name: standing.name },
          }),
        )
      default:
        return emptySplashPage(c)
    }
  })

  // Issue 15: the welcome-back page offers to stop promotions (as easy as ticking them), and
  // asks a returning customer to accept a notice whose version changed since they last did.
  const noticeChanged = (customerId: number) =>
    deps.consents.noticeVersionOf(customerId) !== config.privacy.noticeVersion
  const returningPage = (
    c: Context<PortalEnv>,
    standing: { customerId: number; name: string },
    extra: { error?: string; notice?: string } = {},
  ) => {
    const locale = c.get('locale')
    return page(c, 'portal/returning', {
      title: t(locale, 'returning.title', { name: standing.name }),
      showLangSwitch: true,
      customerName: standing.name,
      marketing: deps.consents.hasMarketing(standing.customerId),
      noticeChanged: noticeChanged(standing.customerId),
      ...extra,
    })
  }

  // "Welcome back": one tap, no code, no SMS. A device no longer remembered gets the splash page.
  app.post('/welcome-back', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const locale = c.get('locale')
    const standing = login.standing(mac)
    if (standing.kind === 'remembered' && noticeChanged(standing.customerId)) {
      if (!isTicked(form.accept)) {
        const error = t(locale, 'notice.acceptNeeded')
        return sendPage(c, returningPage(c, standing, { error }), 422)
      }
      deps.consents.acceptNotice(standing.customerId, mac, locale)
    }
    const back = await login.welcomeBack(mac)
    if (!back) return emptySplashPage(c)
    metrics.funnel('welcome_back', osOf(c))
    metrics.funnel('let_through', osOf(c))
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(locale, 'welcome.close'),
        customerName: back.name,
        untilText: formatLocalTime(back.until, locale, config.branch.timeZone),
      }),
    )
  })

  // "Ya no quiero recibir promociones" from the welcome-back page: the device is remembered, as
  // trusted as the one-tap welcome back itself.
  app.post('/welcome-back/opt-out', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const standing = login.standing(mac)
    if (standing.kind !== 'remembered') return emptySplashPage(c)
    deps.consents.withdrawMarketing(standing.customerId, 'portal', 'portal')
    return sendPage(c, returningPage(c, standing, { notice: t(c.get('locale'), 'optout.done') }))
  })

  // The full privacy notice (second layer), served here before login: no internet needed.
  app.get('/aviso-de-privacidad', (c) => {
    const locale = c.get('locale')
    const other: Locale = locale === 'es' ? 'en' : 'es'
    return sendPage(
      c,
      page(c, 'portal/notice', {
        title: t(locale, 'notice.title'),
        showLangSwitch: true,
        switchLangHref: `/aviso-de-privacidad?lang=${other}`,
        fullNotice: deps.notices[locale],
      }),
    )
  })

  // The opt-out page: any number, the same SMS code as a login, the same answer whatever the
  // number (a customer's or not), so it tells nobody who is a customer.
  const optOutPage = (c: Context<PortalEnv>, phone = '') =>
    page(c, 'portal/opt-out', {
      title: t(c.get('locale'), 'optout.title'),
      showLangSwitch: true,
      switchLangHref: `/promociones?lang=${c.get('locale') === 'es' ? 'en' : 'es'}`,
      values: { phone },
    })
  app.get('/promociones', (c) => sendPage(c, optOutPage(c)))

  app.post('/promociones', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    c.set('page', { view: 'portal/opt-out', values: { phone: form.phone ?? '' } })
    const mac = await deviceOf(c)
    const challenge = await login.startOptOut(form.phone ?? '', mac, c.get('locale'))
    const state = codePageState(challenge, '')
    return sendPage(c, page(c, state.view, { ...state, title: t(c.get('locale'), 'code.title') }))
  })

  app.post('/promociones/verificar', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const id = form.challenge ?? ''
    try {
      login.verifyOptOut(id, mac, form.code ?? '')
    } catch (err) {
      const current = login.describe(id, mac)
      if (!current || current.purpose !== 'opt-out') throw new ChallengeNotFoundError()
      c.set('page', codePageState(current, form.code ?? ''))
      throw err
    }
    const locale = c.get('locale')
    return sendPage(c, page(c, 'portal/opted-out', { title: t(locale, 'optout.doneTitle') }))
  })

  app.get('/portal.css', (c) => {
    return c.body(PORTAL_CSS, 200, {
      'Content-Type': 'text/css; charset=utf-8',
      'Cache-Control': 'public, max-age=86400',
      ETag: `"${PORTAL_CSS_VERSION}"`,
      'X-Content-Type-Options': 'nosniff',
    })
  })

  app.post('/login', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const values = {
      name: form.name ?? '',
      phone: form.phone ?? '',
      consent: isTicked(form.consent),
      marketing: isTicked(form.marketing),
    }
    c.set('page', { view: 'portal/splash', values })
    metrics.funnel('code_requested', osOf(c))
    const mac = await deviceOf(c)
    const challenge = await login.start(values, mac, c.get('locale'))
    codeSent(c, challenge)
    const state = codePageState(challenge, '')
    return sendPage(c, page(c, state.view, { ...state, title: t(c.get('locale'), 'code.title') }))
  })

  const resend = async (c: Context<PortalEnv>) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const current = login.describe(form.challenge ?? '', mac)
    if (!current) throw new ChallengeNotFoundError()
    c.set('page', codePageState(current, ''))
    // The channel the customer picked on the code page; anything else keeps the current one.
    const asked =
      form.channel === 'whatsapp' && offerWhatsapp
        ? 'whatsapp'
        : form.channel === 'sms'
          ? 'sms'
          : undefined
    metrics.funnel('code_requested', osOf(c))
    const next = await login.resend(current.id, mac, asked)
    codeSent(c, next)
    const state = codePageState(next, '')
    return sendPage(
      c,
      page(c, state.view, {
        ...state,
        title: t(c.get('locale'), 'code.title'),
        notice: t(
          c.get('locale'),
          next.channel === 'whatsapp' ? 'code.resent.whatsapp' : 'code.resent',
        ),
      }),
    )
  }
  app.post('/resend', resend)
  app.post('/promociones/reenviar', resend)

  app.post('/verify', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const id = form.challenge ?? ''
    let verified: Awaited<ReturnType<Login['verify']>>
    try {
      verified = await login.verify(id, mac, form.code ?? '')
    } catch (err) {
      // The code was right but the firewall refused: verified, not let through.
      if (err instanceof GateError) metrics.funnel('verified', osOf(c))
      // Any refusal shows this device's code page again, with what was typed; a code that is
      // not this device's shows none.
      const current = login.describe(id, mac)
      if (!current) throw new ChallengeNotFoundError()
      c.set('page', codePageState(current, form.code ?? ''))
      throw err
    }
    const { customer, until } = verified
    metrics.funnel('verified', osOf(c))
    metrics.funnel('let_through', osOf(c))
    const locale = c.get('locale')
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(locale, 'welcome.close'),
        customerName: customer.name,
        untilText: formatLocalTime(until, locale, config.branch.timeZone),
      }),
    )
  })

  app.get('/api/captive', async (c) => {
    const { mac } = await c.var.device()
    const until = mac ? deps.access.liveUntil(mac) : null
    const body: Record<string, unknown> = {
      captive: until === null,
      'user-portal-url': new URL('/', config.publicUrl).href,
    }
    if (until !== null) {
      body['seconds-remaining'] = Math.max(0, Math.floor((until - deps.clock.now()) / 1000))
      body['can-extend-session'] = false
    }
    return c.body(JSON.stringify(body), 200, {
      'Content-Type': 'application/captive+json',
      'Cache-Control': 'private',
    })
  })

  app.get('/healthz', (c) => {
    let db = 'ok'
    try {
      deps.db.prepare('SELECT 1').get()
    } catch {
      db = 'error'
    }
    return c.json(
      {
        status: db === 'ok' ? 'ok' : 'degraded',
        branch: config.branch.id,
        db,
        gate: deps.gateBackend,
      },
      db === 'ok' ? 200 : 503,
    )
  })

  return app
}

const emptySplash = { name: '', phone: '', consent: false, marketing: false }

function isTicked(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== 'no' && v !== 'false' && v !== '0'
}

function useFormLocale(c: Context<PortalEnv>, form: Record<string, string | undefined>) {
  const l = asLocale(form.lang)
  if (l) c.set('locale', l)
}

// Every welcome page within a minute shows the same "until": format each minute once.
const formattedMinutes = new Map<string, string>()

/** "15:26" (es) or "03:26 PM" (en) in the branch's time zone. */
export function formatLocalTime(ms: number, locale: Locale, timeZone: string): string {
  const minuteKey = `${locale} ${timeZone} ${Math.floor(ms / 60_000)}`
  const known = formattedMinutes.get(minuteKey)
  if (known !== undefined) return known
  const f = branchTimeFormat(locale === 'es' ? 'es-MX' : 'en-US', timeZone, {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: locale === 'es' ? 'h23' : 'h12',
  })
  if (formattedMinutes.size >= 1000) formattedMinutes.clear()
  const text = f.format(ms)
  formattedMinutes.set(minuteKey, text)
  return text
}
