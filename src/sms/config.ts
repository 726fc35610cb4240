import { z } from '../config-kit.js'
import type { KeyProblem } from '../config-kit.js'

/** The `sms` keys: providers tried in order, the time budget, code templates and fraud defences. */

const consoleSms = z.object({ type: z.literal('console') }).strict()

const httpSms = z
  .object({
    type: z.literal('http'),
    /** Where to POST (or PUT) the message. */
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['POST', 'PUT']).default('POST'),
    /** Extra request headers, e.g. an Authorization header. Values may use {to}, {text}, {code}. */
    headers: z.record(z.string(), z.string()).default({}),
    /** How the body is encoded. */
    bodyFormat: z.enum(['json', 'form']).default('json'),
    /** Body fields; string values may use the placeholders {to}, {text} and {code}. */
    body: z.record(z.string(), z.unknown()).default({ to: '{to}', text: '{text}' }),
    /** Milliseconds before the request is abandoned; at most 10 000 so a guest never waits longer. */
    timeoutMs: z.number().int().min(100).max(10_000).default(10_000),
  })
  .strict()

/** Optional label for a provider in logs and status; defaults to its type. */
const providerLabel = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1–32 lowercase letters, digits, - or _')
  .nullable()
  .default(null)
/** Milliseconds one provider may take before the next is tried (the whole chain has sms.sendBudgetMs). */
const providerTimeoutMs = z.number().int().min(100).max(10_000).default(5_000)

/** Twilio Programmable Messaging. Set authToken, or apiKeySid + apiKeySecret; set from, or messagingServiceSid. */
const twilioSms = z
  .object({
    type: z.literal('twilio'),
    name: providerLabel,
    /** Account SID: AC followed by 32 hex digits. */
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    /** The account's auth token (secret). null when an API key is used. */
    authToken: z.string().min(1).nullable().default(null),
    /** API key SID: SK followed by 32 hex digits. Used with apiKeySecret instead of authToken. */
    apiKeySid: z
      .string()
      .regex(/^SK[0-9a-fA-F]{32}$/, 'must be SK followed by 32 hex digits')
      .nullable()
      .default(null),
    /** The API key's secret. */
    apiKeySecret: z.string().min(1).nullable().default(null),
    /** Sender: a Twilio number in E.164 or an alphanumeric sender ID. null when messagingServiceSid is set. */
    from: z.string().min(1).max(20).nullable().default(null),
    /** Messaging Service SID (MG + 32 hex digits): Twilio picks the sender. */
    messagingServiceSid: z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, 'must be MG followed by 32 hex digits')
      .nullable()
      .default(null),
    /** API origin; override only for tests or a regional edge. */
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
    timeoutMs: providerTimeoutMs,
  })
  .strict()

/** Infobip SMS API v2 (`/sms/2/text/advanced`). */
const infobipSms = z
  .object({
    type: z.literal('infobip'),
    name: providerLabel,
    /** Your account's API base URL, e.g. https://xxxxx.api.infobip.com. */
    baseUrl: z.url({ protocol: /^https?$/ }),
    /** API key (secret), sent as `Authorization: App <key>`. */
    apiKey: z.string().min(1),
    /** Sender ID (alphanumeric or number). null: the account's default sender. */
    from: z.string().min(1).max(20).nullable().default(null),
    timeoutMs: providerTimeoutMs,
  })
  .strict()

/** WhatsApp Business Cloud API, sending an approved authentication template (copy-code button). */
const whatsappSms = z
  .object({
    type: z.literal('whatsapp'),
    name: providerLabel,
    /** Phone-number ID of the business number (digits, from the WhatsApp Manager). */
    phoneNumberId: z.string().regex(/^\d{1,30}$/, 'must be the numeric phone-number ID'),
    /** System-user access token (secret), sent as a Bearer token. */
    accessToken: z.string().min(1),
    /** Name of the approved authentication template. */
    templateName: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be lowercase letters, digits and _'),
    /** Template language per customer locale (WhatsApp language codes). */
    languages: z
      .object({
        es: z.string().min(2).max(10).default('es_MX'),
        en: z.string().min(2).max(10).default('en_US'),
      })
      .strict()
      .prefault({}),
    /** Whether the template has the copy-code button (authentication templates do); it then gets the code too. */
    copyCodeButton: z.boolean().default(true),
    /** Graph API version, e.g. v21.0. */
    apiVersion: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like v21.0')
      .default('v21.0'),
    /** API origin; override only for tests. */
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://graph.facebook.com'),
    timeoutMs: providerTimeoutMs,
  })
  .strict()

