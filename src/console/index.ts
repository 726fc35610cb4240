import type { Context, Hono } from 'hono'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import { auditStatements } from '../db/audit.js'
import { consoleAuditStatements } from '../db/console.js'
import { customerStatements } from '../db/customers.js'
import type { Db } from '../db/open.js'
import type { DeviceAccess } from '../access/device-access.js'
import type { ConsentDesk } from '../customers/consent.js'
import type { Erasure } from '../customers/erasure.js'
import type { RightsDesk } from '../privacy/requests.js'
import type { Allowance } from '../access/allowance.js'
import type { Passes } from '../access/passes.js'
import type { Views } from '../views.js'
import type { ConsoleAuth } from './auth.js'
import { createCampaigns } from './campaigns.js'
import { createCustomerDesk } from './customers.js'
import { createVisitList, marketingCsv } from './exports.js'
import { noSmsStats, noSync, type SmsStatsSource, type SyncStatusSource } from './ports.js'
import { consoleRoutes } from './routes.js'
import { inlineConsoleWorker, type ConsoleWorkerFactory, type WorkRules } from './worker.js'

export interface ConsoleDeps {
  config: Config
  db: Db
  clock: Clock
  views: Views
  access: DeviceAccess
  /** Console accounts and sessions (src/services.ts builds it; the CLI's `user` uses it too). */
  auth: ConsoleAuth
  clientAddress: (c: Context) => string | undefined
  log: (line: string) => void
  /** The CRM sync's state for the sync panel; default: "not configured". */
  sync?: SyncStatusSource
  /** Privacy (issue 15): block then delete, consents after login, rights requests. */
  privacy: { erasure: Erasure; consents: ConsentDesk; rights: RightsDesk }
  /** Per-provider SMS figures for the status page; default: none kept. */
  smsStats?: SmsStatsSource
  /**
   * Where the long work runs (dashboard, reports, searches, uploads, import checks, CSV):
   * main.ts gives a worker thread; default: the portal's own thread (tests).
   */
  worker?: ConsoleWorkerFactory
  /** Staff passes (issue 17): issued and revoked from the console. */
  passes: Pick<Passes, 'issue' | 'since' | 'revoke'>
  /** The daily allowance (issue 17), shown per customer. */
  allowance: Pick<Allowance, 'used' | 'remaining'>
  /** Routes served on the admin listener in front of the console's own (/metrics, /readyz). */
  inFront?: Hono
}

/** Minutes under which a finished visit is a pass-by (`visits.minMinutes`). */
export function passByMinutesOf(config: Config): number {
  return config.visits.minMinutes
}

/** The manager console app (served on the admin listener only) and its account service. */
export function createConsole(deps: ConsoleDeps) {
  const audit = auditStatements(deps.db)
  const passByMinutes = passByMinutesOf(deps.config)
  const phoneRules = deps.config.phone
  const auth = deps.auth
  const visitRules = {
    passByMinutes,
    hereNowMinutes: deps.config.console.hereNowMinutes,
    timeZone: deps.config.branch.timeZone,
  }
  const rules: WorkRules = { dashboard: visitRules, campaigns: { phoneRules, ...visitRules } }
  const worker = (deps.worker ?? inlineConsoleWorker)(deps.db, rules, deps.log)
  const app = consoleRoutes({
    config: deps.config,
    views: deps.views,
    clock: deps.clock,
    audit,
    auditLog: consoleAuditStatements(deps.db),
    auth,
    worker,
    visitList: createVisitList(deps.db, passByMinutes),
    customers: createCustomerDesk({
      db: deps.db,
      clock: deps.clock,
      audit,
      erasure: deps.privacy.erasure,
      phoneRules,
      allowance: deps.allowance,
      dailyMB: deps.config.gate.quota.dailyMB,
    }),
    privacy: deps.privacy,
    customerRows: customerStatements(deps.db),
    marketingCsv: (header) =>
      marketingCsv(deps.db, { timeZone: deps.config.branch.timeZone, header }),
    campaigns: createCampaigns({ db: deps.db, clock: deps.clock, audit, ...rules.campaigns }),
    sync: deps.sync ?? noSync,
    smsStats: deps.smsStats ?? noSmsStats,
    passByMinutes,
    passes: deps.passes,
    passMinutes: deps.config.tiers.pass.minutes,
    secure: deps.config.console.tls !== null,
    clientAddress: deps.clientAddress,
    log: deps.log,
    ...(deps.inFront ? { inFront: deps.inFront } : {}),
  })
  return { app, auth, worker }
}
