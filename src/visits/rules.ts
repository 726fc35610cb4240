/**
 * The visit rules, as plain functions over plain data: no database, no clock, no I/O.
 *
 * A visit is one stay of one customer at the branch. It starts at the first sign of one of the
 * customer's devices and ends at the last activity before an absence of `idleMs`. Dwell time is
 * end − start: the moment the absence was *noticed* never counts. Several devices of one customer
 * make one visit; coming back after the gap makes a new one. A visit shorter than `minMs` is a
 * pass-by: kept, but left out of dwell averages.
 */

/** The two numbers that define a visit. Milliseconds. */
export interface VisitPolicy {
  /** Absence that ends a visit (visits.idleMinutes). */
  idleMs: number
  /** Shorter visits are pass-bys (visits.minMinutes). */
  minMs: number
}

/** A visit not yet closed. Times are UTC epoch ms; `lastSeenAt >= startedAt` always. */
export interface OpenVisit {
  id: string
  customerId: number
  startedAt: number
  lastSeenAt: number
}

/** One device of a customer showed a sign of life; `at` is its last activity (epoch ms). */
export interface Sighting {
  customerId: number
  at: number
}

export type CloseReason = 'absent' | 'restart'

export interface ClosedVisit {
  id: string
  customerId: number
  startedAt: number
  endedAt: number
  passBy: boolean
  reason: CloseReason
}

/** What one sweep changes: visits to open, to extend, and to close. */
export interface SweepPlan {
  opened: Array<{ customerId: number; startedAt: number; lastSeenAt: number }>
  touched: Array<{ id: string; lastSeenAt: number }>
  closed: ClosedVisit[]
}

/**
 * The latest usable sign of life per customer. A sign newer than `now` is clamped to `now`; one
 * older than the idle gap is no presence at all (a STALE neighbour entry can linger for hours).
 */
export function latestPerCustomer(
  sightings: Iterable<Sighting>,
  now: number,
  policy: VisitPolicy,
): Map<number, number> {
  const latest = new Map<number, number>()
  for (const s of sightings) addSighting(latest, s.customerId, s.at, now, policy)
  return latest
}

/**
 * Plans one sweep. `open` are the visits open now (at most one per customer), `sightings` the
 * signs of life just observed, `now` the sweep's time.
 *
 * Clock safety: last activity only moves forward (an observation older than the visit's last
 * activity changes nothing), and a visit always ends at its own last activity, so a duration is
 * never negative and never covers a gap longer than `idleMs` (after a restart or a forward clock
 * step, the visit closes at its last activity and a new one opens).
 */
export function planSweep(
  open: Iterable<OpenVisit>,
  sightings: Iterable<Sighting>,
  now: number,
  policy: VisitPolicy,
  reasonForGap: CloseReason = 'absent',
): SweepPlan {
  return planLatest(open, latestPerCustomer(sightings, now, policy), now, policy, reasonForGap)
}

/**
 * `planSweep` from each customer's latest usable sign of life, as `latestPerCustomer` gives it
 * (the presence sweep builds it as it matches devices, without a sighting per device). Takes
 * `latest` over: it is left holding the customers with no open visit.
 */
export function planLatest(
  open: Iterable<OpenVisit>,
  latest: Map<number, number>,
  now: number,
  policy: VisitPolicy,
  reasonForGap: CloseReason = 'absent',
): SweepPlan {
  const plan: SweepPlan = { opened: [], touched: [], closed: [] }
  // Customers with an open visit, taken out of `latest` once every visit had its look (a list:
  // 5,000 entries in a new Set cost a sweep more than the plan itself).
  const handled: number[] = []
  for (const v of open) {
    handled.push(v.customerId)
    const at = latest.get(v.customerId)
    if (at !== undefined && at > v.lastSeenAt) {
      if (at - v.lastSeenAt >= policy.idleMs) {
        // Seen again, but only after a gap we did not watch (server down, clock stepped): the
        // old visit ended at its last activity and this is a new one.
        plan.closed.push(closeAt(v, reasonForGap, policy))
        plan.opened.push({ customerId: v.customerId, startedAt: at, lastSeenAt: at })
      } else {
        plan.touched.push({ id: v.id, lastSeenAt: at })
      }
    } else if (now - v.lastSeenAt >= policy.idleMs) {
      plan.closed.push(closeAt(v, reasonForGap, policy))
    }
  }
  if (latest.size > 0) {
    for (const customerId of handled) latest.delete(customerId)
    for (const [customerId, at] of latest)
      plan.opened.push({ customerId, startedAt: at, lastSeenAt: at })
  }
  return plan
}

/** Adds one sign of life to `latest` as `latestPerCustomer` counts it. */
export function addSighting(
  latest: Map<number, number>,
  customerId: number,
  seenAt: number,
  now: number,
  policy: VisitPolicy,
): void {
  const at = Math.min(seenAt, now)
  if (now - at >= policy.idleMs) return
  const prev = latest.get(customerId)
  if (prev === undefined || at > prev) latest.set(customerId, at)
}

function closeAt(v: OpenVisit, reason: CloseReason, policy: VisitPolicy): ClosedVisit {
  const endedAt = Math.max(v.startedAt, v.lastSeenAt)
  return {
    id: v.id,
    customerId: v.customerId,
    startedAt: v.startedAt,
    endedAt,
    passBy: isPassBy(v.startedAt, endedAt, policy),
    reason,
  }
}

/** Dwell time in ms: end − start, never negative. */
export function dwellMs(startedAt: number, endedAt: number): number {
  return Math.max(0, endedAt - startedAt)
}

export function isPassBy(
  startedAt: number,
  endedAt: number,
  policy: Pick<VisitPolicy, 'minMs'>,
): boolean {
  return dwellMs(startedAt, endedAt) < policy.minMs
}

/**
 * What a visit counts as for the branch: still `open` (no end yet, so neither a pass-by nor a
 * stay), a `pass-by` (ended, shorter than `minMs`), or a `stay`. A visit still going is never
 * a pass-by, however short it is so far: it may yet last.
 */
export type VisitStanding = 'open' | 'pass-by' | 'stay'

export function visitStanding(
  startedAt: number,
  endedAt: number | null,
  policy: Pick<VisitPolicy, 'minMs'>,
): VisitStanding {
  if (endedAt === null) return 'open'
  return isPassBy(startedAt, endedAt, policy) ? 'pass-by' : 'stay'
}

/** Average dwell of closed visits in ms, pass-bys left out; null when there is none. */
export function averageDwellMs(
  visits: Iterable<{ startedAt: number; endedAt: number; passBy: boolean }>,
): number | null {
  let sum = 0
  let n = 0
  for (const v of visits) {
    if (v.passBy) continue
    sum += dwellMs(v.startedAt, v.endedAt)
    n++
  }
  return n === 0 ? null : sum / n
}

/** A wall-clock reading paired with a monotonic one (ms), taken at the same instant. */
export interface ClockReading {
  wall: number
  mono: number
}

/**
 * How far the wall clock jumped between two readings (ms, negative when it went back), or 0.
 * The monotonic clock says how much time really passed; a difference beyond `toleranceMs` is a
 * step (NTP correction, manual change), not time.
 */
export function clockStepMs(
  prev: ClockReading | null,
  cur: ClockReading,
  toleranceMs = 2000,
): number {
  if (!prev) return 0
  const step = cur.wall - prev.wall - (cur.mono - prev.mono)
  return Math.abs(step) > toleranceMs ? step : 0
}
