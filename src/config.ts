import { openingHours, sessionConfig, staffMacsConfig, tiersConfig } from './access/config.js'
import { z, pemFiles } from './config-kit.js'
import { resolveSecretFiles, type ReadSecretFile } from './config-secrets.js'
import { consoleConfig } from './console/config.js'
import {
  defaultNotice,
  phoneConfig,
  phoneProblems,
  privacyConfig,
  privacyLawOf,
  privacyProblems,
  rightsDeadlineOf,
} from './customers/config.js'
import { OperatorError } from './errors.js'
import { gateConfig } from './gate/config.js'
import { logConfig, metricsConfig } from './observe/config.js'
import { otpConfig, rememberConfig, reverifyConfig } from './portal/config.js'
import { smsConfig, smsProblems, smsProvider } from './sms/config.js'
import { syncAdapter, syncConfig } from './sync/config.js'
import { presenceConfig, presenceProblems, visitsConfig } from './visits/config.js'

/**
 * branchgate's configuration: one JSON file plus a few environment overrides.
 *
 * `loadConfig(fileText, env)` is pure: it never touches the disk or `process.env`.
 * Only `main.ts` calls it with the real file and environment.
 *
 * Each feature's keys live beside it (`sms/config.ts`, `gate/config.ts`, …); this file composes
 * them, adds the branch and the listeners, and turns zod's findings into one sentence per key.
 */

/** A listener's TCP port (0: the system picks a free one); PORT and ADMIN_PORT are held to it. */
const listenPort = z.number().int().min(0).max(65535)

const listener = (defaultHost: string, defaultPort: number) =>
  z
    .object({
      /** Address to bind. */
      host: z.string().min(1).default(defaultHost),
      /** TCP port, 1–65535; 0 lets the system pick a free one (tests: the log line names it). */
      port: listenPort.default(defaultPort),
    })
    .strict()
    .prefault({})

export const configSchema = z
  .object({
    branch: z
      .object({
        /** Stable id of this branch, sent with every record to the CRM. Letters, digits, - and _. */
        id: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, - or _')
          .default('demo'),
        /** Name shown to customers on the splash page and in SMS. */
        name: z.string().min(1).max(80).default('Sucursal Demo'),
        /**
         * Logo shown on the splash page, as a `data:image/…` URL (at most 100 000 characters):
         * guests have no internet yet and the page allows no outside image. null: the name only.
         */
        logoUrl: z
          .string()
          .max(100_000)
          .regex(
            /^data:image\/(png|jpeg|gif|webp|svg\+xml)(;base64)?,/,
            'must be a data:image/… URL (e.g. data:image/png;base64,…)',
          )
          .nullable()
          .default(null),
        /** IANA time zone of the branch, used to show local times. */
        timeZone: z
          .string()
          .refine(isTimeZone, 'must be an IANA time zone such as America/Mexico_City')
          .default('America/Mexico_City'),
        /**
         * Opening hours per weekday in the branch time zone, e.g. { "mon": "09:00-17:00",
         * "sat": "10:00-14:00" } (several ranges: "09:00-14:00,16:00-19:00"). A day left out is
         * closed. null: not configured, so access simply lasts `session.hours`.
         */
        openingHours: openingHours.nullable().default(null),
      })
      .strict()
      .prefault({}),
    /**
     * Locale used when the browser does not ask for one we have: es-MX (or es), es-ES, or en.
     * A Spanish reader whose browser names no region reads this one's Spanish.
     */
    defaultLocale: z.enum(['es-MX', 'es', 'es-ES', 'en', 'en-US']).default('es-MX'),
    /** How the Spanish pages address the customer: "tu" (tuteo) or "usted". */
    spanishAddress: z.enum(['tu', 'usted']).default('tu'),
    phone: phoneConfig,
    listen: z
      .object({
        /** The guest-facing portal. */
        portal: listener('0.0.0.0', 8080),
        /** The manager console: keep it on loopback or the management LAN, never the guest network. */
        admin: listener('127.0.0.1', 8081),
        /**
         * Optional HTTPS listener for the splash page and the RFC 8908 API (/api/captive), with an
         * operator-supplied certificate. null (default): none.
         */
        tls: z
          .object({
            /** Address to bind. */
            host: z.string().min(1).default('0.0.0.0'),
            /** TCP port, 1–65535; 0 lets the system pick one (tests). */
            port: listenPort.default(8443),
            ...pemFiles,
          })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    /**
     * The URL guests reach the portal on; its host ends every SMS (`@host #code`). Unset, it is
     * `http://localhost:<listen.portal.port>` (after PORT), set in loadConfig.
     */
    publicUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:8080'),
    otp: otpConfig,
    sms: smsConfig,
    gate: gateConfig,
    /** Folder holding the SQLite database and the install secret. */
    dataDir: z.string().min(1).default('./data'),
    session: sessionConfig,
    /** Kinds of access besides a verified number: without a code, staff passes (issue 17). */
    tiers: tiersConfig,
    visits: visitsConfig,
    presence: presenceConfig,
    remember: rememberConfig,
    reverify: reverifyConfig,
    privacy: privacyConfig,
    sync: syncConfig,
    console: consoleConfig,
    /** MACs of staff devices (aa:bb:cc:dd:ee:ff). */
    staffMacs: staffMacsConfig,
    // Watching a fleet (issue 13): Prometheus metrics and readiness, the log's format.
    metrics: metricsConfig,
    log: logConfig,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const problems = [
      ...smsProblems(cfg.sms),
      ...phoneProblems(cfg.phone),
      ...presenceProblems(cfg.presence, cfg.visits),
      ...privacyProblems(cfg.privacy),
    ]
    for (const { path, message } of problems) ctx.addIssue({ code: 'custom', path, message })
  })

export type Config = Readonly<z.infer<typeof configSchema>>
export type {
  SmsFraudConfig,
  SmsProviderConfig,
  HttpSmsConfig,
  TwilioSmsConfig,
  InfobipSmsConfig,
  WhatsappSmsConfig,
} from './sms/config.js'
export type {
  SyncConfig,
  SyncAdapterConfig,
  WebhookSyncConfig,
  SalesforceSyncConfig,
} from './sync/config.js'
export type { OpeningHours } from './access/config.js'
export type { NftablesGateConfig } from './gate/config.js'

/** Thrown when the configuration cannot be used; `problems` name each key and what is wrong. */
export class ConfigError extends OperatorError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
  }
}

