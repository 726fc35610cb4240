import { createHmac } from 'node:crypto'
import type { ErasureNotifier } from '../customers/erasure.js'
import { customerStatements } from '../db/customers.js'
import type { Db } from '../db/open.js'
import { outboxStatements } from '../db/outbox.js'
import { uuidv7 } from '../ids.js'
import {
  customerBlocked,
  customerDeleted,
  customerRecord,
  visitClosed,
  type CustomerRecord,
  type MacPolicy,
  type NewEvent,
} from './events.js'

/**
 * The outbox: every change the CRM must learn of becomes a row of `outbox_events`, written in
 * the same SQLite transaction as the change. Nothing outside the outbox decides what is sent:
 * the sync run sends the stored payloads as they are.
 */

/** Thrown when an event is appended outside a transaction: it could then outlive a rolled-back change, or be lost. */
export class OutboxOutsideTransactionError extends Error {
  constructor(type: string) {
    super(`outbox: ${type} must be appended inside the transaction that makes the change`)
    this.name = 'OutboxOutsideTransactionError'
  }
}

/**
 * Appends one event and returns its id (UUID v7). MUST be called inside the caller's
 * `db.transaction(...)`, next to the change the event describes.
 */
export function appendEvent(
  db: Db,
  branchId: string,
  e: NewEvent,
  newId: (now: number) => string = uuidv7,
  /** When given, the subject is stored as its keyed hash (see subjectDigest). */
  subjectKey?: Buffer,
): string {
  if (!db.inTransaction) throw new OutboxOutsideTransactionError(e.type)
  const id = newId(e.occurredAt)
  statementsOf(db).insert({
    id,
    type: e.type,
    branchId,
    schemaVersion: e.schemaVersion,
    occurredAt: e.occurredAt,
    subject: e.subject === null || !subjectKey ? e.subject : subjectDigest(subjectKey, e.subject),
    payload: JSON.stringify(e.data),
  })
  return id
}

/**
 * The subject as the outbox stores it (issue 20): `h:` and a keyed hash of `customer:+52…`. The
 * subject only orders a customer's events (equality is all it needs), and the hash is what a
 * delivered event keeps anyway (issue 15): stored so from the start, delivery never moves the
 * row's entry in the subject index, which cost the sync two random page writes per event.
 */
export function subjectDigest(key: Buffer, subject: string): string {
  return `h:${createHmac('sha256', key).update(subject).digest('hex')}`
}

const cache = new WeakMap<Db, ReturnType<typeof outboxStatements>>()
function statementsOf(db: Db) {
  let s = cache.get(db)
  if (!s) cache.set(db, (s = outboxStatements(db)))
  return s
}

export type MacMode = 'hashed' | 'plain' | 'omit'

/**
 * How MACs leave the branch. 'hashed' (default): hex HMAC-SHA256 of the canonical MAC under the
 * key, so the CRM can tell a returning device without learning its address. With the install
 * secret as key the hash differs per branch; a shared `sync.macSalt` makes it comparable across
 * branches.
 */
export function macPolicy(mode: MacMode, key: Buffer | string): MacPolicy {
  if (mode === 'omit') return () => null
  if (mode === 'plain') return (mac) => ({ mac: mac.toLowerCase(), macForm: 'plain' })
  // Derived, so the install secret itself never keys anything that leaves the branch.
  const k = createHmac('sha256', key).update('branchgate sync mac v1').digest()
  return (mac) => ({
    mac: createHmac('sha256', k).update(mac.toLowerCase()).digest('hex'),
    macForm: 'hmac-sha256',
  })
}

