import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import { createConsole } from './console/index.js'
import type { ErasureNotifier, SmsStatsSource, SyncStatusSource } from './console/ports.js'
import type { ConsoleWorkerFactory } from './console/worker.js'
import { accessStatements } from './db/access.js'
import { auditStatements } from './db/audit.js'
import { customerStatements } from './db/customers.js'
import type { Db } from './db/open.js'
import { otpStatements } from './db/otp.js'
import { sessionStatements } from './db/sessions.js'
import { visitStatements } from './db/visits.js'
import { smsStatements } from './db/sms.js'
import { DomainError, RateLimitedError, SendingPausedError, ValidationError } from './errors.js'
import { createDeviceAccess } from './access/device-access.js'
import type { Gate } from './gate/gate.js'
import type { NeighbourTable } from './gate/neighbours.js'
import { admitStaff, type SessionJobDeps } from './access/session-jobs.js'
import { sessionUntil } from './access/session-policy.js'
import { uuidv7 } from './ids.js'
import { parseMac } from './mac.js'
import { createVisitBook } from './visits/book.js'
import { DEVICE_SEEN_STEP_MS } from './visits/presence.js'
import { asLocale, t, type Locale } from './i18n/messages.js'
import { createLogin } from './portal/login.js'
import { captiveDetection } from './portal/probes.js'
import { renderPage, sendPage } from './portal/page.js'
import { portalRoutes, type PortalEnv } from './portal/routes.js'
import { smsHealth } from './sms/status.js'
import { createSendGuard } from './sms/guard.js'
import { templateWarnings } from './sms/segments.js'
import type { SmsSender } from './sms/sender.js'
import { buildOutbox } from './sync/build.js'
import { outboxErasureNotifier } from './sync/outbox.js'
import { consoleSyncSource } from './sync/status.js'
import { loadViews, type Views } from './views.js'

/** Everything outside the process that the app talks to, handed in by the composition root. */
export interface AppDeps {
  config: Config
  db: Db
  gate: Gate
  /** Name of the gate backend, for /healthz. */
  gateBackend?: string
  sms: SmsSender
  neighbours: NeighbourTable
  clock: Clock
  /** Per-install secret for code HMACs (32 bytes). */
  secret: Buffer
  log?: (line: string) => void
  views?: Views
  /** The TCP peer of a request. Defaults to the Node socket's remote address. */
  clientAddress?: (c: Context) => string | undefined
  /** The CRM sync's state for the console's sync panel (default: not configured). */
  syncStatus?: SyncStatusSource
  /** Told of each customer erasure done in the console (default: nobody). */
  erasure?: ErasureNotifier
  /** Per-provider SMS figures for the console's status page (default: none). */
  smsStats?: SmsStatsSource
  /** Where the console's long work runs (main.ts: a worker thread; default: inline). */
  consoleWorker?: ConsoleWorkerFactory
}

const socketAddress = (c: Context): string | undefined => {
  try {
    return getConnInfo(c).remote.address
  } catch {
    return undefined
  }
}