/** The environment variables branchgate reads. */
export interface ConfigEnv {
  PORT?: string | undefined
  ADMIN_PORT?: string | undefined
  BRANCHGATE_DATA_DIR?: string | undefined
}

/**
 * Builds the validated configuration from the config file's text (or null: demo defaults)
 * and the environment. Pure: tested without touching disk or process.env.
 */
export function loadConfig(
  fileText: string | null,
  env: ConfigEnv = {},
  /** Reads the files of `…File` secret keys (config-secrets.ts); null: none may be given. */
  readSecretFile: ReadSecretFile | null = null,
): Config {
  let raw: unknown = {}
  if (fileText !== null && fileText.trim() !== '') {
    try {
      raw = JSON.parse(fileText)
    } catch (err) {
      throw new ConfigError([`the file is not valid JSON: ${(err as Error).message}`])
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(['the file must hold one JSON object'])
    }
  }
  const merged = structuredClone(raw) as Record<string, any>
  // Secrets given as files (authTokenFile, …) become their values before validation.
  const problems: string[] = resolveSecretFiles(merged, readSecretFile)
  const port = (name: string, value: string | undefined, set: (n: number) => void) => {
    if (value === undefined || value === '') return
    const n = Number(value)
    if (!listenPort.safeParse(n).success) {
      const range = `between ${listenPort.minValue} and ${listenPort.maxValue}`
      problems.push(`${name} must be a port number ${range}, got ${JSON.stringify(value)}`)
    } else set(n)
  }
  const listenOf = (key: 'portal' | 'admin') => {
    merged.listen ??= {}
    merged.listen[key] ??= {}
    return merged.listen[key] as Record<string, unknown>
  }
  port('PORT', env.PORT, (n) => (listenOf('portal').port = n))
  port('ADMIN_PORT', env.ADMIN_PORT, (n) => (listenOf('admin').port = n))
  if (env.BRANCHGATE_DATA_DIR) merged.dataDir = env.BRANCHGATE_DATA_DIR
  if (problems.length) throw new ConfigError(problems)

  const parsed = configSchema.safeParse(merged, { error: rangeMessage })
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, merged)))
  }
  // Unless configured, the portal's URL follows the port the portal really listens on.
  if (merged.publicUrl === undefined)
    parsed.data.publicUrl = `http://localhost:${parsed.data.listen.portal.port}`
  // Unless configured, the notice follows the branch's country and form of address: a branch in
  // Spain gets the GDPR/LOPDGDD wording (customers/config.ts).
  const law = privacyLawOf(parsed.data)
  if (merged.privacy?.notice === undefined)
    parsed.data.privacy.notice = defaultNotice(
      law === 'gdpr' ? 'ES' : parsed.data.phone.defaultRegion,
      parsed.data.spanishAddress === 'usted',
    )
  // Unless configured, the rights-request deadline follows the law too (customers/config.ts).
  const deadline = rightsDeadlineOf(parsed.data.privacy, law)
  Object.assign(
    parsed.data.privacy,
    'months' in deadline
      ? { requestDeadlineMonths: deadline.months }
      : { requestDeadlineDays: deadline.days, requestDeadlineBusinessDays: deadline.businessDays },
  )
  return deepFreeze(parsed.data)
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map(String).join('.') || '(top level)'
  const got = valueAt(input, issue.path)
  const shown = got === undefined ? 'nothing' : JSON.stringify(got)
  switch (issue.code) {
    case 'too_big':
    case 'too_small':
      // A number's message names its schema's own bounds: see rangeMessage.
      if (typeof got === 'number') return `${path} ${issue.message}, got ${got}`
      return `${path}: ${issue.message}, got ${shown}`
    case 'unrecognized_keys':
      return `${path === '(top level)' ? '' : path + ': '}unknown key(s) ${issue.keys.join(', ')}`
    case 'invalid_union':
      return `${path}: ${unionHint(issue.path, got)}`
    case 'custom':
      return `${path} ${issue.message}`
    case 'invalid_type':
      if (got === undefined)
        return `${path} is required (${issue.message.replace(/^Invalid input: /, '')})`
      return `${path}: ${issue.message.replace(/^Invalid input: /, '')}, got ${shown}`
    default:
      return `${path} ${issue.message.replace(/^Invalid input: /, '')}${got === undefined ? '' : `, got ${shown}`}`
  }
}

