import type { Clock } from '../clock.js'
import type { SalesforceSyncConfig } from './config.js'
import {
  clip,
  httpCall,
  isContentRejection,
  type BatchOutcome,
  type CrmAdapter,
  type EventResult,
} from './adapter.js'
import type {
  ConsentWithdrawnData,
  CustomerBlockedData,
  CustomerDeletedData,
  CustomerErasedData,
  CustomerRecord,
  VisitClosedData,
} from './events.js'

/**
 * The Salesforce adapter. Login: OAuth 2.0 client-credentials (`POST /services/oauth2/token`).
 * Customers are upserted into Contact (or the configured object) by an external-id field holding
 * the E.164 number; visits into a custom object by an external-id field holding the visit id.
 * Both through sObject Collections upsert:
 *   PATCH /services/data/vXX.X/composite/sobjects/{object}/{externalIdField}
 *   {"allOrNone": false, "records": [{"attributes": {"type": object}, …}]}   (≤ 200 records)
 * Each record's result is mapped back to the events it came from: delivered, retried or parked
 * on its own.
 */

/** Records per sObject Collections call (the documented limit). */
export const SF_MAX_RECORDS = 200

/** Per-record error codes that are worth another try later. */
const RETRYABLE_CODES = new Set([
  'UNABLE_TO_LOCK_ROW',
  'REQUEST_RUNNING_TOO_LONG',
  'SERVER_UNAVAILABLE',
  'QUERY_TIMEOUT',
])

type SfRecord = Record<string, unknown>
interface Pending {
  key: string
  record: SfRecord
  eventIds: string[]
}
interface UpsertResult {
  id?: string
  success: boolean
  created?: boolean
  errors?: Array<{ statusCode?: string; message?: string; fields?: string[] }>
}

class CallFailed extends Error {
  constructor(readonly outcome: BatchOutcome) {
    super(outcome.kind === 'acked' ? 'acked' : outcome.error)
  }
}