/** The outbox of one branch, with the conveniences other features call inside their transactions. */
export interface Outbox {
  readonly branchId: string
  readonly macs: MacPolicy
  /** Appends an event built with src/sync/events.ts; inside a transaction only. */
  append(e: NewEvent): string
  /** The customer as the CRM sees it (with the current marketing flag), or null if gone. */
  customerRecord(customerId: number): CustomerRecord | null
  /**
   * Call inside the transaction that closes a visit, after the visit row got its `ended_at`.
   * Reads the visit and its customer and appends `visit.closed`. Returns the event id, or null
   * when the visit is not closed (nothing is sent for an open visit).
   */
  visitClosed(visitId: string, extra?: { passBy?: boolean }): string | null
  /**
   * Call inside the blocking transaction, with the customer's E.164 number. Drops everything
   * still in the outbox about that customer (a blocked record is not synced: what was not sent
   * yet never will be) and appends `customer.blocked`.
   */
  customerBlocked(p: {
    phone: string
    reason: 'request' | 'retention'
    now: number
    deleteAfter: number
  }): string
  /** Call inside the deletion transaction: appends `customer.deleted`. */
  customerDeleted(p: { phone: string; now: number }): string
}

export function createOutbox(
  db: Db,
  opts: {
    branchId: string
    macs: MacPolicy
    newId?: (now: number) => string
    /** Key of the stored subjects' hashes (the delivered events' digest key); none: as written. */
    subjectKey?: Buffer
  },
): Outbox {
  const customers = customerStatements(db)
  const statements = statementsOf(db)
  const append = (e: NewEvent) => appendEvent(db, opts.branchId, e, opts.newId, opts.subjectKey)
  const record = (customerId: number): CustomerRecord | null => {
    const row = customers.byId(customerId)
    // An erased customer keeps an anonymous row (no E.164 number): nothing personal is sent.
    if (!row || !row.phone_e164.startsWith('+')) return null
    const last = customers.consentsOf(customerId).at(-1)
    const marketing =
      !!last &&
      last.withdrawn_at === null &&
      (JSON.parse(last.purposes) as string[]).includes('marketing')
    return customerRecord(row, marketing)
  }
  return {
    branchId: opts.branchId,
    macs: opts.macs,
    append,
    customerRecord: record,
    visitClosed(visitId, extra = {}) {
      if (!db.inTransaction) throw new OutboxOutsideTransactionError('visit.closed')
      const v = statements.visitForEvent(visitId)
      if (!v || v.ended_at === null) return null
      return append(
        visitClosed({
          visit: {
            id: v.id,
            branchId: v.branch_id,
            startedAt: v.started_at,
            endedAt: v.ended_at,
            endReason: v.end_reason,
            ...(extra.passBy === undefined ? {} : { passBy: extra.passBy }),
          },
          customer: v.customer_id === null ? null : record(v.customer_id),
        }),
      )
    },
    customerBlocked(p) {
      const e = customerBlocked(p)
      if (!db.inTransaction) throw new OutboxOutsideTransactionError(e.type)
      if (e.subject) {
        // Events written before subjects were hashed keep the plain subject: both go.
        statementsOf(db).forgetSubject(e.subject)
        if (opts.subjectKey)
          statementsOf(db).forgetUndelivered(subjectDigest(opts.subjectKey, e.subject))
      }
      return append(e)
    },
    customerDeleted(p) {
      const e = customerDeleted(p)
      if (!db.inTransaction) throw new OutboxOutsideTransactionError(e.type)
      return append(e)
    },
  }
}

/**
 * The customer domain's erasure port (`ErasureNotifier` of src/customers/erasure.ts), backed by the
 * outbox: called inside the blocking and deletion transactions, it queues `customer.blocked` and
 * `customer.deleted`.
 */
export function outboxErasureNotifier(outbox: Outbox): ErasureNotifier {
  return {
    customerBlocked(e) {
      outbox.customerBlocked({
        phone: e.phoneE164,
        reason: e.reason,
        now: e.blockedAt,
        deleteAfter: e.deleteAfter,
      })
    },
    customerDeleted(e) {
      outbox.customerDeleted({ phone: e.phoneE164, now: e.deletedAt })
    },
  }
}
