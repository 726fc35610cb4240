import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Config } from './config.js'
import { createConsole } from './console/index.js'
import type { ConsoleWorkerFactory } from './console/worker.js'
import {
  CodeExpiredError,
  DomainError,
  InvalidCodeError,
  RateLimitedError,
  SendingPausedError,
  TooManyAttemptsError,
  UnavailableError,
  ValidationError,
} from './errors.js'
import type { NeighbourTable } from './gate/neighbours.js'
import type { Mac } from './mac.js'
import { asLocale, languageOf, t, type Voice } from './i18n/messages.js'
import { deviceLookup } from './portal/device.js'
import { captiveDetection, createFastProbes, type Probe } from './portal/probes.js'
import { osGroupOfProbe, osGroupOfUserAgent, refusalReasonOf } from './observe/labels.js'
import type { Metrics } from './observe/metrics.js'
import { renderPage, sendPage } from './portal/page.js'
import { portalRoutes, type PortalEnv } from './portal/routes.js'
import type { Services } from './services.js'
import { loadViews, type Views } from './views.js'
import { fullNotices } from './privacy/notice.js'

/** What the listeners' apps need beyond the services: the edges to the kernel and the thread. */
export interface AppEdges {
  /** The kernel's neighbour table: who a request's TCP peer is. */
  neighbours: NeighbourTable
  /** The TCP peer of a request. Defaults to the Node socket's remote address. */
  clientAddress?: (c: Context) => string | undefined
  views?: Views
  /** Where the console's long work runs (main.ts: a worker thread; default: inline). */
  consoleWorker?: ConsoleWorkerFactory
  /** /metrics and /readyz for the admin listener (src/observe/); default: none. */
  observe?: Hono
  /**
   * The portal's URL, asked when a guest is sent to it (default: config.publicUrl). main.ts
   * passes the bound one for a portal on port 0, instead of mounting the apps a second time.
   */
  publicUrl?: () => string
}

const socketAddress = (c: Context): string | undefined => {
  try {
    return getConnInfo(c).remote.address
  } catch {
    return undefined
  }
}

/**
 * Mounts the portal (guest listener) and the console (admin listener) on the services
 * (src/services.ts). Builds no service of its own.
 */
export function createApp(services: Services, edges: AppEdges) {
  const { config, access, login, log, metrics } = services
  const views = edges.views ?? loadViews()
  const clientAddress = edges.clientAddress ?? socketAddress
  const publicUrl = edges.publicUrl ?? (() => config.publicUrl)
  // The splash page's URL, worked out again only when publicUrl changes (once, on port 0).
  let splash = { of: '', href: '' }
  const splashUrl = () => {
    const url = publicUrl()
    if (url !== splash.of) splash = { of: url, href: new URL('/', url).href }
    return splash.href
  }

  // A device with something to be told (its allowance ran out) gets the portal once more.
  const onlineMac = (mac: Mac) => {
    const live = access.live(mac)
    return live !== null && live.notice === 0
  }
  const onCaptiveProbe = (probe: Probe, userAgent: string | undefined) => {
    // The probe table knows who sends it; a probe others send too (Firefox's) asks the UA.
    const os = osGroupOfProbe(probe.os)
    metrics.funnel('probe', os === 'other' ? osGroupOfUserAgent(userAgent) : os)
  }
  // The fast paths in front of the app (src/portal/fast-splash.ts, createFastProbes): only when a
  // request's device is its socket's peer; a clientAddress given by the caller (tests, a proxy)
  // is asked through the app.
  const knownMac = !edges.clientAddress ? edges.neighbours.known : undefined
  const fastProbes = knownMac
    ? createFastProbes({ known: knownMac, online: onlineMac, onCaptiveProbe, splashUrl })
    : null

  const portal = new Hono<PortalEnv>()
  portal.use('*', deviceLookup({ neighbours: edges.neighbours, clientAddress }))
  portal.use(
    '*',
    captiveDetection({
      splashUrl,
      portalHosts: [new URL(config.publicUrl).host, new URL(config.publicUrl).hostname],
      listener: config.listen.portal,
      async isOnline(c) {
        const { mac } = await (c as Context<PortalEnv>).var.device()
        return mac !== null && onlineMac(mac)
      },
      onCaptiveProbe,
      ...(fastProbes ? { foreign: (c: Context) => fastProbes.learn(c.env) } : {}),
    }),
  )
  const { routes, fast } = portalRoutes({
    config,
    views,
    login,
    access,
    clock: services.clock,
    db: services.db,
    gateBackend: config.gate.backend,
    consents: services.consents,
    notices: fullNotices(config),
    allowance: services.allowance,
    withoutCode: services.withoutCode,
    passes: services.passes,
    extension: services.extension,
    metrics,
    splashUrl,
    ...(knownMac ? { knownMac } : {}),
  })
  portal.route('/', routes)
  portal.notFound((c) => {
    const locale = c.get('voice') ?? 'es'
    return sendPage(
      c,
      renderPage(views, config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: t(locale, 'error.notFound'),
      }),
      404,
    )
  })
  portal.onError((err, c) => {
    try {
      return portalError(err, c, { views, config, log, metrics })
    } catch (failed) {
      // Even the error page failed: a plain sentence rather than the server's bare 500.
      log(`portal: the error page for ${c.req.path} failed: ${(failed as Error).stack ?? failed}`)
      const locale: Voice = c.get('voice') ?? 'es'
      return c.text(t(locale, 'error.unexpected'), 503, { 'Retry-After': '5' })
    }
  })

  const { app: admin, worker: consoleWorker } = createConsole({
    config,
    db: services.db,
    clock: services.clock,
    views,
    access,
    auth: services.consoleAuth,
    clientAddress,
    log,
    sync: services.syncStatus,
    privacy: { erasure: services.erasure, consents: services.consents, rights: services.rights },
    smsStats: services.smsStats,
    worker: edges.consoleWorker,
    passes: services.passes,
    allowance: services.allowance,
    ...(edges.observe ? { inFront: edges.observe } : {}),
  })

  if (fast && fastProbes) {
    // Every listener (main.ts, the tests' servers) serves `portal.fetch`: the fast paths go in
    // front of it there. A request they do not answer, and `portal.request()` in tests (no
    // socket), goes through the app as before.
    const app = portal.fetch
    portal.fetch = (req, env, ctx) =>
      fast.answer(env) ?? fastProbes.answer(env) ?? app(req, env, ctx)
  }
  return { portal, admin, consoleWorker }
}

