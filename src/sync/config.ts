import { z } from '../config-kit.js'
import { validate as isCronExpression } from 'node-cron'

/**
 * The `sync` key: the CRM adapter (none, webhook, Salesforce), the schedule, batching, backoff
 * and how MACs leave the branch.
 */

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
            // Issue 15: block then delete, and when marketing was withdrawn.
            blockedAt: sfField('Branchgate_Blocked_At__c'),
            deletedAt: sfField('Branchgate_Deleted_At__c'),
            marketingWithdrawnAt: sfField('Branchgate_Marketing_Withdrawn_At__c'),
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

export const syncAdapter = z.discriminatedUnion('type', [noneSync, webhookSync, salesforceSync])

/** The `sync` key. */
export const syncConfig = z
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
    /**
     * Hours a delivered event stays in the outbox before it is pruned; 0 prunes at once.
     * Superseded by privacy.retention.deliveredEventsDays (issue 15), which applies when this is
     * not set; kept so existing config files still load.
     */
    keepDeliveredHours: z
      .number()
      .min(0)
      .max(24 * 90)
      .optional(),
    /** How MACs leave the branch: hashed (HMAC-SHA256), plain, or omit. */
    macs: z.enum(['hashed', 'plain', 'omit']).default('hashed'),
    /** Key for hashed MACs; null: the install secret (hashes then differ per branch). Never logged. */
    macSalt: z.string().min(16).nullable().default(null),
  })
  .strict()
  .prefault({})

export type SyncConfig = z.infer<typeof syncConfig>
export type SyncAdapterConfig = z.infer<typeof syncAdapter>
export type WebhookSyncConfig = z.infer<typeof webhookSync>
export type SalesforceSyncConfig = z.infer<typeof salesforceSync>
