import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import type { Erasure } from '../customers/erasure.js'
import type { Allowance } from '../access/allowance.js'
import { parsePhone, type PhoneRules } from '../customers/phone.js'

export interface CustomerSummary {
  id: number
  name: string
  phone_e164: string
  first_verified_at: number
  last_verified_at: number
  visits: number
  last_visit_at: number | null
}

export interface CustomerFile {
  customer: {
    id: number
    name: string
    phone_e164: string
    locale: string
    first_verified_at: number
    last_verified_at: number
    updated_at: number
    erased_at: number | null
  }
  devices: Array<{ mac: string; first_seen_at: number; last_seen_at: number; is_staff: number }>
  consents: Array<{
    notice_version: string
    purposes: string
    given_at: number
    branch_id: string
    mac: string | null
    locale: string
    withdrawn_at: number | null
  }>
  visits: Array<{
    id: string
    started_at: number
    last_seen_at: number
    ended_at: number | null
    end_reason: string | null
  }>
  campaigns: Array<{ campaign: string; sent_at: number }>
}

/** What the customer page shows of tiers and the daily allowance (issue 17). */
export interface CustomerAccessNow {
  /** The customer's devices let through now, with their tier and rate. */
  live: Array<{
    mac: string
    tier: string
    ends_at: number
    down_kbps: number | null
    up_kbps: number | null
    slowed: number
  }>
  /** Bytes the customer moved today (all devices); the allowance and what is left, or null. */
  usedBytes: number
  limitBytes: number | null
  remainingBytes: number | null
}

/** Folds case and accents so "jose" finds "José". Registered as an SQL function. */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()
}

export interface CustomerDeskDeps {
  db: Db
  clock: Clock
  audit: AuditStatements
  /** Block then delete (src/customers/erasure.ts); null where only searching (worker thread). */
  erasure: Pick<Erasure, 'block'> | null
  phoneRules: PhoneRules
  /** The daily allowance (issue 17); absent (the worker's search-only desk): not shown. */
  allowance?: Pick<Allowance, 'used' | 'remaining'>
  /** gate.quota.dailyMB */
  dailyMB?: number | null
}

