import { validate as isCronExpression } from 'node-cron'
import { z } from 'zod'
import { OperatorError } from './errors.js'
import { parseAuthority } from './host-check.js'

/**
 * branchgate's configuration: one JSON file plus a few environment overrides.
 *
 * `loadConfig(fileText, env)` is pure: it never touches the disk or `process.env`.
 * Only `main.ts` calls it with the real file and environment.
 */

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const REGION_RE = /^[A-Z]{2}$/

const listener = (defaultHost: string, defaultPort: number) =>
  z
    .object({
      /** Address to bind. */
      host: z.string().min(1).default(defaultHost),
      /** TCP port, 1–65535; 0 lets the system pick a free one (tests: the log line names it). */
      port: z.number().int().min(0).max(65535).default(defaultPort),
    })
    .strict()
    .prefault({})

/** An operator-supplied certificate for a TLS listener: PEM files read at start. */
const pemFiles = {
  /** PEM certificate (chain) file. */
  certFile: z.string().min(1),
  /** PEM private key file (keep it mode 0600). */
  keyFile: z.string().min(1),
}

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

const smsProvider = z.discriminatedUnion('type', [
  consoleSms,
  httpSms,
  twilioSms,
  infobipSms,
  whatsappSms,
])
const SMS_TYPES = ['console', 'http', 'twilio', 'infobip', 'whatsapp']

/** A code message template: {branch}, {code} and {minutes} are filled; `@host #code` is appended. */
const codeTemplate = z
  .string()
  .min(1)
  .max(300)
  .refine((t) => t.includes('{code}'), 'must contain {code}')

const dryRunGate = z.object({ backend: z.literal('dry-run') }).strict()

/** A Linux interface name (IFNAMSIZ: at most 15 characters). */
const interfaceName = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]{1,15}$/,
    'must be an interface name such as eth1 or br-guest (1–15 letters, digits, _ . -)',
  )

/** An IPv4 or IPv6 address, optionally with a /prefix. */
const anyAddress = z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()])
const cidr = z.string().superRefine((v, ctx) => {
  if (!anyAddress.safeParse(v).success) {
    ctx.addIssue({
      code: 'custom',
      message: `must be IP addresses or CIDRs such as 203.0.113.0/24, got ${JSON.stringify(v)}`,
    })
  }
})

/**
 * The real firewall: branchgate owns the nftables table `inet branchgate` (see
 * deploy/nftables.nft.tmpl) and nothing outside it. Needs CAP_NET_ADMIN.
 */
