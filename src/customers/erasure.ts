import type { DeviceAccess } from '../access/device-access.js'
import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { tallyStatements, type VisitToTally } from '../db/tallies.js'
import type { Mac } from '../mac.js'

const DAY = 86_400_000

/** Why a customer is blocked: they asked (ARCO cancellation, GDPR erasure), or retention ran out. */
export type BlockReason = 'request' | 'retention'

/** A customer was blocked here; the CRM must be told (in the blocking's transaction). */
export interface CustomerBlocked {
  customerId: number
  /** The number as it was: the CRM's key. Not kept in the live tables after this. */
  phoneE164: string
  blockedAt: number
  deleteAfter: number
  reason: BlockReason
  actor: string
}

/** A blocked customer was deleted here; the CRM must be told (in the deletion's transaction). */
export interface CustomerDeleted {
  customerId: number
  phoneE164: string
  deletedAt: number
}

/**
 * Told of each step inside its transaction, so the CRM's event and the local change commit
 * together (src/sync/outbox.ts backs it with `customer.blocked` and `customer.deleted`).
 */
export interface ErasureNotifier {
  customerBlocked(event: CustomerBlocked): void
  customerDeleted(event: CustomerDeleted): void
}

export interface ErasureDeps {
  db: Db
  clock: Clock
  audit: AuditStatements
  access: Pick<DeviceAccess, 'setDeviceState' | 'liveUntil'>
  /** Told inside the transactions (the CRM's `customer.blocked` and `customer.deleted`). */
  erasure: ErasureNotifier
  branchId: string
  /** privacy.blockingDays: how long a blocked record is kept before deletion. */
  blockingDays: number
  /** The branch's time zone: tallies count visitors per local day. */
  timeZone: string
}

/** What is kept of a blocked customer, for legal claims only (blocked_customers.record). */
export interface BlockedRecord {
  customer: Record<string, unknown>
  devices: unknown[]
  consents: unknown[]
  authorizations: unknown[]
  campaignSends: unknown[]
  /** Issue 17: access without a code given on their number, and their bytes per day. */
  unverifiedGrants?: unknown[]
  dataUsage?: unknown[]
}

/**
 * Cancellation in two stages (LFPDPPP 2025: blocking, then deletion; GDPR/LOPDGDD art. 32).
 *
 * **Block**: the customer's personal data leaves every live table in one transaction (devices,
 * consents, access records, codes and campaign sends are deleted; the customer row stays as an
 * anonymous id, `erased_at` set, so the visits keep counting) and is kept as one JSON record in
 * `blocked_customers`, which nothing but this module and the privacy job reads: invisible in
 * every page, search, export, report and sync, unusable for marketing. Live access is revoked
 * first through the one state-change path. A staff device is not the customer's: it stays, with its
 * flag and access, detached from them, and a staff member's visits (counted in no figure) go.
 *
 * **Delete**, `blockingDays` later (the daily privacy job): the record and the anonymous customer
 * go, and their visits become anonymous tallies (src/db/tallies.ts), so the dashboard's past
 * figures stay what they were.
 */
