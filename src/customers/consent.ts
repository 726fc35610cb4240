import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { CustomerStatements } from '../db/customers.js'
import type { Db } from '../db/open.js'
import type { Locale } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { consentGiven, consentWithdrawn, customerRecord, customerRenamed } from '../sync/events.js'
import type { Outbox } from '../sync/outbox.js'
import { normalizeName } from './name.js'

export interface ConsentDeskDeps {
  db: Db
  clock: Clock
  customers: CustomerStatements
  audit: AuditStatements
  outbox: Outbox
  branchId: string
  /** privacy.noticeVersion: the notice in force. */
  noticeVersion: string
}

/** Where a withdrawal was asked for (the CRM event's `via`). */
export type WithdrawalChannel = 'portal' | 'console'

/** Thrown by `rename` for a name the portal would refuse too; `reason` is its message key's tail. */
export class NameRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`name refused: ${reason}`)
    this.name = 'NameRefusedError'
  }
}

/**
 * A customer's consents after the login that gave them: withdrawing marketing (as easily as it
 * was given: from the portal or in person), accepting a new version of the notice, and
 * rectifying the name. Each writes the change, its audit line and the CRM's event in one
 * transaction.
 */
export function createConsentDesk(deps: ConsentDeskDeps) {
  const { db, customers, outbox } = deps
  const live = (id: number) => {
    const c = customers.byId(id)
    return c && c.phone_e164.startsWith('+') ? c : undefined
  }
  const latest = (id: number) => customers.consentsOf(id).at(-1)
  const marketingOf = (id: number) => {
    const k = latest(id)
    return (
      !!k && k.withdrawn_at === null && (JSON.parse(k.purposes) as string[]).includes('marketing')
    )
  }

  const withdraw = db.transaction(
    (id: number, actor: string, via: WithdrawalChannel, now: number): boolean => {
      const c = live(id)
      if (!c || !marketingOf(id)) return false
      customers.withdrawMarketing(id, now)
      deps.audit.record({
        at: now,
        actor,
        action: 'consent.withdraw',
        subject: String(id),
        reason: via,
      })
      outbox.append(
        consentWithdrawn({
          phone: c.phone_e164,
          purposes: ['marketing'],
          noticeVersion: latest(id)?.notice_version ?? deps.noticeVersion,
          branchId: deps.branchId,
          via,
          now,
        }),
      )
      return true
    },
  )

  const accept = db.transaction((id: number, mac: Mac, locale: Locale, now: number): boolean => {
    const c = live(id)
    if (!c) return false
    const marketing = marketingOf(id)
    const purposes = marketing ? ['service', 'marketing'] : ['service']
    customers.recordConsent({
      customerId: id,
      noticeVersion: deps.noticeVersion,
      purposes,
      now,
      branchId: deps.branchId,
      mac,
      locale,
    })
    deps.audit.record({
      at: now,
      actor: 'portal',
      action: 'consent.renew',
      subject: String(id),
      reason: 'notice-changed',
      detail: { noticeVersion: deps.noticeVersion },
    })
    outbox.append(
      consentGiven({
        customer: customerRecord(c, marketing),
        noticeVersion: deps.noticeVersion,
        purposes,
        branchId: deps.branchId,
        locale,
        now,
      }),
    )
    return true
  })

  const renameTx = db.transaction(
    (id: number, name: string, actor: string, now: number): boolean => {
      const c = live(id)
      if (!c || c.name === name) return false
      const updated = customers.rename(id, name, now)
      deps.audit.record({
        at: now,
        actor,
        action: 'customer.rename',
        subject: String(id),
        reason: 'rectification',
      })
      outbox.append(
        customerRenamed({
          customer: customerRecord(updated, marketingOf(id)),
          previousName: c.name,
          now,
        }),
      )
      return true
    },
  )

  return {
    /** Whether the customer agrees to marketing now (latest consent has it, not withdrawn). */
    hasMarketing: (id: number): boolean => !!live(id) && marketingOf(id),

    /** The notice version the customer last agreed to, or null. */
    noticeVersionOf: (id: number): string | null => latest(id)?.notice_version ?? null,

    /**
     * Withdraws the customer's marketing consent (sets `withdrawn_at`, audit line,
     * `consent.withdrawn` to the CRM). False when there was none to withdraw: nothing is written.
     */
    withdrawMarketing: (id: number, actor: string, via: WithdrawalChannel): boolean =>
      withdraw(id, actor, via, deps.clock.now()),

    /** The customer accepted the notice now in force (a new consent row, purposes unchanged). */
    acceptNotice: (id: number, mac: Mac, locale: Locale): boolean =>
      accept(id, mac, locale, deps.clock.now()),

    /**
     * Rectifies the name (ARCO rectification): the same rules as the portal's; the CRM gets
     * `customer.renamed`. False when the customer is gone or the name is the same.
     */
    rename(id: number, typed: string, actor: string): boolean {
      const name = normalizeName(typed)
      if (!name.ok) throw new NameRefusedError(name.reason)
      return renameTx(id, name.name, actor, deps.clock.now())
    },
  }
}
export type ConsentDesk = ReturnType<typeof createConsentDesk>
