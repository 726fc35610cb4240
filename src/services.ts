import { createAllowance } from './access/allowance.js'
import { createDeviceAccess } from './access/device-access.js'
import { tierRatesOf } from './access/tiers.js'
import { createPasses } from './access/passes.js'
import { closingTime } from './access/session-policy.js'
import { allowanceStatements } from './db/allowance.js'
import { tierStatements } from './db/tiers.js'
import { createSendingCheck, type SendingCheck } from './sms/availability.js'
import { createWithoutCode } from './portal/without-code.js'
import { admitStaff, type SessionJobDeps } from './access/session-jobs.js'
import { sessionUntil } from './access/session-policy.js'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import { createConsoleAuth } from './console/auth.js'
import { createCustomerBook } from './customers/book.js'
import { createConsentDesk } from './customers/consent.js'
import { createErasure } from './customers/erasure.js'
import { createRetention } from './privacy/retention.js'
import { createRightsDesk } from './privacy/requests.js'
import { privacyLawOf, rightsDeadlineOf } from './customers/config.js'
import { derivedKey } from './secret.js'
import { arrivalStatements } from './db/arrivals.js'
import { PRODUCTION_SCRYPT_COST, type ScryptCost } from './console/passwords.js'
import type { ErasureNotifier, SmsStatsSource, SyncStatusSource } from './console/ports.js'
import { accessStatements } from './db/access.js'
import { auditStatements } from './db/audit.js'
import { consoleUserStatements } from './db/console.js'
import { customerStatements } from './db/customers.js'
import type { Db } from './db/open.js'
import { otpStatements } from './db/otp.js'
import { sessionStatements } from './db/sessions.js'
import { smsStatements } from './db/sms.js'
import { visitStatements } from './db/visits.js'
import type { Gate } from './gate/gate.js'
import { uuidv7 } from './ids.js'
import { noMetrics, type Metrics } from './observe/metrics.js'
import { createLogin } from './portal/login.js'
import { createSendGuard } from './sms/guard.js'
import { createSmsChain } from './sms/providers.js'
import { ridersOf } from './db/riders.js'
import type { SmsSender } from './sms/sender.js'
import { smsHealth } from './sms/status.js'
import { buildOutbox, buildSyncRunner } from './sync/build.js'
import { outboxErasureNotifier } from './sync/outbox.js'
import { consoleSyncSource } from './sync/status.js'
import { replaceable } from './replaceable.js'
import { createVisitBook } from './visits/book.js'
import { createPresenceMemory, seenStepMs } from './visits/presence.js'

/**
 * What every way of running branchgate starts from: the service (main.ts), a one-shot command
 * (src/cli/context.ts), the bench and the tests. The outside world comes in; the services that
 * share it go out, built once, the same way everywhere.
 */
export interface ServiceDeps {
  config: Config
  db: Db
  gate: Gate
  clock: Clock
  /** Per-install secret (32 bytes): code HMACs, hashed MACs for the CRM. */
  secret: Buffer
  log: (line: string) => void
  /** The SMS providers in failover order; default: the chain the config describes. */
  sms?: SmsSender
  /** scrypt cost of console passwords; default: production's (tests pass a small one). */
  passwordCost?: ScryptCost
  /** The sync panel's source; default: the outbox's state. */
  syncStatus?: SyncStatusSource
  /** Told of each block and deletion; default: `customer.blocked`/`customer.deleted` in the outbox. */
  erasure?: ErasureNotifier
  /** The SMS panel's figures; default: smsHealth over the database. */
  smsStats?: SmsStatsSource
  /** Where the funnel, latencies and provider tries are reported (issue 13); default: nowhere. */
  metrics?: Metrics
}

