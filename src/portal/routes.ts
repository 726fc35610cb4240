import { Hono, type Context } from 'hono'
import { getCookie } from 'hono/cookie'
import { serialize } from 'hono/utils/cookie'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import {
  DeviceUnknownError,
  ChallengeNotFoundError,
  DomainError,
  GateError,
  SendingPausedError,
  SmsSendError,
} from '../errors.js'
import { OS_GROUP_OF, osGroupOfUserAgent, type OsGroup } from '../observe/labels.js'
import { noMetrics, secondsSince, type Metrics } from '../observe/metrics.js'
import type { DeviceAccess } from '../access/device-access.js'
import type { Allowance } from '../access/allowance.js'
import { extendedUntil, extendSession, type ExtendPolicy } from '../access/extension.js'
import type { Passes } from '../access/passes.js'
import { holderOf } from '../access/tiers.js'
import type { AuthorizationRow } from '../db/access.js'
import type { WithoutCode } from './without-code.js'
import { refuseCrossSitePosts } from '../host-check.js'
import {
  asLocale,
  formatTagOf,
  languageOf,
  pickLocale,
  spainAsked,
  spanishOfSpain,
  t,
  voiceOf,
  type Locale,
  type Voice,
} from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { branchTimeFormat } from '../time.js'
import type { Views } from '../views.js'
import type { Challenge, Login } from './login.js'
import { offersWhatsapp } from '../sms/sender.js'
import { PORTAL_CSS, PORTAL_CSS_VERSION, renderPage, sendPage, type PageState } from './page.js'
import { displayPhone } from '../customers/phone.js'
import { readForm } from './form-body.js'
import { osFamilyOf } from '../os-family.js'
import type { DeviceVariables } from './device.js'
import type { ConsentDesk } from '../customers/consent.js'
import type { FullNotice } from '../privacy/notice.js'
import { privacyLawOf } from '../customers/config.js'
import { createFastSplash, type FastSplash, type FastSplashDeps } from './fast-splash.js'