export function createErasure(deps: ErasureDeps) {
  const { db } = deps
  const tallies = tallyStatements(db)
  const customer = db.prepare(`SELECT * FROM customers WHERE id = @id`)
  const devices = db.prepare(`SELECT * FROM devices WHERE customer_id = @id`)
  const consents = db.prepare(`SELECT * FROM consents WHERE customer_id = @id`)
  const authorizations = db.prepare(`SELECT * FROM authorizations WHERE customer_id = @id`)
  const campaignSends = db.prepare(
    `SELECT campaign, sent_at, imported_at, imported_by FROM campaign_sends WHERE phone_e164 = @phone`,
  )
  const anonymize = db.prepare(
    `UPDATE customers SET name = '', phone_e164 = 'erased:' || id, locale = '', updated_at = @now, erased_at = @now
     WHERE id = @id AND erased_at IS NULL`,
  )
  // A staff device is the branch's, not the customer's: it leaves the customer's record with its
  // flag and its access, and is kept while it stays staff (never part of a customer's lifecycle).
  const detachStaff = db.prepare(
    `UPDATE devices SET customer_id = NULL, verified_at = NULL WHERE customer_id = @id AND is_staff = 1`,
  )
  // Issue 17: access without a code on their number (the number as typed, the name, the device)
  // and the bytes their devices moved per day are theirs too.
  const unverifiedGrants = db.prepare(
    `SELECT * FROM unverified_grants WHERE customer_id = @id OR phone_e164 = @phone`,
  )
  const dataUsage = db.prepare(
    `SELECT day, bytes, slowed_at FROM data_usage WHERE holder = @holder`,
  )
  // Emptied rather than deleted: the dashboard counts grants without a code, and no figure
  // changes at blocking (the row keeps only its day, times and why).
  const dropUnverifiedGrants = db.prepare(
    `UPDATE unverified_grants SET phone_e164 = '', name = '', locale = '', marketing = 0,
       mac = 'erased:' || id, customer_id = NULL
     WHERE customer_id = @id OR phone_e164 = @phone`,
  )
  const dropDataUsage = db.prepare(`DELETE FROM data_usage WHERE holder = @holder`)
  const dropCounters = db.prepare(
    `DELETE FROM device_counters WHERE mac IN (SELECT mac FROM devices WHERE customer_id = @id)`,
  )
  const dropDevices = db.prepare(`DELETE FROM devices WHERE customer_id = @id`)
  const dropConsents = db.prepare(`DELETE FROM consents WHERE customer_id = @id`)
  const dropAuthorizations = db.prepare(`DELETE FROM authorizations WHERE customer_id = @id`)
  const dropCodes = db.prepare(`DELETE FROM otp_challenges WHERE phone_e164 = @phone`)
  const dropCampaignSends = db.prepare(`DELETE FROM campaign_sends WHERE phone_e164 = @phone`)
  const keep = db.prepare(
    `INSERT INTO blocked_customers (customer_id, blocked_at, delete_after, reason, actor, phone_e164, record)
     VALUES (@id, @now, @deleteAfter, @reason, @actor, @phone, @record)`,
  )
  const blocked = db.prepare(`SELECT * FROM blocked_customers WHERE customer_id = @id`)
  const visitsOf = db.prepare(
    `SELECT started_at, COALESCE(ended_at, last_seen_at) AS ended_at, ended_at IS NULL AS open FROM visits
     WHERE customer_id = @id ORDER BY started_at`,
  )
  const dropVisits = db.prepare(`DELETE FROM visits WHERE customer_id = @id`)
  const dropBlocked = db.prepare(`DELETE FROM blocked_customers WHERE customer_id = @id`)
  const dropCustomer = db.prepare(`DELETE FROM customers WHERE id = @id`)

  type Row = { id: number; phone_e164: string; erased_at: number | null }
  const blockLocally = db.transaction(
    (c: Row, actor: string, reason: BlockReason, now: number): boolean => {
      // Re-read inside the transaction: a parallel block may have won.
      const fresh = customer.get({ id: c.id }) as Row | undefined
      if (!fresh || fresh.erased_at !== null) return false
      const record: BlockedRecord = {
        customer: fresh as unknown as Record<string, unknown>,
        devices: devices.all({ id: c.id }),
        consents: consents.all({ id: c.id }),
        authorizations: authorizations.all({ id: c.id }),
        campaignSends: campaignSends.all({ phone: fresh.phone_e164 }),
        unverifiedGrants: unverifiedGrants.all({ id: c.id, phone: fresh.phone_e164 }),
        dataUsage: dataUsage.all({ holder: `c:${c.id}` }),
      }
      const deleteAfter = now + deps.blockingDays * DAY
      keep.run({
        id: c.id,
        now,
        deleteAfter,
        reason,
        actor,
        phone: fresh.phone_e164,
        record: JSON.stringify(record),
      })
      // A staff member's visits count in no figure: with the staff device gone from their record
      // they would start counting, so they go now, untallied (every figure stays what it was).
      const staffDevices = detachStaff.run({ id: c.id }).changes
      const staffVisits = staffDevices > 0 ? dropVisits.run({ id: c.id }).changes : 0
      dropCounters.run({ id: c.id })
      dropDevices.run({ id: c.id })
      dropConsents.run({ id: c.id })
      dropUnverifiedGrants.run({ id: c.id, phone: fresh.phone_e164 })
      dropDataUsage.run({ holder: `c:${c.id}` })
      dropAuthorizations.run({ id: c.id })
      dropCodes.run({ phone: fresh.phone_e164 })
      dropCampaignSends.run({ phone: fresh.phone_e164 })
      anonymize.run({ id: c.id, now })
      deps.audit.record({
        at: now,
        actor,
        action: 'customer.block',
        subject: String(c.id),
        reason: reason === 'request' ? 'arco-request' : 'retention',
        detail: staffDevices > 0 ? { deleteAfter, staffDevices, staffVisits } : { deleteAfter },
      })
      deps.erasure.customerBlocked({
        customerId: c.id,
        phoneE164: fresh.phone_e164,
        blockedAt: now,
        deleteAfter,
        reason,
        actor,
      })
      return true
    },
  )

  type BlockedRow = {
    customer_id: number
    phone_e164: string | null
    delete_after: number
  }
  const deleteLocally = db.transaction((id: number, now: number): boolean => {
    const b = blocked.get({ id }) as BlockedRow | undefined
    if (!b) return false
    const c = customer.get({ id }) as { tallied_through: string | null } | undefined
    const visits = visitsOf.all({ id }) as VisitToTally[]
    tallies.tally(visits, { talliedThrough: c?.tallied_through ?? null }, deps.timeZone)
    dropVisits.run({ id })
    dropBlocked.run({ id })
    dropCustomer.run({ id })
    deps.audit.record({
      at: now,
      actor: 'system',
      action: 'customer.delete',
      subject: String(id),
      reason: 'blocking-ended',
      detail: { visits: visits.length },
    })
    // Customers erased before issue 15 have no number left: the CRM was told then.
    if (b.phone_e164 !== null) {
      deps.erasure.customerDeleted({ customerId: id, phoneE164: b.phone_e164, deletedAt: now })
    }
    return true
  })

  return {
    /**
     * Blocks customer `id` (see above); false when there is no such customer or it is blocked
     * already. `now` defaults to the clock (the privacy job passes its capped instant).
     */
    async block(
      id: number,
      opts: { actor: string; reason: BlockReason; now?: number },
    ): Promise<boolean> {
      const c = customer.get({ id }) as Row | undefined
      if (!c || c.erased_at) return false
      for (const d of devices.all({ id }) as Array<{ mac: string; is_staff: 0 | 1 }>) {
        // A staff device keeps its access (see detachStaff).
        if (d.is_staff === 0 && deps.access.liveUntil(d.mac as Mac) !== null) {
          await deps.access.setDeviceState({
            next: 'blocked',
            mac: d.mac as Mac,
            reason: 'revoke',
            actor: opts.actor,
          })
        }
      }
      return blockLocally(c, opts.actor, opts.reason, opts.now ?? deps.clock.now())
    },

    /**
     * Deletes a blocked customer for good (the privacy job, once `delete_after` passed): their
     * visits become tallies, the record and the anonymous row go. One transaction: a kill
     * leaves the customer either blocked or deleted, never half of it.
     */
    deleteBlocked: (id: number, now: number): boolean => deleteLocally(id, now),

    /** The blocked record of a customer, for legal claims (null when not blocked). */
    blockedRecord(id: number): {
      blockedAt: number
      deleteAfter: number
      reason: BlockReason
      actor: string
      record: BlockedRecord | Record<string, never>
    } | null {
      const b = blocked.get({ id }) as
        | {
            blocked_at: number
            delete_after: number
            reason: BlockReason
            actor: string
            record: string
          }
        | undefined
      if (!b) return null
      return {
        blockedAt: b.blocked_at,
        deleteAfter: b.delete_after,
        reason: b.reason,
        actor: b.actor,
        record: JSON.parse(b.record) as BlockedRecord,
      }
    },
  }
}
export type Erasure = ReturnType<typeof createErasure>