const nftablesGate = z
  .object({
    backend: z.literal('nftables'),
    /** The guest Wi-Fi/LAN interface (or bridge) whose clients are caught. Required. */
    guestInterface: interfaceName,
    /** The uplink interface; when set, guests' traffic is masqueraded (NAT) on it. null: no NAT. */
    uplinkInterface: interfaceName.nullable().default(null),
    /** TCP port guests' plain HTTP is redirected to. null: listen.portal.port. */
    portalPort: z.number().int().min(1).max(65535).nullable().default(null),
    walledGarden: z
      .object({
        /** Host names reachable before login (resolved at start, then every refreshMinutes). */
        hosts: z
          .array(
            z
              .string()
              .regex(
                /^(?=.{1,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/,
                'must be host names such as www.example.com',
              ),
          )
          .default([]),
        /** IPv4/IPv6 addresses or CIDRs reachable before login, e.g. "203.0.113.0/24". */
        cidrs: z.array(cidr).default([]),
        /** Minutes between re-resolving `hosts`, 1–1440. */
        refreshMinutes: z.number().int().min(1).max(1440).default(30),
      })
      .strict()
      .prefault({}),
    /** Tries per firewall change before it is reported as failed (1–10). */
    attempts: z.number().int().min(1).max(10).default(3),
    /** The nft program (absolute path or name on PATH). */
    nftPath: z.string().min(1).default('nft'),
    /** branchgate's dnsmasq file for the guest network (deploy/install.sh writes it); doctor checks it. */
    dnsmasqConfFile: z.string().min(1).default('/etc/dnsmasq.d/branchgate.conf'),
  })
  .strict()
const GATE_BACKENDS = ['dry-run', 'nftables']

const localeCode = z.enum(['es', 'en'])

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1'])
/** localhost, ::1 or any address of 127.0.0.0/8. */
const isLoopbackHost = (host: string) =>
  LOOPBACK_HOSTS.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
/** CRM endpoints must be HTTPS; plain http only to loopback (tests, a local relay). */
const crmUrl = z.url().refine((u) => {
  const url = new URL(u)
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}, 'must be an https:// URL (http:// only to loopback)')

const noneSync = z.object({ type: z.literal('none') }).strict()

const webhookSync = z
  .object({
    type: z.literal('webhook'),
    /** Where batches are POSTed. */
    url: crmUrl,
    /**
     * Standard Webhooks signing secrets, `whsec_<base64>`. One normally; during a rotation list
     * two (new first) and every request carries both signatures.
     */
    secrets: z
      .array(z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_ followed by base64'))
      .min(1)
      .max(2),
  })
  .strict()

/** A Salesforce API name (object or field), e.g. Contact, Branchgate_Phone__c. */
const sfName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a Salesforce API name such as Branchgate_Phone__c')
const sfField = (name: string | null) => sfName.nullable().default(name)
const salesforceSync = z
  .object({
    type: z.literal('salesforce'),
    /** The org's My Domain URL, e.g. https://acme.my.salesforce.com (token and data calls go here). */
    loginUrl: crmUrl,
    /** Connected app consumer key (OAuth 2.0 client-credentials flow). */
    clientId: z.string().min(1),
    /** Connected app consumer secret. Never logged. */
    clientSecret: z.string().min(1),
    /** REST API version, e.g. 62.0 (sObject Collections upsert needs 46.0 or later). */
    apiVersion: z
      .string()
      .regex(/^\d{2,3}\.0$/, 'must look like 62.0')
      .refine((v) => Number(v) >= 46, 'must be 46.0 or later')
      .default('62.0'),
    /** Customers: upserted by an external-id field that holds the E.164 number. */
    contact: z
      .object({
        object: sfName.default('Contact'),
        externalIdField: sfName.default('Branchgate_Phone__c'),
        /** Salesforce field per customer attribute; null: not sent. */
        fields: z
          .object({
            name: sfField('LastName'),
            phone: sfField('MobilePhone'),
            locale: sfField('Branchgate_Locale__c'),
            marketingConsent: sfField('Branchgate_Marketing_Consent__c'),
            lastVerifiedAt: sfField('Branchgate_Last_Verified_At__c'),
            lastBranchId: sfField('Branchgate_Last_Branch__c'),
            erasureRequestedAt: sfField('Branchgate_Erasure_Requested_At__c'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Visits: upserted into a custom object by an external-id field that holds the visit id. */
    visit: z
      .object({
        object: sfName.default('Branchgate_Visit__c'),
        externalIdField: sfName.default('Branchgate_Visit_Id__c'),
        /** Relationship to the contact, set by the contact's external id; null: no link. */
        contactRelationship: sfName.nullable().default('Contact__r'),
        fields: z
          .object({
            branchId: sfField('Branch_Id__c'),
            startedAt: sfField('Started_At__c'),
            endedAt: sfField('Ended_At__c'),
            dwellMinutes: sfField('Dwell_Minutes__c'),
            endReason: sfField('End_Reason__c'),
            passBy: sfField('Pass_By__c'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()

const syncAdapter = z.discriminatedUnion('type', [noneSync, webhookSync, salesforceSync])
const SYNC_ADAPTERS = ['none', 'webhook', 'salesforce']

const HOURS_RE =
  /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d(,([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d)*$/
const dayHours = z
  .string()
  .regex(HOURS_RE, 'must be ranges like "09:00-17:00" or "09:00-14:00,16:00-19:00"')
  .refine(rangesAscend, 'each range must close after it opens')
const openingHours = z
  .object({
    mon: dayHours,
    tue: dayHours,
    wed: dayHours,
    thu: dayHours,
    fri: dayHours,
    sat: dayHours,
    sun: dayHours,
  })
  .partial()
  .strict()

function rangesAscend(text: string): boolean {
  const minutes = (hm: string) => Number(hm.slice(0, 2)) * 60 + Number(hm.slice(3, 5))
  return text.split(',').every((r) => {
    const [open = '', close = ''] = r.split('-')
    return minutes(close) > minutes(open)
  })
}

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
    /** Locale used when the browser does not ask for one we have (es-MX or en). */
    defaultLocale: z.enum(['es-MX', 'es', 'en', 'en-US']).default('es-MX'),
    phone: z
      .object({
        /** Region assumed for numbers typed without a country code (ISO 3166 alpha-2). */
        defaultRegion: z
          .string()
          .regex(REGION_RE, 'must be a two-letter region such as MX')
          .default('MX'),
        /** Regions whose numbers may sign in. */
        allowedRegions: z
          .array(z.string().regex(REGION_RE, 'must be two-letter regions such as MX'))
          .min(1)
          .default(['MX']),
      })
      .strict()
      .prefault({}),
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
            port: z.number().int().min(0).max(65535).default(8443),
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
    otp: z
      .object({
        /** Digits in a code, 4–8. */
        digits: z.number().int().min(4).max(8).default(6),
        /** Seconds a code stays valid. */
        ttlSeconds: z.number().int().min(60).max(3600).default(300),
        /** Wrong tries allowed per code; then a new code is needed. */
        maxAttempts: z.number().int().min(1).max(20).default(5),
        /** Seconds before "send again" is allowed. */
        resendAfterSeconds: z.number().int().min(0).max(600).default(30),
        /** Codes per number within `perNumberWindowMinutes`. */
        perNumberMax: z.number().int().min(1).default(3),
        /** Minutes of the per-number window. */
        perNumberWindowMinutes: z.number().int().min(1).default(15),
        /** Codes per device (MAC) per hour. */
        perDevicePerHour: z.number().int().min(1).default(10),
        /** Codes per number per calendar day (UTC, rolling 24 h). */
        perNumberPerDay: z.number().int().min(1).default(10),
      })
      .strict()
      .prefault({}),
    sms: z
      .object({
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
      .prefault({}),
    gate: z
      .discriminatedUnion('backend', [dryRunGate, nftablesGate])
      .default({ backend: 'dry-run' }),
    /** Folder holding the SQLite database and the install secret. */
    dataDir: z.string().min(1).default('./data'),
    session: z
      .object({
        /** Hours a verified device stays let through (cut at closing time when opening hours are set). */
        hours: z
          .number()
          .min(0.1)
          .max(24 * 7)
          .default(8),
        /** Minutes without any sign of a device before its access is revoked; 0 means never. */
        idleMinutes: z
          .number()
          .int()
          .min(0)
          .max(24 * 60)
          .default(30),
      })
      .strict()
      .prefault({}),
    visits: z
      .object({
        /** Minutes of absence that end a visit; the visit ends at the last activity before it. Fractions allowed (tests). */
        idleMinutes: z.number().min(0.1).max(240).default(15),
        /** Visits shorter than this many minutes are kept but marked as pass-bys (not in dwell averages). */
        minMinutes: z.number().min(0).max(60).default(2),
      })
      .strict()
      .prefault({}),
    presence: z
      .object({
        /** Seconds between two presence sweeps (neighbour table + firewall counters). */
        intervalSeconds: z.number().min(1).max(600).default(30),
      })
      .strict()
      .prefault({}),
    remember: z
      .object({
        /** Days a verified device is recognised ("welcome back", no new code); 0 means never. */
        days: z.number().int().min(0).max(365).default(30),
      })
      .strict()
      .prefault({}),
    reverify: z
      .object({
        /** Days after a number's last verification when a code is asked again, even on a known device. */
        days: z.number().int().min(1).max(3650).default(180),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /** Version of the privacy notice; recorded with every consent. Change it when the text changes. */
        noticeVersion: z.string().min(1).max(40).default('2026-01'),
        /** Short notice text per locale, shown on the splash page. */
        notice: z.record(localeCode, z.string().min(1)).default({
          es: 'Usamos tu nombre y tu número para darte acceso a la red y saber cuándo nos visitas. Puedes pedir que borremos tus datos en cualquier sucursal.',
          en: 'We use your name and number to give you network access and to know when you visit. You can ask any branch to erase your data.',
        }),
        /** Optional link to the full notice (reachable before login via the walled garden). */
        noticeUrl: z.url().nullable().default(null),
      })
      .strict()
      .prefault({}),
    sync: z
      .object({
        /** Where events go. `none` (demo default): events accumulate in the outbox until a CRM is set. */
        adapter: syncAdapter.default({ type: 'none' }),
        /** node-cron expression of the regular run (default every 5 minutes). */
        schedule: z
          .string()
          .refine((v) => isCronExpression(v), 'must be a cron expression such as */5 * * * *')
          .default('*/5 * * * *'),
        /** Seconds; each branch waits a fixed share of this (derived from its id) after every tick. */
        offsetMaxSeconds: z.number().int().min(0).max(3600).default(240),
        /** Milliseconds before one CRM request is abandoned (then retried). */
        timeoutMs: z.number().int().min(50).max(300_000).default(30_000),
        /** Events per request, 1–1000 (Salesforce calls are further cut at 200 records). */
        batchMaxEvents: z.number().int().min(1).max(1000).default(200),
        /** Bytes of events per request (default 500 KB = 512 000 bytes). */
        batchMaxBytes: z.number().int().min(1024).max(10_485_760).default(512_000),
        /** Milliseconds; first backoff window after a failure, doubled per failure (full jitter). */
        backoffBaseMs: z.number().int().min(1).max(600_000).default(1000),
        /** Milliseconds; the backoff never waits longer (default 30 minutes). No retry limit. */
        backoffCapMs: z.number().int().min(10).max(86_400_000).default(1_800_000),
        /** Hours a delivered event stays in the outbox before it is pruned; 0 prunes at once. */
        keepDeliveredHours: z
          .number()
          .min(0)
          .max(24 * 90)
          .default(168),
        /** How MACs leave the branch: hashed (HMAC-SHA256), plain, or omit. */
        macs: z.enum(['hashed', 'plain', 'omit']).default('hashed'),
        /** Key for hashed MACs; null: the install secret (hashes then differ per branch). Never logged. */
        macSalt: z.string().min(16).nullable().default(null),
      })
      .strict()
      .prefault({}),
    console: z
      .object({
        /** Minutes without a request after which a console session ends. */
        sessionIdleMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(30),
        /** Hours after sign-in when a console session ends whatever the activity. */
        sessionMaxHours: z.number().min(1).max(72).default(12),
        /** Failed sign-ins per user name within `loginWindowMinutes` before the name is locked. */
        maxFailuresPerUser: z.number().int().min(1).max(100).default(5),
        /** Failed sign-ins per client address within `loginWindowMinutes` before it is locked. */
        maxFailuresPerIp: z.number().int().min(1).max(1000).default(20),
        /** Minutes of the sign-in throttling window (and of the lock-out). */
        loginWindowMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
        /** Days after a campaign send within which a visit counts as a walk-in. */
        walkInDays: z.number().int().min(1).max(90).default(7),
        /** Minutes since an open visit was last seen for the customer to count as "at the branch now". */
        hereNowMinutes: z.number().int().min(1).max(240).default(15),
        /** TLS for the console listener with the operator's PEM files; null: plain HTTP. */
        tls: z.object(pemFiles).strict().nullable().default(null),
        /**
         * Host names the console answers to besides loopback names and its listener's own
         * address (DNS-rebinding defence): `name` on any port, `name:port` on that port only.
         */
        hosts: z
          .array(
            z
              .string()
              .refine(
                (h) => parseAuthority(h, 'http') !== null,
                'must be host names such as consola.sucursal.lan or consola.sucursal.lan:8443',
              ),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    /** MACs of staff devices (aa:bb:cc:dd:ee:ff). */
    staffMacs: z
      .array(z.string().regex(MAC_RE, 'must be MAC addresses like aa:bb:cc:dd:ee:ff'))
      .default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    cfg.sms.providers.forEach((p, i) => {
      for (const message of providerProblems(p)) {
        ctx.addIssue({ code: 'custom', path: ['sms', 'providers', i], message })
      }
    })
    if (!cfg.phone.allowedRegions.includes(cfg.phone.defaultRegion)) {
      ctx.addIssue({
        code: 'custom',
        path: ['phone', 'defaultRegion'],
        message: `must be one of phone.allowedRegions (${cfg.phone.allowedRegions.join(', ')}), got ${cfg.phone.defaultRegion}`,
      })
    }
    // A sweep gap as long as the idle gap would read as an absence between every two sweeps.
    if (cfg.presence.intervalSeconds * 2 > cfg.visits.idleMinutes * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['presence', 'intervalSeconds'],
        message: `must be at most half of visits.idleMinutes (${cfg.visits.idleMinutes} min), got ${cfg.presence.intervalSeconds} s`,
      })
    }
  })

export type Config = Readonly<z.infer<typeof configSchema>>
export type SmsProviderConfig = z.infer<typeof smsProvider>
export type HttpSmsConfig = z.infer<typeof httpSms>
export type SyncConfig = Config['sync']
export type SyncAdapterConfig = z.infer<typeof syncAdapter>
export type WebhookSyncConfig = z.infer<typeof webhookSync>
export type SalesforceSyncConfig = z.infer<typeof salesforceSync>
export type OpeningHours = z.infer<typeof openingHours>
export type NftablesGateConfig = z.infer<typeof nftablesGate>
export type TwilioSmsConfig = z.infer<typeof twilioSms>
export type InfobipSmsConfig = z.infer<typeof infobipSms>
export type WhatsappSmsConfig = z.infer<typeof whatsappSms>
export type SmsFraudConfig = z.infer<typeof configSchema>['sms']['fraud']

/** Half-set provider credentials, refused with a sentence naming the keys. */
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
export function loadConfig(fileText: string | null, env: ConfigEnv = {}): Config {
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
  const problems: string[] = []
  const port = (name: string, value: string | undefined, set: (n: number) => void) => {
    if (value === undefined || value === '') return
    const n = Number(value)
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      problems.push(
        `${name} must be a port number between 0 and 65535, got ${JSON.stringify(value)}`,
      )
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

  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, merged)))
  }
  // Unless configured, the portal's URL follows the port the portal really listens on.
  if (merged.publicUrl === undefined)
    parsed.data.publicUrl = `http://localhost:${parsed.data.listen.portal.port}`
  return deepFreeze(parsed.data)
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map(String).join('.') || '(top level)'
  const got = valueAt(input, issue.path)
  const shown = got === undefined ? 'nothing' : JSON.stringify(got)
  switch (issue.code) {
    case 'too_big':
    case 'too_small': {
      const min = (issue as any).minimum
      const max = (issue as any).maximum
      const range = rangeOf(path, issue.path, min, max)
      if (typeof got === 'number' && range) return `${path} must be ${range}, got ${got}`
      return `${path}: ${issue.message}, got ${shown}`
    }
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

function rangeOf(_path: string, _p: PropertyKey[], min: unknown, max: unknown): string | null {
  // zod reports one bound at a time; look the other one up from the schema's sibling check.
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`
  const bounds = KNOWN_BOUNDS[_path]
  if (bounds) return `between ${bounds[0]} and ${bounds[1]}`
  if (min !== undefined) return `at least ${min}`
  if (max !== undefined) return `at most ${max}`
  return null
}

const KNOWN_BOUNDS: Record<string, [number, number]> = {
  'otp.digits': [4, 8],
  'otp.ttlSeconds': [60, 3600],
  'otp.maxAttempts': [1, 20],
  'otp.resendAfterSeconds': [0, 600],
  'listen.portal.port': [1, 65535],
  'listen.admin.port': [1, 65535],
  'sync.offsetMaxSeconds': [0, 3600],
  'sync.timeoutMs': [50, 300_000],
  'sync.batchMaxEvents': [1, 1000],
  'sync.batchMaxBytes': [1024, 10_485_760],
  'session.idleMinutes': [0, 1440],
  'visits.idleMinutes': [0.1, 240],
  'visits.minMinutes': [0, 60],
  'presence.intervalSeconds': [1, 600],
  'remember.days': [0, 365],
  'reverify.days': [1, 3650],
  'listen.tls.port': [1, 65535],
  'gate.portalPort': [1, 65535],
  'gate.walledGarden.refreshMinutes': [1, 1440],
  'gate.attempts': [1, 10],
  'sms.sendBudgetMs': [500, 10_000],
  'sms.fraud.breakerPauseMinutes': [1, 1440],
  'sms.fraud.conversion.windowHours': [1, 168],
  'sms.fraud.conversion.belowFraction': [0, 1],
  'sms.fraud.conversion.assumedNormalRatio': [0, 1],
  'sms.fraud.conversion.cooldownMinutes': [1, 10_080],
  'console.sessionIdleMinutes': [1, 1440],
  'console.walkInDays': [1, 90],
}

function unionHint(path: PropertyKey[], got: unknown): string {
  const where = path.map(String).join('.')
  const shown = got !== null && typeof got === 'object' ? undefined : got
  if (where.startsWith('sms.providers')) {
    return `must be one of ${SMS_TYPES.join(', ')}, got ${JSON.stringify(shown ?? (got as any)?.type)}`
  }
  if (where.startsWith('sync.adapter')) {
    return `must be one of ${SYNC_ADAPTERS.join(', ')}, got ${JSON.stringify(shown ?? (got as any)?.type)}`
  }
  if (where.startsWith('gate')) {
    return `must be one of ${GATE_BACKENDS.join(', ')}, got ${JSON.stringify(shown ?? (got as any)?.backend)}`
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