/**
 * The one boundary that turns errors into what the customer sees: a status, and the page they
 * were on with their input kept and one clear sentence in their language.
 */
function portalError(
  err: Error,
  c: Context<PortalEnv>,
  ctx: { views: Views; config: Config; log: (line: string) => void; metrics: Metrics },
) {
  const locale: Voice = c.get('voice') ?? asLocale(ctx.config.defaultLocale) ?? 'es'
  const region = ctx.config.phone.defaultRegion
  const regions = new Intl.DisplayNames([languageOf(locale)], { type: 'region' })
  const params = {
    digits: ctx.config.otp.digits,
    regions: ctx.config.phone.allowedRegions.map((r) => regions.of(r) ?? r).join(', '),
  }
  if (err instanceof HTTPException) {
    const status = err.status
    const res = sendPage(
      c,
      renderPage(ctx.views, ctx.config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: t(locale, status === 404 ? 'error.notFound' : 'error.unexpected'),
      }),
      status,
    )
    return res
  }
  // Every refusal counted by its reason (a closed set), whatever page shows it.
  ctx.metrics.refusal(refusalReasonOf(err), osGroupOfUserAgent(c.req.header('user-agent')))
  if (!(err instanceof DomainError)) {
    // SQLite's extended code (SQLITE_BUSY_SNAPSHOT, …) says more than its message.
    const code = (err as { code?: unknown }).code
    ctx.log(
      `portal: ${c.req.method} ${c.req.path} failed: ${typeof code === 'string' ? `(${code}) ` : ''}${err.stack ?? err.message}`,
    )
  }
  // Anything unexpected (the database busy past its timeout, a bug) is shown like a refusal:
  // one sentence on the guest's page, input kept, 503 with Retry-After; never a 500.
  const e = err instanceof DomainError ? err : new UnavailableError(err.message)
  const extra =
    e instanceof RateLimitedError ||
    e instanceof SendingPausedError ||
    e instanceof UnavailableError
      ? { 'Retry-After': String(e.retryAfterSeconds) }
      : undefined
  const wait = Number(e.params.wait ?? 0)
  const message = t(
    locale,
    e.key,
    { ...params, ...e.params, minutes: Math.max(1, Math.ceil(wait / 60)) },
    region,
  )
  const state = c.get('page')
  const fieldErrors =
    e instanceof ValidationError
      ? Object.fromEntries(
          Object.entries(e.fields).map(([f, key]) => [f, t(locale, key, params, region)]),
        )
      : // A wrong, expired or worn-out code is about the code field: tied to it (aria-describedby).
        state?.view === 'portal/code' &&
          (e instanceof InvalidCodeError ||
            e instanceof CodeExpiredError ||
            e instanceof TooManyAttemptsError)
        ? { code: message }
        : {}
  if (!state) {
    return sendPage(
      c,
      renderPage(ctx.views, ctx.config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: message,
      }),
      e.status,
      extra,
    )
  }
  const isSplash = state.view === 'portal/splash'
  const isForm = isSplash || state.view === 'portal/opt-out'
  const titles = {
    'portal/splash': 'splash.title',
    'portal/code': 'code.title',
    'portal/pass': 'pass.title',
    'portal/opt-out': 'optout.title',
  }
  return sendPage(
    c,
    renderPage(ctx.views, ctx.config, locale, state.view, {
      ...state,
      title: t(locale, titles[state.view]),
      showLangSwitch: isForm,
      error: message,
      fieldErrors,
    }),
    e.status,
    extra,
  )
}