/** Finding customers, reading everything kept about one, exporting it and erasing it. */
export function createCustomerDesk(deps: CustomerDeskDeps) {
  const { db } = deps
  db.function('bg_fold', { deterministic: true }, (v: unknown) =>
    typeof v === 'string' ? fold(v) : null,
  )
  const SUMMARY = `SELECT c.id, c.name, c.phone_e164, c.first_verified_at, c.last_verified_at,
      (SELECT COUNT(*) FROM visits v WHERE v.customer_id = c.id) AS visits,
      (SELECT MAX(started_at) FROM visits v WHERE v.customer_id = c.id) AS last_visit_at
    FROM customers c`
  const byPhone = db.prepare(`${SUMMARY} WHERE c.erased_at IS NULL AND c.phone_e164 = @phone`)
  const byDigits = db.prepare(
    `${SUMMARY} WHERE c.erased_at IS NULL AND c.phone_e164 LIKE @pattern ESCAPE '\\' ORDER BY c.last_verified_at DESC LIMIT @limit`,
  )
  const byName = db.prepare(
    `${SUMMARY} WHERE c.erased_at IS NULL AND bg_fold(c.name) LIKE @pattern ESCAPE '\\' ORDER BY c.last_verified_at DESC LIMIT @limit`,
  )
  const recent = db.prepare(
    `${SUMMARY} WHERE c.erased_at IS NULL ORDER BY c.last_verified_at DESC LIMIT @limit`,
  )
  const customer = db.prepare(
    `SELECT id, name, phone_e164, locale, first_verified_at, last_verified_at, updated_at, erased_at FROM customers WHERE id = @id`,
  )
  const devices = db.prepare(
    `SELECT mac, first_seen_at, last_seen_at, is_staff FROM devices WHERE customer_id = @id ORDER BY first_seen_at`,
  )
  const consents = db.prepare(
    `SELECT notice_version, purposes, given_at, branch_id, mac, locale, withdrawn_at FROM consents
     WHERE customer_id = @id ORDER BY given_at`,
  )
  const visits = db.prepare(
    `SELECT id, started_at, last_seen_at, ended_at, end_reason FROM visits WHERE customer_id = @id
     ORDER BY started_at DESC LIMIT @limit`,
  )
  const campaigns = db.prepare(
    `SELECT campaign, sent_at FROM campaign_sends WHERE phone_e164 = @phone ORDER BY sent_at DESC`,
  )
  const authorizations = db.prepare(
    `SELECT mac, starts_at, ends_at, reason, ended_at, end_reason FROM authorizations WHERE customer_id = @id ORDER BY starts_at`,
  )
  const liveAccess = db.prepare(
    `SELECT mac, tier, ends_at, down_kbps, up_kbps, slowed FROM authorizations
     WHERE customer_id = @id AND ended_at IS NULL AND ends_at > @now ORDER BY starts_at`,
  )
  const setStaff = db.prepare(
    `UPDATE devices SET is_staff = @staff, staff_from_config = 0 WHERE mac = @mac AND customer_id = @id`,
  )
  const markStaff = db.transaction((id: number, mac: string, staff: boolean, actor: string) => {
    const changed = setStaff.run({ id, mac, staff: staff ? 1 : 0 }).changes === 1
    if (changed) {
      deps.audit.record({
        at: deps.clock.now(),
        actor,
        action: staff ? 'device.staff' : 'device.unstaff',
        subject: mac,
        detail: { customerId: id },
      })
    }
    return changed
  })

  const like = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`)

  // Issue 17 and 18's data about the customer, for the ARCO access export (issue 15).
  const exportGrants = db.prepare(
    `SELECT phone_e164, name, locale, marketing, notice_version, mac, day, granted_at, ends_at, why, upgraded_at
     FROM unverified_grants WHERE customer_id = @id OR phone_e164 = @phone ORDER BY granted_at`,
  )
  const exportUsage = db.prepare(
    `SELECT day, bytes, slowed_at FROM data_usage WHERE holder = @holder ORDER BY day`,
  )
  const exportArrivals = db.prepare(
    `SELECT at, kind, os_family FROM device_arrivals WHERE customer_id = @id ORDER BY at`,
  )

  function file(id: number, visitLimit = 1_000_000): CustomerFile | null {
    const c = customer.get({ id }) as CustomerFile['customer'] | undefined
    if (!c) return null
    return {
      customer: c,
      devices: devices.all({ id }) as CustomerFile['devices'],
      consents: consents.all({ id }) as CustomerFile['consents'],
      visits: visits.all({ id, limit: visitLimit }) as CustomerFile['visits'],
      campaigns: c.erased_at
        ? []
        : (campaigns.all({ phone: c.phone_e164 }) as CustomerFile['campaigns']),
    }
  }

  return {
    /**
     * Finds customers by phone (typed any way: parsed with the branch's region), by a run of
     * digits within the number, or by name (case and accents ignored). Empty query: most recent.
     */
    search(query: string, limit = 50): CustomerSummary[] {
      const q = query.normalize('NFKC').trim().slice(0, 80)
      if (q === '') return recent.all({ limit }) as CustomerSummary[]
      const phone = parsePhone(q, deps.phoneRules)
      if (phone.ok) return byPhone.all({ phone: phone.e164 }) as CustomerSummary[]
      const digits = q.replace(/\D/g, '')
      if (/^[+\d\s().\-/]+$/.test(q) && digits.length >= 3) {
        return byDigits.all({ pattern: `%${digits}%`, limit }) as CustomerSummary[]
      }
      return byName.all({ pattern: `%${like(fold(q))}%`, limit }) as CustomerSummary[]
    },

    /**
     * Marks one of the customer's devices as a staff device (or not): staff get through without
     * the portal and are left out of every visit figure. Audit-logged; false if no such device.
     */
    setStaff: (id: number, mac: string, staff: boolean, actor: string): boolean =>
      markStaff(id, mac, staff, actor),

    /** Everything kept about one customer, for the customer page (latest 200 visits). */
    page: (id: number) => file(id, 200),

    /** The customer's tier and rate per device now, and today's data (issue 17). */
    accessNow(id: number): CustomerAccessNow {
      const now = deps.clock.now()
      const holder = `c:${id}` as const
      const dailyMB = deps.dailyMB ?? null
      return {
        live: liveAccess.all({ id, now }) as CustomerAccessNow['live'],
        usedBytes: deps.allowance?.used(holder, now) ?? 0,
        limitBytes: dailyMB === null ? null : Math.round(dailyMB * 1_000_000),
        remainingBytes: deps.allowance?.remaining(holder, now) ?? null,
      }
    },

    /** All data of one customer as a JSON document (ARCO access request). Audit-logged. Null for a blocked customer. */
    exportFile(
      id: number,
      actor: string,
    ):
      | (CustomerFile & {
          authorizations: unknown[]
          accessWithoutCode: unknown[]
          dataUsage: unknown[]
          arrivals: unknown[]
          exportedAt: string
        })
      | null {
      const f = file(id)
      // A blocked customer is in no export: their record is kept for legal claims only.
      if (!f || f.customer.erased_at) return null
      const now = deps.clock.now()
      deps.audit.record({ at: now, actor, action: 'customer.export', subject: String(id) })
      return {
        ...f,
        authorizations: authorizations.all({ id }),
        accessWithoutCode: exportGrants.all({ id, phone: f.customer.phone_e164 }),
        dataUsage: exportUsage.all({ holder: `c:${id}` }),
        arrivals: exportArrivals.all({ id }),
        exportedAt: new Date(now).toISOString(),
      }
    },

    /**
     * Blocks a customer at their request (cancellation): invisible from now on, deleted after
     * privacy.blockingDays (src/customers/erasure.ts).
     */
    block(id: number, actor: string): Promise<boolean> {
      if (!deps.erasure) throw new Error('customer desk built without erasure')
      return deps.erasure.block(id, { actor, reason: 'request' })
    },
  }
}
export type CustomerDesk = ReturnType<typeof createCustomerDesk>