/** Builds the portal (guest listener) and the console (admin listener) apps. */
export function createApp(deps: AppDeps) {
  const log = deps.log ?? ((line: string) => console.error(line))
  const views = deps.views ?? loadViews()
  const audit = auditStatements(deps.db)
  const visitRows = visitStatements(deps.db)
  const outbox = buildOutbox(deps.db, {
    branchId: deps.config.branch.id,
    sync: deps.config.sync,
    secret: deps.secret,
  })
  const visits = createVisitBook({
    db: deps.db,
    visits: visitRows,
    branchId: deps.config.branch.id,
    policy: visitPolicyOf(deps.config),
    newId: (at) => uuidv7(at),
    outbox,
  })
  const access = createDeviceAccess({
    db: deps.db,
    gate: deps.gate,
    clock: deps.clock,
    access: accessStatements(deps.db),
    audit,
    log,
    visits,
  })
  const staffMacs = staffMacsOfConfig(deps.config)
  const session: SessionJobDeps = {
    access,
    sessions: sessionStatements(deps.db),
    idleMinutes: deps.config.session.idleMinutes,
    staffMacs,
    seenStepMs: DEVICE_SEEN_STEP_MS,
    log,
  }
  const sms = smsStatements(deps.db)
  for (const warning of templateWarnings(deps.config)) log(warning)
  const login = createLogin({
    db: deps.db,
    clock: deps.clock,
    otp: otpStatements(deps.db),
    customers: customerStatements(deps.db),
    audit,
    access,
    sms: deps.sms,
    secret: deps.secret,
    policy: deps.config.otp,
    phoneRules: deps.config.phone,
    branch: deps.config.branch,
    portalHost: new URL(deps.config.publicUrl).hostname,
    noticeVersion: deps.config.privacy.noticeVersion,
    sessionUntil: (now) =>
      sessionUntil(now, {
        hours: deps.config.session.hours,
        openingHours: deps.config.branch.openingHours,
        timeZone: deps.config.branch.timeZone,
      }),
    remember: { rememberDays: deps.config.remember.days, reverifyDays: deps.config.reverify.days },
    staffMacs,
    admitStaff: (mac, now) => admitStaff(session, [mac], now),
    log,
    outbox,
    guard: createSendGuard({
      sms,
      audit,
      policy: deps.config.sms.fraud,
      timeZone: deps.config.branch.timeZone,
      log,
    }),
    templates: deps.config.sms.templates,
  })

  const portal = new Hono<PortalEnv>()
  const clientAddress = deps.clientAddress ?? socketAddress
  portal.use(
    '*',
    captiveDetection({
      splashUrl: new URL('/', deps.config.publicUrl).href,
      portalHosts: [new URL(deps.config.publicUrl).host, new URL(deps.config.publicUrl).hostname],
      listener: deps.config.listen.portal,
      async isOnline(c) {
        const ip = clientAddress(c)
        const mac = ip ? await deps.neighbours.macFor(ip) : null
        return mac !== null && access.liveUntil(mac) !== null
      },
    }),
  )
  portal.route(
    '/',
    portalRoutes({
      config: deps.config,
      views,
      login,
      access,
      neighbours: deps.neighbours,
      clientAddress,
      clock: deps.clock,
      db: deps.db,
      gateBackend: deps.gateBackend ?? 'dry-run',
    }),
  )
  portal.notFound((c) => {
    const locale = c.get('locale') ?? 'es'
    return sendPage(
      c,
      renderPage(views, deps.config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: t(locale, 'error.notFound'),
      }),
      404,
    )
  })
  portal.onError((err, c) => portalError(err, c, { views, config: deps.config, log }))

  const {
    app: admin,
    auth: consoleAuth,
    worker: consoleWorker,
  } = createConsole({
    config: deps.config,
    db: deps.db,
    clock: deps.clock,
    views,
    access,
    clientAddress: deps.clientAddress ?? socketAddress,
    log,
    sync: deps.syncStatus ?? consoleSyncSource(deps.db, deps.config.sync.adapter.type !== 'none'),
    // Erasure reaches the CRM as its own event, written in the erasure's transaction.
    erasure: deps.erasure ?? outboxErasureNotifier(outbox),
    smsStats: deps.smsStats ?? { stats: (now) => smsHealth(deps.db, deps.config, now) },
    worker: deps.consoleWorker,
  })

  return {
    portal,
    admin,
    access,
    login,
    consoleAuth,
    consoleWorker,
    visits,
    visitRows,
    session,
    outbox,
  }
}

/** The visit rules' policy from the config, in ms. */
export function visitPolicyOf(config: Config) {
  return { idleMs: config.visits.idleMinutes * 60_000, minMs: config.visits.minMinutes * 60_000 }
}

/** The config's staff MACs in canonical form. */
export function staffMacsOfConfig(config: Config): Set<string> {
  const out = new Set<string>()
  for (const text of config.staffMacs) {
    const mac = parseMac(text)
    if (mac) out.add(mac)
  }
  return out
}

/**
 * The one boundary that turns errors into what the customer sees: a status, and the page they
 * were on with their input kept and one clear sentence in their language.
 */
function portalError(
  err: Error,
  c: Context<PortalEnv>,
  ctx: { views: Views; config: Config; log: (line: string) => void },
) {
  const locale: Locale = c.get('locale') ?? asLocale(ctx.config.defaultLocale) ?? 'es'
  const regions = new Intl.DisplayNames([locale], { type: 'region' })
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
  if (!(err instanceof DomainError)) {
    ctx.log(`portal: ${c.req.method} ${c.req.path} failed: ${err.stack ?? err.message}`)
    return sendPage(
      c,
      renderPage(ctx.views, ctx.config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: t(locale, 'error.unexpected'),
      }),
      500,
    )
  }
  const extra =
    err instanceof RateLimitedError || err instanceof SendingPausedError
      ? { 'Retry-After': String(err.retryAfterSeconds) }
      : undefined
  const wait = Number(err.params.wait ?? 0)
  const message = t(locale, err.key, {
    ...params,
    ...err.params,
    minutes: Math.max(1, Math.ceil(wait / 60)),
  })
  const fieldErrors =
    err instanceof ValidationError
      ? Object.fromEntries(
          Object.entries(err.fields).map(([f, key]) => [f, t(locale, key, params)]),
        )
      : {}
  const state = c.get('page')
  if (!state) {
    return sendPage(
      c,
      renderPage(ctx.views, ctx.config, locale, 'portal/error', {
        title: t(locale, 'error.title'),
        error: message,
      }),
      err.status,
      extra,
    )
  }
  const isSplash = state.view === 'portal/splash'
  return sendPage(
    c,
    renderPage(ctx.views, ctx.config, locale, state.view, {
      ...state,
      title: t(locale, isSplash ? 'splash.title' : 'code.title'),
      showLangSwitch: isSplash,
      error: message,
      fieldErrors,
    }),
    err.status,
    extra,
  )
}
