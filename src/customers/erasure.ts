import type { DeviceAccess } from '../access/device-access.js'
import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import type { Mac } from '../mac.js'

/** A customer's personal data was erased here; the CRM must be told (ARCO/GDPR). */
export interface CustomerErased {
  customerId: number
  /** The number as it was, so the CRM can find its record; not kept locally after this. */
  phoneE164: string
  erasedAt: number
  branchId: string
  actor: string
}

/**
 * Told of each erasure inside the erasure's transaction, so the outbox event and the local
 * erasure commit together (the sync feature's `customer.erased` event builder).
 */
export interface ErasureNotifier {
  customerErased(event: CustomerErased): void
}

export interface ErasureDeps {
  db: Db
  clock: Clock
  audit: AuditStatements
  access: Pick<DeviceAccess, 'setDeviceState' | 'liveUntil'>
  /** Told inside the erasure's transaction (the CRM's `customer.erased` event). */
  erasure: ErasureNotifier
  branchId: string
}

/**
 * Erasing a customer's personal data (ARCO cancellation / GDPR erasure): devices, consents,
 * access records, codes and campaign sends are deleted; the customer row stays as an anonymous
 * id so visit counts keep their meaning. Live access is revoked first through the one
 * state-change path; the notifier is told inside the same transaction.
 */
export function createErasure(deps: ErasureDeps) {
  const { db } = deps
  const customer = db.prepare(`SELECT id, phone_e164, erased_at FROM customers WHERE id = @id`)
  const devices = db.prepare(`SELECT mac FROM devices WHERE customer_id = @id`)
  const anonymize = db.prepare(
    `UPDATE customers SET name = '', phone_e164 = 'erased:' || id, locale = '', updated_at = @now, erased_at = @now
     WHERE id = @id AND erased_at IS NULL`,
  )
  const dropDevices = db.prepare(`DELETE FROM devices WHERE customer_id = @id`)
  const dropConsents = db.prepare(`DELETE FROM consents WHERE customer_id = @id`)
  const dropAuthorizations = db.prepare(`DELETE FROM authorizations WHERE customer_id = @id`)
  const dropCodes = db.prepare(`DELETE FROM otp_challenges WHERE phone_e164 = @phone`)
  const dropCampaignSends = db.prepare(`DELETE FROM campaign_sends WHERE phone_e164 = @phone`)

  type Row = { id: number; phone_e164: string; erased_at: number | null }
  const eraseLocally = db.transaction((c: Row, actor: string, now: number) => {
    dropDevices.run({ id: c.id })
    dropConsents.run({ id: c.id })
    dropAuthorizations.run({ id: c.id })
    dropCodes.run({ phone: c.phone_e164 })
    dropCampaignSends.run({ phone: c.phone_e164 })
    anonymize.run({ id: c.id, now })
    deps.audit.record({
      at: now,
      actor,
      action: 'customer.erase',
      subject: String(c.id),
      reason: 'arco-request',
    })
    deps.erasure.customerErased({
      customerId: c.id,
      phoneE164: c.phone_e164,
      erasedAt: now,
      branchId: deps.branchId,
      actor,
    })
  })

  return {
    /** Erases customer `id`; false when there is no such customer or it is erased already. */
    async erase(id: number, actor: string): Promise<boolean> {
      const c = customer.get({ id }) as Row | undefined
      if (!c || c.erased_at) return false
      for (const d of devices.all({ id }) as Array<{ mac: string }>) {
        if (deps.access.liveUntil(d.mac as Mac) !== null) {
          await deps.access.setDeviceState({
            next: 'blocked',
            mac: d.mac as Mac,
            reason: 'revoke',
            actor,
          })
        }
      }
      eraseLocally(c, actor, deps.clock.now())
      return true
    },
  }
}
export type Erasure = ReturnType<typeof createErasure>