export const smsProvider = z.discriminatedUnion('type', [
  consoleSms,
  httpSms,
  twilioSms,
  infobipSms,
  whatsappSms,
])

/** A code message template: {branch}, {code} and {minutes} are filled; `@host #code` is appended. */
const codeTemplate = z
  .string()
  .min(1)
  .max(300)
  .refine((t) => t.includes('{code}'), 'must contain {code}')

/** The `sms` key. */
export const smsConfig = z
  .object({
    /**
     * "on": codes are sent. "paused": the operator stopped sending (no provider is called); the
     * portal says so and may offer the degraded tier (`tiers.unverified`).
     */
    mode: z.enum(['on', 'paused']).default('on'),
    /** Providers tried in order. Demo: console (codes printed on stdout). */
    providers: z
      .array(smsProvider)
      .min(1)
      .default([{ type: 'console' }]),
    /** Milliseconds the customer waits at most for the whole chain (failover included). */
    sendBudgetMs: z.number().int().min(500).max(10_000).default(10_000),
    /**
     * Code text per locale. Accents other than é, ñ, ü, ¿, ¡ switch SMS to UCS-2 (70 characters
     * per segment instead of 160): the defaults leave them out on purpose. A warning is logged
     * at start when a text needs two segments.
     */
    templates: z
      .object({
        es: codeTemplate.default(
          'Tu codigo para el Wi-Fi de {branch} es {code}. Vence en {minutes} minutos.',
        ),
        en: codeTemplate.default(
          'Your {branch} Wi-Fi code is {code}. It expires in {minutes} minutes.',
        ),
      })
      .strict()
      .prefault({}),
    /** Defences against SMS pumping and runaway cost. Each count of 0 turns its rule off. */
    fraud: z
      .object({
        /**
         * Codes per number prefix (the number without its last 4 digits) per hour. Not lower:
         * company phone plans hand out consecutive numbers, and colleagues visit together.
         */
        perPrefixPerHour: z.number().int().min(0).default(10),
        /** Circuit breaker: codes per branch per hour; past it, sending pauses for everyone and an alert is logged. */
        branchPerHour: z.number().int().min(0).default(60),
        /** Minutes the circuit breaker pauses sending once tripped. */
        breakerPauseMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(30),
        /** Codes per branch per local calendar day (branch.timeZone); past it, the portal says so. */
        dailyBudget: z.number().int().min(0).default(400),
        conversion: z
          .object({
            /** Distinct numbers a prefix needs in the window before its ratio is judged. */
            minNumbers: z.number().int().min(0).default(10),
            /** Hours of history the ratio of verified to sent is taken over. */
            windowHours: z
              .number()
              .int()
              .min(1)
              .max(24 * 7)
              .default(24),
            /** A prefix is blocked when its ratio is below this fraction of the branch's normal ratio (0–1). */
            belowFraction: z.number().min(0).max(1).default(0.25),
            /** The normal ratio assumed when the rest of the branch has too few numbers to tell (0–1). */
            assumedNormalRatio: z.number().min(0).max(1).default(0.7),
            /** Minutes a low-conversion prefix stays blocked. */
            cooldownMinutes: z
              .number()
              .int()
              .min(1)
              .max(7 * 24 * 60)
              .default(360),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})

export type SmsConfig = z.infer<typeof smsConfig>
export type SmsProviderConfig = z.infer<typeof smsProvider>
export type HttpSmsConfig = z.infer<typeof httpSms>
export type TwilioSmsConfig = z.infer<typeof twilioSms>
export type InfobipSmsConfig = z.infer<typeof infobipSms>
export type WhatsappSmsConfig = z.infer<typeof whatsappSms>
export type SmsFraudConfig = SmsConfig['fraud']

/** Half-set provider credentials, refused with a sentence naming the keys. */
export function smsProblems(sms: SmsConfig): KeyProblem[] {
  return sms.providers.flatMap((p, i) =>
    providerProblems(p).map((message) => ({ path: ['sms', 'providers', i], message })),
  )
}

function providerProblems(p: SmsProviderConfig): string[] {
  if (p.type !== 'twilio') return []
  const out: string[] = []
  const token = p.authToken !== null
  const key = p.apiKeySid !== null || p.apiKeySecret !== null
  if (token === key) out.push('twilio: set either authToken, or apiKeySid and apiKeySecret')
  else if (key && (p.apiKeySid === null || p.apiKeySecret === null)) {
    out.push('twilio: partial API key, set both apiKeySid and apiKeySecret')
  }
  if ((p.from === null) === (p.messagingServiceSid === null)) {
    out.push('twilio: set either from or messagingServiceSid')
  }
  return out
}
