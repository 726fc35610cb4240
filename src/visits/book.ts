import type { Db } from '../db/open.js'
import type { VisitStatements } from '../db/visits.js'
import type { Outbox } from '../sync/outbox.js'
import { planSweep, type ClosedVisit, type SweepPlan, type VisitPolicy } from './rules.js'

/**
 * Open visits' last activity known ahead of the database: the presence tracker writes a stored
 * time only once a step (src/visits/presence.ts, `createPresenceMemory`) and keeps the exact one.
 */
export interface KnownActivity {
  /** The visit's last activity (UTC ms) when known and newer than the stored one, else undefined. */
  visit(id: string): number | undefined
}

export interface VisitBookDeps {
  db: Db
  visits: VisitStatements
  branchId: string
  policy: VisitPolicy
  /** A new visit id for a visit starting at `at` (UUID v7 in production). */
  newId: (at: number) => string
  /** Where the CRM's `visit.closed` is written, in the transaction that closes the visit. */
  outbox: Pick<Outbox, 'visitClosed'>
  /** What the presence tracker knows ahead of the stored times; default: nothing (the stored ones). */
  known?: KnownActivity
}

/**
 * Writes visits: what the rules planned, and the one place a visit ends (`closeVisit`). Every
 * method expects to run inside the caller's transaction, so a sweep is one transaction.
 */
export function createVisitBook(deps: VisitBookDeps) {
  const { visits } = deps

  /**
   * The one place a visit is closed. Anything that must happen when a visit ends (the CRM's
   * `visit.closed` outbox event) belongs here, in the same transaction.
   */
  function closeVisit(v: ClosedVisit): boolean {
    const closed =
      visits.close({ id: v.id, endedAt: v.endedAt, reason: v.reason, passBy: v.passBy }) > 0
    // A staff pass's visit (a negative visitor id) has no customer: it stays at the branch.
    if (closed && v.customerId > 0) deps.outbox.visitClosed(v.id, { passBy: v.passBy })
    return closed
  }

  /** Writes a plan. Closes come first, so a customer's new visit never meets the old one open. */
  function apply(plan: SweepPlan): { openedIds: string[]; openedRowids: number[] } {
    for (const c of plan.closed) closeVisit(c)
    if (plan.touched.length === 1) visits.touch(plan.touched[0]!.id, plan.touched[0]!.lastSeenAt)
    else visits.touchMany(plan.touched.map((t) => [t.id, t.lastSeenAt] as const))
    const openedIds: string[] = []
    const openedRowids: number[] = []
    for (const o of plan.opened) {
      const id = deps.newId(o.startedAt)
      const { lastInsertRowid } = visits.insert({
        id,
        customerId: o.customerId,
        branchId: deps.branchId,
        startedAt: o.startedAt,
        lastSeenAt: o.lastSeenAt,
      })
      openedIds.push(id)
      openedRowids.push(Number(lastInsertRowid))
    }
    return { openedIds, openedRowids }
  }

  return {
    closeVisit,
    apply,
    /**
     * A device of the customer was just let through (login, welcome back): the customer is here
     * at `at`. `customerId` may be a staff pass's id negated (see src/db/visits.ts). Extends the open visit, or opens one; a visit left open across a gap longer than
     * the idle time is first closed at its last activity, never stretched. Returns the visit id.
     */
    arrive(customerId: number, at: number): string {
      const open = visits.openFor(customerId)
      // The stored last activity may lag the tracker's by a step: decide with the exact one, as
      // a sweep would, so a customer back within the idle time keeps their visit.
      const mine = open ? deps.known?.visit(open.id) : undefined
      const current = open
        ? [
            {
              id: open.id,
              customerId,
              startedAt: open.started_at,
              lastSeenAt: Math.max(open.last_seen_at, mine ?? 0),
            },
          ]
        : []
      const plan = planSweep(current, [{ customerId, at }], at, deps.policy)
      const { openedIds } = apply(plan)
      return openedIds[0] ?? open!.id
    },
  }
}
export type VisitBook = ReturnType<typeof createVisitBook>
