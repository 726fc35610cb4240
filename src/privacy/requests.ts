import type { Clock } from '../clock.js'
import type { RightsDeadline } from '../customers/config.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { instantOfWallTime, localDate } from '../time.js'

/** The rights a customer may exercise (ARCO in Mexico; GDPR arts. 15–21 in Spain). */
export const RIGHTS_KINDS = [
  'access',
  'rectification',
  'cancellation',
  'opposition',
  'portability',
  // GDPR art. 18 (migration 015): offered only at a branch in Spain (rightsKindsOf).
  'restriction',
] as const
export type RightsKind = (typeof RIGHTS_KINDS)[number]

/** The rights a branch offers: Mexico's ARCO has no restriction of processing; the GDPR has. */
export function rightsKindsOf(spain: boolean): readonly RightsKind[] {
  return spain ? RIGHTS_KINDS : RIGHTS_KINDS.filter((k) => k !== 'restriction')
}

/** How the branch made sure the person asking is the customer (or speaks for them). */
export const IDENTITY_CHECKS = ['official-id', 'sms-code', 'representative', 'other'] as const
export type IdentityCheck = (typeof IDENTITY_CHECKS)[number]

/**
 * What answering a request takes, by kind, through the console's existing paths:
 * access and portability the customer's file (JSON, machine-readable), rectification the name
 * corrected (the CRM gets `customer.renamed`), cancellation block-then-delete, opposition the
 * marketing consent withdrawn. Restriction (GDPR art. 18) is recorded and tracked to its
 * deadline, and done by hand: branchgate has no restricted state of its own (docs/privacy.md).
 */
export const DUE_ACTION: Record<
  RightsKind,
  'export' | 'rename' | 'block' | 'withdraw' | 'restrict'
> = {
  access: 'export',
  portability: 'export',
  rectification: 'rename',
  cancellation: 'block',
  opposition: 'withdraw',
  restriction: 'restrict',
}

export interface RightsRequestRow {
  id: number
  kind: RightsKind
  customer_id: number | null
  requester: string
  received_at: number
  identity_check: IdentityCheck
  identity_note: string | null
  details: string | null
  due_at: number
  status: 'open' | 'done' | 'refused'
  outcome: string | null
  recorded_by: string
  recorded_at: number
  closed_by: string | null
  closed_at: number | null
}

/** A request as recorded in the console. */
export interface NewRightsRequest {
  kind: RightsKind
  customerId: number | null
  requester: string
  receivedAt: number
  identityCheck: IdentityCheck
  identityNote: string | null
  details: string | null
}

const DAY = 86_400_000

/**
 * The legal deadline of a request received at `receivedAt`, in the branch's time: in days, the
 * end (local midnight) of the `days`-th day after it, counting only Monday to Friday when
 * `businessDays` (public holidays are not known to branchgate: a request around them is due a
 * little early, never late); in months, the end of the day with the same date `months` later, or
 * of that month's last day when it has no such date (31 January: 28 or 29 February), as EU
 * Regulation 1182/71 art. 3 counts the GDPR's months.
 */
export function deadlineOf(receivedAt: number, deadline: RightsDeadline, timeZone: string): number {
  let date = localDate(receivedAt, timeZone)
  const next = (d: string) =>
    new Date(Date.parse(`${d}T00:00:00Z`) + DAY).toISOString().slice(0, 10)
  if ('months' in deadline) {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number]
    const month = m - 1 + deadline.months
    const lastDay = new Date(Date.UTC(y, month + 1, 0)).getUTCDate()
    const due = new Date(Date.UTC(y, month, Math.min(d, lastDay))).toISOString().slice(0, 10)
    return instantOfWallTime(Date.parse(`${next(due)}T00:00:00Z`), timeZone)
  }
  const { days, businessDays } = deadline
  let counted = 0
  while (counted < days) {
    date = next(date)
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay()
    if (!businessDays || (weekday !== 0 && weekday !== 6)) counted++
  }
  return instantOfWallTime(Date.parse(`${next(date)}T00:00:00Z`), timeZone)
}

/** Rights requests: recorded with their deadline, listed by what is due, closed with an outcome. */
export function createRightsDesk(deps: {
  db: Db
  clock: Clock
  audit: AuditStatements
  /** How long a request may take (rightsDeadlineOf: the config, else the branch's law). */
  deadline: RightsDeadline
  timeZone?: string
}) {
  const { db } = deps
  const timeZone = deps.timeZone ?? 'UTC'
  const insert = db.prepare(
    `INSERT INTO rights_requests (kind, customer_id, requester, received_at, identity_check, identity_note,
       details, due_at, recorded_by, recorded_at)
     VALUES (@kind, @customerId, @requester, @receivedAt, @identityCheck, @identityNote, @details,
       @dueAt, @actor, @now)`,
  )
  const byId = db.prepare(`SELECT * FROM rights_requests WHERE id = @id`)
  const open = db.prepare(`SELECT * FROM rights_requests WHERE status = 'open' ORDER BY due_at, id`)
  const recent = db.prepare(
    `SELECT * FROM rights_requests WHERE status != 'open' ORDER BY closed_at DESC, id DESC LIMIT @limit`,
  )
  const ofCustomer = db.prepare(
    `SELECT * FROM rights_requests WHERE customer_id = @id ORDER BY received_at DESC, id DESC`,
  )
  const close = db.prepare(
    `UPDATE rights_requests SET status = @status, outcome = @outcome, closed_by = @actor, closed_at = @now
     WHERE id = @id AND status = 'open'`,
  )

  const recordTx = db.transaction((r: NewRightsRequest, actor: string, now: number): number => {
    const dueAt = deadlineOf(r.receivedAt, deps.deadline, timeZone)
    const id = Number(insert.run({ ...r, dueAt, actor, now }).lastInsertRowid)
    deps.audit.record({
      at: now,
      actor,
      action: 'rights.record',
      subject: r.customerId === null ? null : String(r.customerId),
      reason: r.kind,
      detail: { request: id, identityCheck: r.identityCheck, dueAt },
    })
    return id
  })
  const closeTx = db.transaction(
    (id: number, status: 'done' | 'refused', outcome: string, actor: string, now: number) => {
      const row = byId.get({ id }) as RightsRequestRow | undefined
      if (!row || close.run({ id, status, outcome, actor, now }).changes === 0) return false
      deps.audit.record({
        at: now,
        actor,
        action: status === 'done' ? 'rights.done' : 'rights.refuse',
        subject: row.customer_id === null ? null : String(row.customer_id),
        reason: row.kind,
        detail: { request: id, late: now > row.due_at },
      })
      return true
    },
  )

  return {
    /** Records a request (audit-logged) and returns its id. */
    record: (r: NewRightsRequest, actor: string): number => recordTx(r, actor, deps.clock.now()),
    byId: (id: number) => byId.get({ id }) as RightsRequestRow | undefined,
    /** Open requests, the nearest deadline first. */
    open: () => open.all() as RightsRequestRow[],
    /** The latest answered or refused requests. */
    closed: (limit = 50) => recent.all({ limit }) as RightsRequestRow[],
    ofCustomer: (customerId: number) => ofCustomer.all({ id: customerId }) as RightsRequestRow[],
    /** Closes an open request with what was done (or why it was refused); audit-logged. */
    close: (id: number, status: 'done' | 'refused', outcome: string, actor: string): boolean =>
      closeTx(id, status, outcome, actor, deps.clock.now()),
  }
}
export type RightsDesk = ReturnType<typeof createRightsDesk>