export interface PortalEnv {
  Variables: DeviceVariables & {
    locale: Locale
    /** The catalog the pages are written in: the locale, Spain's or Mexico's Spanish, tú or usted. */
    voice: Voice
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
  // Issue 17: the daily allowance, access without a code, staff passes, session extension.
  allowance: Pick<Allowance, 'remaining' | 'enabled'>
  withoutCode: WithoutCode
  passes: Pick<Passes, 'redeem'>
  extension: {
    access: Pick<DeviceAccess, 'setDeviceState' | 'live'>
    policy: ExtendPolicy
    closesAt: (now: number) => number | null
  }
  /** The funnel per OS family and the time of POST /login and /verify; default: nowhere. */
  metrics?: Metrics
  /** The splash page's URL (publicUrl's `/`); a portal on port 0 knows it once bound. */
  splashUrl?: () => string
  /**
   * The neighbour table's MAC for a socket address when it knows it without a lookup: given,
   * GET / from a phone it knows is answered without the framework when it can be
   * (src/portal/fast-splash.ts).
   */
  knownMac?: FastSplashDeps['known']
}

const LANG_COOKIE = 'bg_lang'
const DEFAULT_LOCALE = (cfg: Config): Locale => asLocale(cfg.defaultLocale) ?? 'es'

/**
 * The guest-facing routes: splash, code, welcome, the RFC 8908 API and the health check; and,
 * with `knownMac`, the splash page's fast path in front of them (`fast`).
 */
export function portalRoutes(deps: PortalDeps): {
  routes: Hono<PortalEnv>
  fast: FastSplash | null
} {
  const { config, views, login } = deps
  const metrics = deps.metrics ?? noMetrics
  const configuredSplash = new URL('/', config.publicUrl).href
  const splashUrl = deps.splashUrl ?? (() => configuredSplash)
  const offerWhatsapp = offersWhatsapp(config.sms.providers)
  const app = new Hono<PortalEnv>()
  /** The OS family of the phone asking (a closed set: never the User-Agent itself). */
  const familyOf = (c: Context<PortalEnv>) => osFamilyOf(c.req.header('user-agent'))
  /** Its group, for the metrics' labels. */
  const osOf = (c: Context<PortalEnv>): OsGroup => OS_GROUP_OF[familyOf(c)]
  const codeSent = (c: Context<PortalEnv>, ch: Challenge) =>
    metrics.funnel('code_sent', osOf(c), { provider: ch.provider ?? 'other', channel: ch.channel })

  // Phones send a handful of Accept-Language values: remember what each one picked.
  const byAcceptLanguage = new Map<string, Voice>()
  const fallback = DEFAULT_LOCALE(config)
  const usted = config.spanishAddress === 'usted'
  const spainByDefault = spainAsked(config.defaultLocale) ?? config.phone.defaultRegion === 'ES'
  // The branch's law names its privacy document, whatever Spanish the reader asks for.
  const spainLaw = privacyLawOf(config) === 'gdpr'
  app.use('*', async (c, next) => {
    // Most requests carry neither a query nor a cookie: skip parsing what is not there.
    const query = c.req.url.includes('?') ? c.req.query('lang') : undefined
    const explicit =
      asLocale(query) ?? (c.req.header('cookie') ? asLocale(getCookie(c, LANG_COOKIE)) : null)
    const accept = c.req.header('accept-language') ?? ''
    let locale = explicit
    let voice: Voice | undefined
    if (!locale) {
      voice = byAcceptLanguage.get(accept)
      if (!voice) {
        const picked = pickLocale(undefined, accept, fallback)
        voice = voiceOf(
          picked,
          picked === 'es' && spanishOfSpain(undefined, accept, spainByDefault),
          usted,
        )
        if (byAcceptLanguage.size < 1000) byAcceptLanguage.set(accept, voice)
      }
      locale = languageOf(voice)
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
    c.set(
      'voice',
      voice ??
        voiceOf(locale, locale === 'es' && spanishOfSpain(query, accept, spainByDefault), usted),
    )
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
    renderPage(views, config, c.get('voice'), view, opts)

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

  // The empty splash page depends only on the locale: render it once per locale, and keep its
  // bytes (a string body is measured and encoded again on every response: issue 20).
  const splashCache = new Map<Voice, Uint8Array>()
  const emptySplashPage = (c: Context<PortalEnv>) => {
    const voice = c.get('voice')
    let html = splashCache.get(voice)
    if (html === undefined) {
      html = Buffer.from(page(c, 'portal/splash', { showLangSwitch: true, values: emptySplash }))
      splashCache.set(voice, html)
    }
    return sendPage(c, html)
  }

  // GET / of a phone with no standing and nothing live, answered before the app when it can be:
  // the same reads as the route below, and the same page.
  const fast = deps.knownMac
    ? createFastSplash({
        known: deps.knownMac,
        page(mac, voice, userAgent) {
          const html = splashCache.get(voice)
          if (html === undefined || login.standing(mac).kind !== 'unknown') return undefined
          if (deps.access.live(mac)) return undefined
          metrics.funnel('splash', osGroupOfUserAgent(userAgent))
          return html
        },
      })
    : null

  // The first page every phone opens: one neighbour lookup, and a database read only for a device
  // linked to a customer.
  app.get('/', async (c) => {
    const splash = () => {
      metrics.funnel('splash', osOf(c))
      return emptySplashPage(c)
    }
    if (c.req.url.includes('?')) {
      if (c.req.query('fresh') !== undefined) return splash()
    } else if (fast && c.req.header('cookie') === undefined) {
      // The voice came from Accept-Language alone, and the Host check passed: the fast path may
      // answer the next request like this one.
      fast.learn(c.env, c.get('voice'))
    }
    const { mac } = await c.var.device()
    if (!mac) return splash()
    const standing = login.standing(mac)
    const locale = c.get('voice')
    if (standing.kind !== 'staff') metrics.funnel('splash', osOf(c))
    if (standing.kind !== 'staff') {
      // Already through: what it has, what is left today, and what it can do (issue 17).
      const live = deps.access.live(mac)
      if (live && live.tier !== 'staff') return onlinePage(c, mac, live)
    }
    switch (standing.kind) {
      case 'staff':
        await login.letStaffThrough(mac)
        return sendPage(c, page(c, 'portal/staff', { title: t(c.get('voice'), 'staff.title') }))
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
      title: t(c.get('voice'), 'returning.title', { name: standing.name }),
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
        const error = t(c.get('voice'), 'notice.acceptNeeded', {}, undefined, spainLaw)
        return sendPage(c, returningPage(c, standing, { error }), 422)
      }
      deps.consents.acceptNotice(standing.customerId, mac, locale)
    }
    const back = await login.welcomeBack(mac, familyOf(c))
    if (!back) return emptySplashPage(c)
    metrics.funnel('welcome_back', osOf(c))
    metrics.funnel('let_through', osOf(c))
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(c.get('voice'), 'welcome.close'),
        customerName: back.name,
        untilText: formatLocalTime(back.until, c.get('voice'), config.branch.timeZone),
        allowanceText: allowanceOf(mac, c.get('voice')),
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
    return sendPage(c, returningPage(c, standing, { notice: t(c.get('voice'), 'optout.done') }))
  })

  // The full privacy notice (second layer), served here before login: no internet needed.
  app.get('/aviso-de-privacidad', (c) => {
    const locale = c.get('locale')
    const other: Locale = locale === 'es' ? 'en' : 'es'
    return sendPage(
      c,
      page(c, 'portal/notice', {
        title: t(c.get('voice'), 'notice.title', {}, undefined, spainLaw),
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
      title: t(c.get('voice'), 'optout.title'),
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
    return sendPage(c, page(c, state.view, { ...state, title: t(c.get('voice'), 'code.title') }))
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
    return sendPage(
      c,
      page(c, 'portal/opted-out', { title: t(c.get('voice'), 'optout.doneTitle') }),
    )
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
    const values = splashValues(form)
    c.set('page', { view: 'portal/splash', values })
    metrics.funnel('code_requested', osOf(c))
    const mac = await deviceOf(c)
    let challenge: Challenge
    try {
      challenge = await login.start(values, mac, c.get('locale'))
    } catch (err) {
      // No code can go (issue 17): the same page offers access without one, if it may.
      const cannotSend =
        err instanceof SmsSendError
          ? 'providers'
          : err instanceof SendingPausedError && err.reason !== 'prefix'
            ? err.reason
            : null
      if (cannotSend && deps.withoutCode.offered(mac, values.phone, cannotSend))
        c.set('page', {
          view: 'portal/splash',
          values,
          withoutCode: { minutes: config.tiers.unverified.minutes },
        })
      throw err
    }
    codeSent(c, challenge)
    const state = codePageState(challenge, '')
    return sendPage(c, page(c, state.view, { ...state, title: t(c.get('voice'), 'code.title') }))
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
        title: t(c.get('voice'), 'code.title'),
        notice: t(
          c.get('voice'),
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
      verified = await login.verify(id, mac, form.code ?? '', familyOf(c))
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
    // A device that was through without a code is now verified, without reconnecting: the
    // login's commit marked it (LoginDeps.upgraded).
    const { customer, until, returning } = verified
    metrics.funnel('verified', osOf(c))
    metrics.funnel('let_through', osOf(c))
    const locale = c.get('voice')
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(c.get('voice'), 'welcome.close'),
        customerName: customer.name,
        // A customer seen before is greeted by first name, now that the code proved the number.
        greeting: returning
          ? t(c.get('voice'), 'welcome.title.returning', { name: firstName(customer.name) })
          : null,
        untilText: formatLocalTime(until, c.get('voice'), config.branch.timeZone),
        allowanceText: allowanceOf(mac, c.get('voice')),
      }),
    )
  })

  // Issue 17: access without a code, offered on the splash page when no code can be sent.
  app.post('/without-code', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const values = splashValues(form)
    c.set('page', { view: 'portal/splash', values })
    const mac = await deviceOf(c)
    const locale = c.get('locale')
    const { until } = await deps.withoutCode.grant(values, mac, locale)
    metrics.funnel('let_through_unverified', osOf(c))
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(c.get('voice'), 'welcome.close'),
        customerName: null,
        withoutCode: true,
        untilText: formatLocalTime(until, c.get('voice'), config.branch.timeZone),
      }),
    )
  })