/** Builds the services from the outside world (see ServiceDeps). Opens no socket, starts no timer. */
export function createServices(deps: ServiceDeps) {
  const { config, db, gate, clock, secret, log } = deps
  const metrics = deps.metrics ?? noMetrics
  const audit = auditStatements(db)
  const visitRows = visitStatements(db)
  const outbox = buildOutbox(db, { branchId: config.branch.id, sync: config.sync, secret })
  // The presence tracker's exact times between its writes, read by a login's `arrive` too.
  const presenceMemory = createPresenceMemory()
  const visits = createVisitBook({
    db,
    visits: visitRows,
    branchId: config.branch.id,
    policy: visitPolicyOf(config),
    newId: (at) => uuidv7(at),
    outbox,
    known: presenceMemory,
  })
  const access = createDeviceAccess({
    db,
    gate,
    clock,
    access: accessStatements(db),
    audit,
    log,
    visits,
    rates: tierRatesOf(config),
    usedUp: (holder, now) => allowance.usedUp(holder, now),
    metrics,
  })
  const dailyMB = config.gate.quota.dailyMB
  // The daily allowance (issue 17): counted from the kernel's per-device counts every sweep.
  const allowance = createAllowance({
    db,
    gate,
    access,
    rows: allowanceStatements(db),
    dailyBytes: dailyMB === null ? null : Math.round(dailyMB * 1_000_000),
    timeZone: config.branch.timeZone,
    log,
  })
  // One set shared by the login, the session jobs and the presence tracker: live reload changes
  // its members, so all of them see the new staff at once.
  const staffMacs = new Set<string>(config.staffMacs)
  const session: SessionJobDeps = {
    access,
    sessions: sessionStatements(db),
    idleMinutes: config.session.idleMinutes,
    staffMacs,
    seenStepMs: presenceStepOf(config),
    log,
  }
  const smsRows = smsStatements(db)
  const customers = customerStatements(db)
  // How customers arrive, per OS family (issue 18): new, on a known device, on a new address.
  const arrivals = arrivalStatements(db)
  // The SMS chain and the login are built from the config, and rebuilt by live reload (their
  // state is in the database, so a login in flight continues on the new ones).
  const buildSms = (c: Config) =>
    deps.sms ??
    createSmsChain({ config: c, sms: smsRows, clock, log, metrics, riders: ridersOf(db) })
  const sms = replaceable(buildSms(config))
  const consents = createConsentDesk({
    db,
    clock,
    customers,
    audit,
    outbox,
    branchId: config.branch.id,
    noticeVersion: config.privacy.noticeVersion,
  })
  const buildLogin = (config: Config) =>
    createLogin({
      db,
      clock,
      otp: otpStatements(db),
      customers,
      book: createCustomerBook({
        customers,
        audit,
        outbox,
        branchId: config.branch.id,
        noticeVersion: config.privacy.noticeVersion,
        arrivals,
      }),
      arrivals,
      access,
      sms: sms.value,
      secret,
      policy: config.otp,
      phoneRules: config.phone,
      branch: config.branch,
      portalHost: new URL(config.publicUrl).hostname,
      sessionUntil: (now) =>
        sessionUntil(now, {
          hours: config.session.hours,
          openingHours: config.branch.openingHours,
          timeZone: config.branch.timeZone,
        }),
      remember: {
        rememberDays: config.remember.days,
        reverifyDays: config.reverify.days,
      },
      staffMacs,
      admitStaff: (mac, now) => admitStaff(session, [mac], now),
      log,
      guard: createSendGuard({
        sms: smsRows,
        audit,
        policy: config.sms.fraud,
        timeZone: config.branch.timeZone,
        log,
      }),
      templates: config.sms.templates,
      // "Ya no quiero recibir promociones": a proven number stops its customer's promotions.
      optOut: (phone) => {
        const customer = customers.byPhone(phone)
        if (customer) consents.withdrawMarketing(customer.id, 'portal', 'portal')
      },
      paused: config.sms.mode === 'paused',
      // Issue 20: the upgrade of a device through without a code, in the verification's commit.
      upgraded: (mac, customerId, now) => withoutCode.upgraded(mac, customerId, now),
    })
  const login = replaceable(buildLogin(config))
  let live = config
  // Privacy (issue 15): block then delete, consents after login, rights requests, retention.
  const erasure = createErasure({
    db,
    clock,
    audit,
    access,
    erasure: deps.erasure ?? outboxErasureNotifier(outbox),
    branchId: config.branch.id,
    blockingDays: config.privacy.blockingDays,
    timeZone: config.branch.timeZone,
  })
  const rights = createRightsDesk({
    db,
    clock,
    audit,
    deadline: rightsDeadlineOf(config.privacy, privacyLawOf(config)),
    timeZone: config.branch.timeZone,
  })
  const eventKey = derivedKey(secret, 'branchgate outbox digest v1')
  const retention = createRetention({
    db,
    erasure,
    audit,
    privacy: config.privacy,
    timeZone: config.branch.timeZone,
    rememberDays: config.remember.days,
    macKey: derivedKey(secret, 'branchgate retention mac v1'),
    eventKey,
    keepDeliveredHours: config.sync.keepDeliveredHours,
    log,
  })
  // Issue 17: staff passes, access without a code, session extension.
  const tierRows = tierStatements(db)
  const sessionPolicy = {
    hours: config.session.hours,
    openingHours: config.branch.openingHours,
    timeZone: config.branch.timeZone,
  }
  const passes = createPasses({
    db,
    clock,
    secret,
    access,
    audit,
    rows: tierRows,
    minutes: config.tiers.pass.minutes,
    timeZone: config.branch.timeZone,
  })
  // Rebuilt by live reload with the login: `sms.mode` and the providers are live keys.
  let sendingNow = createSendingCheck({ sms: smsRows, config })
  const sending: SendingCheck = { blocked: (now) => sendingNow.blocked(now) }
  const withoutCode = createWithoutCode({
    db,
    clock,
    rows: tierRows,
    sending,
    access,
    audit,
    policy: config.tiers.unverified,
    phoneRules: config.phone,
    noticeVersion: config.privacy.noticeVersion,
    timeZone: config.branch.timeZone,
    sessionUntil: (now) => sessionUntil(now, sessionPolicy),
  })
  const extension = {
    access,
    policy: config.session.extend,
    closesAt: (now: number) => closingTime(now, config.branch.openingHours, config.branch.timeZone),
  }
  const consoleAuth = createConsoleAuth({
    users: consoleUserStatements(db),
    audit,
    clock,
    policy: config.console,
    passwordCost: deps.passwordCost ?? PRODUCTION_SCRYPT_COST,
  })
  return {
    config,
    db,
    gate,
    clock,
    secret,
    log,
    audit,
    outbox,
    visitRows,
    visits,
    /** The presence tracker's exact times between writes; main.ts hands it to the tracker. */
    presenceMemory,
    access,
    allowance,
    staffMacs: staffMacs as ReadonlySet<string>,
    session,
    smsRows,
    sms: sms.value,
    login: login.value,
    consoleAuth,
    tierRows,
    passes,
    sending,
    withoutCode,
    extension,
    metrics,
    syncStatus: deps.syncStatus ?? consoleSyncSource(db, config.sync.adapter.type !== 'none'),
    // Blocking and deletion reach the CRM as their own events, written in their transactions.
    erasure,
    consents,
    rights,
    retention,
    smsStats: deps.smsStats ?? { stats: (now: number) => smsHealth(db, live, now) },
    /** A runner of the CRM sync (the service's job and `branchgate sync` each make their own). */
    syncRunner: () =>
      buildSyncRunner({
        db,
        sync: live.sync,
        branchId: config.branch.id,
        clock,
        log,
        metrics,
        deliveredEventsDays: config.privacy.retention.deliveredEventsDays,
        redactKey: eventKey,
      }),
    /**
     * Live reload's door (src/reload.ts): the SMS chain, the login (templates, fraud limits) and
     * the staff set are rebuilt from `next`, which differs from the running config in live keys
     * only; new sync runners use its CRM target. `config` above stays the one read at start.
     */
    applyLiveConfig(next: Config): void {
      live = next
      sms.replace(buildSms(next))
      login.replace(buildLogin(next))
      sendingNow = createSendingCheck({ sms: smsRows, config: next })
      staffMacs.clear()
      for (const mac of next.staffMacs) staffMacs.add(mac)
    },
  }
}
export type Services = ReturnType<typeof createServices>

/** The visit rules' policy from the config, in ms. */
export function visitPolicyOf(config: Config) {
  return { idleMs: config.visits.idleMinutes * 60_000, minMs: config.visits.minMinutes * 60_000 }
}

/**
 * How far the presence sweep lets a stored last-seen time lag (ms, issue 20): its own step, or a
 * third of console.hereNowMinutes when shorter, so "here now" never misses a present customer.
 */
export function presenceStepOf(config: Config): number {
  return Math.min(seenStepMs(visitPolicyOf(config)), (config.console.hereNowMinutes * 60_000) / 3)
}