export function createSalesforceAdapter(
  cfg: SalesforceSyncConfig,
  deps: { clock: Clock; timeoutMs: number },
): CrmAdapter {
  const base = cfg.loginUrl.replace(/\/+$/, '')
  let token: { accessToken: string; instanceUrl: string } | null = null

  async function login(): Promise<{ accessToken: string; instanceUrl: string }> {
    const res = await httpCall(
      `${base}/services/oauth2/token`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: cfg.clientId,
          client_secret: cfg.clientSecret,
        }).toString(),
      },
      deps.timeoutMs,
      () => deps.clock.now(),
    )
    if (!res.ok)
      throw new CallFailed({
        kind: 'transient',
        error: `salesforce login: ${res.error}`,
        retryAfterMs: null,
      })
    if (res.status !== 200) {
      // A refused login is a credentials problem, not the events' fault: retried, never parked.
      let why = `${res.status}`
      try {
        const j = JSON.parse(res.body) as { error?: string; error_description?: string }
        if (j.error) why += ` ${j.error}${j.error_description ? ` (${j.error_description})` : ''}`
      } catch {
        /* not JSON */
      }
      throw new CallFailed({
        kind: 'transient',
        error: `salesforce login refused: ${clip(why, 200)}`,
        retryAfterMs: res.retryAfterMs,
      })
    }
    const j = JSON.parse(res.body) as { access_token?: string; instance_url?: string }
    if (!j.access_token) {
      throw new CallFailed({
        kind: 'transient',
        error: 'salesforce login: no access_token in the answer',
        retryAfterMs: null,
      })
    }
    token = {
      accessToken: j.access_token,
      instanceUrl: (j.instance_url ?? base).replace(/\/+$/, ''),
    }
    return token
  }

  async function upsert(
    object: string,
    externalIdField: string,
    records: SfRecord[],
  ): Promise<UpsertResult[]> {
    const body = JSON.stringify({
      allOrNone: false,
      records: records.map((r) => ({ attributes: { type: object }, ...r })),
    })
    for (let attempt = 0; ; attempt++) {
      const t = token ?? (await login())
      const res = await httpCall(
        `${t.instanceUrl}/services/data/v${cfg.apiVersion}/composite/sobjects/${encodeURIComponent(object)}/${encodeURIComponent(externalIdField)}`,
        {
          method: 'PATCH',
          headers: {
            authorization: `Bearer ${t.accessToken}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body,
        },
        deps.timeoutMs,
        () => deps.clock.now(),
      )
      if (!res.ok)
        throw new CallFailed({
          kind: 'transient',
          error: `salesforce ${object}: ${res.error}`,
          retryAfterMs: null,
        })
      if (res.status === 401 && attempt === 0) {
        // Expired or revoked session: log in again once, then send the same call again.
        token = null
        continue
      }
      if (res.status === 200) {
        const results = JSON.parse(res.body) as UpsertResult[]
        if (!Array.isArray(results) || results.length !== records.length) {
          throw new CallFailed({
            kind: 'transient',
            error: `salesforce ${object}: ${records.length} records sent, ${Array.isArray(results) ? results.length : 'no'} results`,
            retryAfterMs: null,
          })
        }
        return results
      }
      if (isContentRejection(res.status)) {
        throw new CallFailed({
          kind: 'rejected',
          status: res.status,
          error: `salesforce ${object} answered ${res.status}`,
          response: clip(res.body),
        })
      }
      throw new CallFailed({
        kind: 'transient',
        error: `salesforce ${object} answered ${res.status}: ${clip(res.body, 200)}`,
        retryAfterMs: res.retryAfterMs,
      })
    }
  }

  const set = (r: SfRecord, field: string | null, value: unknown) => {
    if (field) r[field] = value
  }

  function contactFields(c: CustomerRecord, branchId: string): SfRecord {
    const f = cfg.contact.fields
    const r: SfRecord = {}
    set(r, f.name, c.name)
    set(r, f.phone, c.phone)
    set(r, f.locale, c.locale)
    set(r, f.marketingConsent, c.marketingConsent)
    set(r, f.lastVerifiedAt, c.lastVerifiedAt)
    set(r, f.lastBranchId, branchId)
    return r
  }

  return {
    name: 'salesforce',
    async deliver(batch) {
      const contacts = new Map<string, Pending>()
      const visits = new Map<string, Pending>()
      const early: EventResult[] = []
      const erasures = new Set<string>()
      const add = (into: Map<string, Pending>, key: string, record: SfRecord, eventId: string) => {
        const p = into.get(key)
        // Events are in order, so a later event's values win when one record gets several.
        if (p) {
          Object.assign(p.record, record)
          p.eventIds.push(eventId)
        } else into.set(key, { key, record, eventIds: [eventId] })
      }
      for (const e of batch.events) {
        const data = JSON.parse(e.data) as Record<string, unknown>
        // Issue 15: the CRM's key and one date, on the contact found by that key.
        const keyOnly = (phone: string, r: SfRecord, field: string | null, what: string) => {
          if (field === null && Object.keys(r).length === 0) {
            early.push({
              id: e.id,
              result: 'park',
              error: `salesforce: contact.fields.${what} is not mapped`,
              response: null,
            })
            return
          }
          add(contacts, phone, r, e.id)
          erasures.add(e.id)
        }
        if (e.type === 'consent.withdrawn' && e.schemaVersion >= 2) {
          const d = data as unknown as ConsentWithdrawnData
          const r: SfRecord = {}
          set(r, cfg.contact.fields.marketingConsent, false)
          set(r, cfg.contact.fields.marketingWithdrawnAt, d.consent.withdrawnAt)
          keyOnly(d.phone, r, cfg.contact.fields.marketingConsent, 'marketingConsent')
        } else if (e.type === 'customer.blocked') {
          const d = data as unknown as CustomerBlockedData
          const r: SfRecord = {}
          set(r, cfg.contact.fields.blockedAt, d.blockedAt)
          set(r, cfg.contact.fields.marketingConsent, false)
          keyOnly(d.phone, r, cfg.contact.fields.blockedAt, 'blockedAt')
        } else if (e.type === 'customer.deleted') {
          const d = data as unknown as CustomerDeletedData
          const r: SfRecord = {}
          set(r, cfg.contact.fields.deletedAt, d.deletedAt)
          keyOnly(d.phone, r, cfg.contact.fields.deletedAt, 'deletedAt')
        } else if (e.type === 'customer.erased') {
          const d = data as unknown as CustomerErasedData
          const r: SfRecord = {}
          set(r, cfg.contact.fields.erasureRequestedAt, d.requestedAt)
          if (!cfg.contact.fields.erasureRequestedAt) {
            early.push({
              id: e.id,
              result: 'park',
              error: 'salesforce: contact.fields.erasureRequestedAt is not mapped',
              response: null,
            })
            continue
          }
          add(contacts, d.phone, r, e.id)
          erasures.add(e.id)
        } else if (e.type === 'visit.closed') {
          const d = data as unknown as VisitClosedData
          const f = cfg.visit.fields
          const r: SfRecord = {}
          set(r, f.branchId, d.visit.branchId)
          set(r, f.startedAt, d.visit.startedAt)
          set(r, f.endedAt, d.visit.endedAt)
          set(r, f.dwellMinutes, d.visit.dwellMinutes)
          set(r, f.endReason, d.visit.endReason)
          if (d.visit.passBy !== undefined) set(r, f.passBy, d.visit.passBy)
          if (d.customer) {
            add(contacts, d.customer.phone, contactFields(d.customer, e.branchId), e.id)
            if (cfg.visit.contactRelationship) {
              r[cfg.visit.contactRelationship] = { [cfg.contact.externalIdField]: d.customer.phone }
            }
          }
          add(visits, d.visit.id, r, e.id)
        } else if (data.customer && typeof data.customer === 'object') {
          add(
            contacts,
            (data.customer as CustomerRecord).phone,
            contactFields(data.customer as CustomerRecord, e.branchId),
            e.id,
          )
        } else {
          early.push({
            id: e.id,
            result: 'park',
            error: `salesforce: no mapping for ${e.type}`,
            response: null,
          })
        }
      }

      // The worst verdict per event wins: park > retry > delivered.
      const verdict = new Map<string, EventResult>()
      const rank = { delivered: 0, retry: 1, park: 2 }
      const note = (r: EventResult) => {
        const had = verdict.get(r.id)
        if (!had || rank[r.result] > rank[had.result]) verdict.set(r.id, r)
      }
      early.forEach(note)

      try {
        // Contacts first: a visit refers to its contact by the contact's external id.
        for (const [object, extField, pending] of [
          [cfg.contact.object, cfg.contact.externalIdField, [...contacts.values()]],
          [cfg.visit.object, cfg.visit.externalIdField, [...visits.values()]],
        ] as const) {
          for (let i = 0; i < pending.length; i += SF_MAX_RECORDS) {
            const chunk = pending.slice(i, i + SF_MAX_RECORDS)
            let results: UpsertResult[]
            try {
              results = await upsert(
                object,
                extField,
                chunk.map((p) => ({ [extField]: p.key, ...p.record })),
              )
            } catch (err) {
              if (err instanceof CallFailed && err.outcome.kind === 'rejected') {
                const o = err.outcome
                for (const p of chunk)
                  for (const id of p.eventIds)
                    note({ id, result: 'park', error: o.error, response: o.response })
                continue
              }
              throw err
            }
            chunk.forEach((p, k) => {
              const r = results[k]!
              const code = r.errors?.[0]?.statusCode ?? 'UNKNOWN'
              for (const id of p.eventIds) {
                if (r.success) note({ id, result: 'delivered' })
                else if (erasures.has(id) && code === 'REQUIRED_FIELD_MISSING') {
                  // Erasing, blocking or opting out a contact the CRM never had: nothing to do.
                  note({ id, result: 'delivered' })
                } else if (RETRYABLE_CODES.has(code)) {
                  note({
                    id,
                    result: 'retry',
                    error: `salesforce ${object}: ${code} ${r.errors?.[0]?.message ?? ''}`.trim(),
                  })
                } else {
                  note({
                    id,
                    result: 'park',
                    error: `salesforce ${object}: ${code} ${r.errors?.[0]?.message ?? ''}`.trim(),
                    response: clip(JSON.stringify(r)),
                  })
                }
              }
            })
          }
        }
      } catch (err) {
        if (err instanceof CallFailed) return err.outcome
        throw err
      }
      return {
        kind: 'acked',
        events: batch.events.map(
          (e) => verdict.get(e.id) ?? { id: e.id, result: 'delivered' as const },
        ),
      }
    },
  }
}
