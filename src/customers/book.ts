import type { ArrivalKind, ArrivalStatements, OsFamily } from '../db/arrivals.js'
import type { AuditStatements } from '../db/audit.js'
import type { CustomerRow, CustomerStatements } from '../db/customers.js'
import type { Locale } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import {
  consentGiven,
  consentWithdrawn,
  customerRecord,
  customerRenamed,
  customerVerified,
} from '../sync/events.js'
import type { Outbox } from '../sync/outbox.js'

/** A number just proven by a code: who typed it, on which device, and what they agreed to. */
export interface VerifiedNumber {
  phone: string
  name: string
  locale: Locale
  mac: Mac
  /** Ticked "send me promotions". */
  marketing: boolean
  /** The code's id, for the audit line. */
  challengeId: string
  /** The device's OS family (from its User-Agent), for the console's arrival figures. */
  osFamily?: OsFamily
}

/** A verification recorded: the customer, and how they arrived (see db/arrivals.ts). */
export interface Verified {
  customer: CustomerRow
  arrival: ArrivalKind
}

export interface CustomerBookDeps {
  customers: CustomerStatements
  audit: AuditStatements
  /** Where the CRM's events are written, in the same transaction as the change. */
  outbox: Outbox
  branchId: string
  /** privacy.noticeVersion: recorded with every consent. */
  noticeVersion: string
  /** Where arrivals are counted (issue 18); default: not counted. */
  arrivals?: ArrivalStatements
}

/**
 * The customer domain's writes of a verification: one customer per verified number, the device
 * linked to it, the consent given (and a marketing consent withdrawn by not ticking it again),
 * the audit line and the CRM's events. Called inside the verification's commit.
 */
export function createCustomerBook(deps: CustomerBookDeps) {
  const { customers, outbox } = deps
  return {
    recordVerified(v: VerifiedNumber, now: number): Verified {
      const before = customers.byPhone(v.phone)
      // Read before the device is linked: was this address already this customer's?
      const knownDevice = !!before && customers.deviceWithCustomer(v.mac)?.customer_id === before.id
      const marketingBefore = before ? hadMarketing(customers.consentsOf(before.id).at(-1)) : false
      const { customer, created } = customers.verified({
        phone: v.phone,
        name: v.name,
        locale: v.locale,
        now,
      })
      customers.linkDevice(v.mac, customer.id, now)
      const arrival: ArrivalKind = created
        ? 'new-customer'
        : knownDevice
          ? 'known-device'
          : 'new-address'
      deps.arrivals?.record({
        at: now,
        customerId: customer.id,
        kind: arrival,
        osFamily: v.osFamily ?? 'other',
      })
      const purposes = v.marketing ? ['service', 'marketing'] : ['service']
      customers.recordConsent({
        customerId: customer.id,
        noticeVersion: deps.noticeVersion,
        purposes,
        now,
        branchId: deps.branchId,
        mac: v.mac,
        locale: v.locale,
      })
      deps.audit.record({
        at: now,
        actor: 'portal',
        action: created ? 'customer.create' : 'customer.verify',
        subject: String(customer.id),
        reason: 'otp',
        detail: { mac: v.mac, challenge: v.challengeId },
      })
      const record = customerRecord(customer, v.marketing)
      outbox.append(
        customerVerified({
          customer: record,
          firstTime: created,
          mac: v.mac,
          now,
          macs: outbox.macs,
        }),
      )
      if (before && before.name !== customer.name) {
        outbox.append(customerRenamed({ customer: record, previousName: before.name, now }))
      }
      outbox.append(
        consentGiven({
          customer: record,
          noticeVersion: deps.noticeVersion,
          purposes,
          branchId: deps.branchId,
          locale: v.locale,
          now,
        }),
      )
      if (marketingBefore && !v.marketing) {
        // Not ticked again: the earlier marketing consent is withdrawn, on record and at the CRM.
        customers.withdrawMarketing(customer.id, now)
        deps.audit.record({
          at: now,
          actor: 'portal',
          action: 'consent.withdraw',
          subject: String(customer.id),
          reason: 'login',
        })
        outbox.append(
          consentWithdrawn({
            phone: customer.phone_e164,
            purposes: ['marketing'],
            noticeVersion: deps.noticeVersion,
            branchId: deps.branchId,
            via: 'login',
            now,
          }),
        )
      }
      return { customer, arrival }
    },
  }
}
export type CustomerBook = ReturnType<typeof createCustomerBook>

/** Whether a consent row (the customer's latest) includes marketing and was not withdrawn. */
function hadMarketing(
  consent: { purposes: string; withdrawn_at: number | null } | undefined,
): boolean {
  return (
    !!consent &&
    consent.withdrawn_at === null &&
    (JSON.parse(consent.purposes) as string[]).includes('marketing')
  )
}