  // From the online page of a device through without a code: a code to the number it typed.
  app.post('/upgrade', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const grant = deps.withoutCode.current(mac)
    if (!grant) return c.redirect('/', 303)
    const locale = c.get('locale')
    let challenge: Challenge
    try {
      challenge = await login.start(
        {
          name: grant.name,
          phone: grant.phone_e164,
          consent: true,
          marketing: grant.marketing === 1,
        },
        mac,
        locale,
      )
    } catch (err) {
      const live = deps.access.live(mac)
      if (!(err instanceof DomainError) || !live) throw err
      const minutes = Math.max(1, Math.ceil(Number(err.params.wait ?? 0) / 60))
      return onlinePage(c, mac, live, {
        error: t(c.get('voice'), err.key, { ...err.params, minutes }),
        status: err.status,
      })
    }
    const state = codePageState(challenge, '')
    return sendPage(c, page(c, state.view, { ...state, title: t(c.get('voice'), 'code.title') }))
  })

  app.post('/extend', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const mac = await deviceOf(c)
    const locale = c.get('locale')
    let until: number
    try {
      until = await extendSession(deps.extension, mac, deps.clock.now())
    } catch (err) {
      const live = deps.access.live(mac)
      if (!(err instanceof DomainError) || !live) throw err
      return onlinePage(c, mac, live, { error: t(c.get('voice'), err.key), status: err.status })
    }
    const live = deps.access.live(mac)!
    return onlinePage(c, mac, live, {
      notice: t(c.get('voice'), 'extend.done', {
        until: formatLocalTime(until, c.get('voice'), config.branch.timeZone),
      }),
    })
  })

  // Staff passes: a walk-in without a usable mobile types the code a manager gave them.
  app.get('/pass', (c) =>
    sendPage(
      c,
      page(c, 'portal/pass', {
        title: t(c.get('voice'), 'pass.title'),
        showLangSwitch: true,
        values: { pass: '' },
      }),
    ),
  )

  app.post('/pass', async (c) => {
    const form = await readForm(c)
    useFormLocale(c, form)
    const typed = (form.pass ?? '').slice(0, 32)
    c.set('page', { view: 'portal/pass', values: { pass: typed } })
    const mac = await deviceOf(c)
    const locale = c.get('locale')
    const { until, name } = await deps.passes.redeem(typed, mac)
    metrics.funnel('let_through_pass', osOf(c))
    return sendPage(
      c,
      page(c, 'portal/welcome', {
        title: t(c.get('voice'), 'welcome.close'),
        customerName: name,
        untilText: formatLocalTime(until, c.get('voice'), config.branch.timeZone),
        allowanceText: allowanceOf(mac, c.get('voice')),
      }),
    )
  })

  /** The welcome pages' allowance line: without an allowance, no read of the device's access. */
  function allowanceOf(mac: Mac, voice: Voice): string | null {
    return deps.allowance.enabled ? allowanceText(deps.access.live(mac), voice) : null
  }

  /** "You have 420 MB left today", or that the day's data is used; null without an allowance. */
  function allowanceText(live: AuthorizationRow | null, locale: Voice): string | null {
    const holder = live ? holderOf(live) : null
    if (!live || !holder) return null
    const left = deps.allowance.remaining(holder, deps.clock.now())
    if (left === null) return null
    if (left === 0 || live.slowed) return t(locale, 'allowance.used')
    return t(locale, 'allowance.left', { left: formatBytes(left, locale) })
  }

  /**
   * The page of a device already through: until when, what is left today, and what it can do
   * (extend, verify its number). A pending notice is shown here, and so given.
   */
  async function onlinePage(
    c: Context<PortalEnv>,
    mac: Mac,
    live: AuthorizationRow,
    opts: { error?: string; notice?: string; status?: number } = {},
  ) {
    const locale = c.get('locale')
    const now = deps.clock.now()
    const tz = config.branch.timeZone
    const extendTo = extendedUntil(live, now, deps.extension.policy, deps.extension.closesAt(now))
    const standing = login.standing(mac)
    const grant = live.tier === 'unverified' ? deps.withoutCode.current(mac) : null
    let notice = opts.notice ?? null
    let allowance = allowanceText(live, c.get('voice'))
    if (live.notice) {
      notice = t(c.get('voice'), 'allowance.used')
      allowance = null
      await deps.access.noticeShown(mac)
    }
    return sendPage(
      c,
      page(c, 'portal/online', {
        title: t(c.get('voice'), 'online.title'),
        showLangSwitch: true,
        customerName: live.tier === 'verified' && 'name' in standing ? standing.name : null,
        untilText: formatLocalTime(live.ends_at, c.get('voice'), tz),
        tier: live.tier,
        allowanceText: allowance,
        extendTo: extendTo === null ? null : formatLocalTime(extendTo, c.get('voice'), tz),
        upgrade:
          grant && deps.withoutCode.codesWork()
            ? { phoneDisplay: displayPhone(grant.phone_e164) }
            : null,
        error: opts.error ?? null,
        notice,
      }),
      opts.status ?? 200,
    )
  }

  app.get('/api/captive', async (c) => {
    const { mac } = await c.var.device()
    const live = mac ? deps.access.live(mac) : null
    const body: Record<string, unknown> = {
      captive: live === null,
      'user-portal-url': splashUrl(),
    }
    if (live !== null) {
      const now = deps.clock.now()
      body['seconds-remaining'] = Math.max(0, Math.floor((live.ends_at - now) / 1000))
      // The day's allowance left (issue 17); at 0 the device is slowed, not made captive.
      const holder = holderOf(live)
      const left = holder ? deps.allowance.remaining(holder, now) : null
      if (left !== null) body['bytes-remaining'] = left
      body['can-extend-session'] =
        extendedUntil(live, now, deps.extension.policy, deps.extension.closesAt(now)) !== null
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

  return { routes: app, fast }
}

/** The first word of a name ("María José Pérez" → "María"), for a greeting. */
export function firstName(name: string): string {
  return name.split(' ')[0] ?? name
}

const emptySplash = { name: '', phone: '', consent: false, marketing: false }

function isTicked(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== 'no' && v !== 'false' && v !== '0'
}

function useFormLocale(c: Context<PortalEnv>, form: Record<string, string | undefined>) {
  const l = asLocale(form.lang)
  if (l && l !== c.get('locale')) {
    c.set('locale', l)
    // The form says only the language: Spain's Spanish stays as the request's was.
    const voice = c.get('voice')
    c.set('voice', voiceOf(l, voice.startsWith('es-ES'), voice.endsWith('usted')))
  }
}

// Every welcome page within a minute shows the same "until": format each minute once.
const formattedMinutes = new Map<string, string>()

/** "15:26" (es) or "03:26 PM" (en) in the branch's time zone. */
export function formatLocalTime(ms: number, locale: Voice, timeZone: string): string {
  const tag = formatTagOf(locale)
  const minuteKey = `${tag} ${timeZone} ${Math.floor(ms / 60_000)}`
  const known = formattedMinutes.get(minuteKey)
  if (known !== undefined) return known
  const f = branchTimeFormat(tag, timeZone, {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: tag === 'en-US' ? 'h12' : 'h23',
  })
  if (formattedMinutes.size >= 1000) formattedMinutes.clear()
  const text = f.format(ms)
  formattedMinutes.set(minuteKey, text)
  return text
}

/** What the splash form sent, kept to fill the form again if it is refused (login and no-code). */
function splashValues(form: Record<string, string | undefined>) {
  return {
    name: form.name ?? '',
    phone: form.phone ?? '',
    consent: isTicked(form.consent),
    marketing: isTicked(form.marketing),
  }
}

/** 420 MB, or 1.5 GB from a thousand MB on (decimal units, as phones show data use). */
export function formatBytes(bytes: number, locale: Voice): string {
  const f = new Intl.NumberFormat(formatTagOf(locale), {
    maximumFractionDigits: 1,
  })
  const mb = bytes / 1_000_000
  return mb >= 1000 ? `${f.format(mb / 1000)} GB` : `${Math.floor(mb)} MB`
}