/**
 * A number out of range reads "must be between 4 and 8", with the bounds of the very schema that
 * refused it (zod reports only the bound that failed; the schema holds both). A schema with one
 * bound reads "must be at least 1"; `.int()`'s safe-integer limits are no bound of ours.
 */
function rangeMessage(issue: z.core.$ZodRawIssue): string | undefined {
  // Issue 15: zod's own words for these ("Too small: expected string to have >=1 characters",
  // "expected int, received number") are not a sentence an operator reads at a glance.
  if (issue.code === 'invalid_type' && issue.expected === 'int') return 'must be a whole number'
  if (issue.code === 'invalid_format' && issue.format === 'url')
    return 'must be a web address starting with http:// or https://'
  if ((issue.code === 'too_small' || issue.code === 'too_big') && issue.origin === 'string') {
    if (issue.code === 'too_small' && Number(issue.minimum) === 1) return 'must not be empty'
    const n = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum)
    return `must be ${issue.code === 'too_small' ? 'at least' : 'at most'} ${n} characters long`
  }
  if (issue.code !== 'too_small' && issue.code !== 'too_big') return undefined
  if (!(issue.schema instanceof z.ZodNumber) || issue.inclusive === false) return undefined
  const bound = (n: number | null) =>
    n !== null && Number.isFinite(n) && Math.abs(n) !== Number.MAX_SAFE_INTEGER ? n : undefined
  const min = bound(issue.schema.minValue)
  const max = bound(issue.schema.maxValue)
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}`
  if (issue.code === 'too_small') return `must be at least ${min ?? issue.minimum}`
  return `must be at most ${max ?? issue.maximum}`
}

/** The kinds a union accepts, named by its discriminator, read from its options. */
const kindsOf = (union: { options: readonly { shape: object }[] }, key: string) =>
  union.options.map((o) => (o.shape as Record<string, z.ZodLiteral>)[key]!.value).join(', ')

function unionHint(path: PropertyKey[], got: unknown): string {
  const where = path.map(String).join('.')
  const shown = got !== null && typeof got === 'object' ? undefined : got
  if (where.startsWith('sms.providers')) {
    return `must be one of ${kindsOf(smsProvider, 'type')}, got ${JSON.stringify(shown ?? (got as any)?.type)}`
  }
  if (where.startsWith('sync.adapter')) {
    return `must be one of ${kindsOf(syncAdapter, 'type')}, got ${JSON.stringify(shown ?? (got as any)?.type)}`
  }
  if (where.startsWith('gate')) {
    return `must be one of ${kindsOf(gateConfig.unwrap(), 'backend')}, got ${JSON.stringify(shown ?? (got as any)?.backend)}`
  }
  return 'is not one of the accepted shapes'
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: any = input
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = cur[key as any]
  }
  return cur
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
