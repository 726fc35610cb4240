import { describe, expect, it } from 'vitest'
import {
  averageDwellMs,
  clockStepMs,
  planSweep,
  type OpenVisit,
  type Sighting,
  type SweepPlan,
} from '../src/visits/rules.js'

const MIN = 60_000
const policy = { idleMs: 15 * MIN, minMs: 2 * MIN }
const T0 = Date.parse('2026-03-02T15:00:00Z')
const at = (minutes: number) => T0 + minutes * MIN

/**
 * Replays a scripted timeline through the rules like the tracker does: a sweep every minute from
 * 0 to `minutes`, seeing the customers (by id) that `here(minute)` names. Returns every visit.
 */
function replay(minutes: number, here: (minute: number) => number[]) {
  let open: OpenVisit[] = []
  const closed: Array<{ customerId: number; startedAt: number; endedAt: number; passBy: boolean }> =
    []
  let n = 0
  for (let minute = 0; minute <= minutes; minute++) {
    const now = at(minute)
    const sightings: Sighting[] = here(minute).map((customerId) => ({ customerId, at: now }))
    const plan: SweepPlan = planSweep(open, sightings, now, policy)
    const closedIds = new Set(plan.closed.map((c) => c.id))
    closed.push(...plan.closed)
    open = open
      .filter((v) => !closedIds.has(v.id))
      .map((v) => {
        const t = plan.touched.find((x) => x.id === v.id)
        return t ? { ...v, lastSeenAt: Math.max(v.lastSeenAt, t.lastSeenAt) } : v
      })
    for (const o of plan.opened) open.push({ id: `v${++n}`, ...o })
  }
  return { open, closed }
}

/** Customers present during [from, to] minutes. */
const during =
  (...spans: Array<[customer: number, from: number, to: number]>) =>
  (m: number) =>
    spans.filter(([, from, to]) => m >= from && m <= to).map(([c]) => c)

const minutesOf = (v: { startedAt: number; endedAt: number }) => [
  (v.startedAt - T0) / MIN,
  (v.endedAt - T0) / MIN,
]

describe('visit rules', () => {
  it('opens a visit at the first sign of a device and ends it at the last activity, not when the absence is noticed', () => {
    const { closed, open } = replay(60, during([1, 5, 25]))
    expect(open).toEqual([])
    // the absence is noticed at minute 40; the visit still ends at 25
    expect(closed.map(minutesOf)).toEqual([[5, 25]])
  })

  it('keeps one visit when the customer comes back inside the idle gap', () => {
    const { closed } = replay(60, during([1, 0, 5], [1, 19, 20]))
    expect(closed.map(minutesOf)).toEqual([[0, 20]])
  })

  it('opens a new visit when the customer comes back after the gap', () => {
    const { closed, open } = replay(45, during([1, 0, 10], [1, 26, 45]))
    expect(closed.map(minutesOf)).toEqual([[0, 10]])
    expect(open.map((v) => minutesOf({ startedAt: v.startedAt, endedAt: v.lastSeenAt }))).toEqual([
      [26, 45],
    ])
  })

  it('closes exactly at the last activity when the absence reaches the idle gap', () => {
    const at17 = replay(17, during([1, 0, 3]))
    expect(at17.closed).toEqual([]) // 14 minutes away: still open
    const at18 = replay(18, during([1, 0, 3]))
    expect(at18.closed.map(minutesOf)).toEqual([[0, 3]])
    expect(at18.closed[0]!.passBy).toBe(false)
  })

  it('makes one visit of two devices of the same customer', () => {
    const open: OpenVisit[] = []
    const plan = planSweep(
      open,
      [
        { customerId: 7, at: at(0) },
        { customerId: 7, at: at(0) - 30_000 },
      ],
      at(0),
      policy,
    )
    expect(plan.opened).toEqual([{ customerId: 7, startedAt: at(0), lastSeenAt: at(0) }])
  })

  it('keeps the visit going while either device of the customer is active', () => {
    // device A minutes 0–10, device B minutes 8–30: both are customer 1, one visit 0–30
    const { closed } = replay(60, during([1, 0, 10], [1, 8, 30]))
    expect(closed.map(minutesOf)).toEqual([[0, 30]])
  })

  it('marks a visit shorter than the minimum as a pass-by and leaves it out of dwell averages', () => {
    const { closed } = replay(60, during([1, 0, 1], [2, 0, 20]))
    const one = closed.find((v) => v.customerId === 1)!
    const two = closed.find((v) => v.customerId === 2)!
    expect(one.passBy).toBe(true)
    expect(minutesOf(one)).toEqual([0, 1])
    expect(two.passBy).toBe(false)
    expect(averageDwellMs(closed)).toBe(20 * MIN)
    expect(averageDwellMs([one])).toBeNull()
  })

  it('ignores a sign of life older than the idle gap (a neighbour entry lingering STALE)', () => {
    const plan = planSweep([], [{ customerId: 1, at: at(0) - 20 * MIN }], at(0), policy)
    expect(plan.opened).toEqual([])
  })

  it('never moves the last activity back when an observation arrives out of order', () => {
    const open: OpenVisit[] = [{ id: 'v', customerId: 1, startedAt: at(0), lastSeenAt: at(10) }]
    const plan = planSweep(open, [{ customerId: 1, at: at(8) }], at(11), policy)
    expect(plan).toEqual({ opened: [], touched: [], closed: [] })
  })

  it('clamps a sign of life from the future to the sweep time', () => {
    const plan = planSweep([], [{ customerId: 1, at: at(5) }], at(0), policy)
    expect(plan.opened).toEqual([{ customerId: 1, startedAt: at(0), lastSeenAt: at(0) }])
  })

  it('closes at the last activity a visit whose gap was not watched (restart), and opens a new one', () => {
    const open: OpenVisit[] = [{ id: 'v', customerId: 1, startedAt: at(0), lastSeenAt: at(20) }]
    // the server was down from minute 20 to minute 60; the customer is (again) here at 60
    const plan = planSweep(open, [{ customerId: 1, at: at(60) }], at(60), policy, 'restart')
    expect(plan.closed).toEqual([
      {
        id: 'v',
        customerId: 1,
        startedAt: at(0),
        endedAt: at(20),
        passBy: false,
        reason: 'restart',
      },
    ])
    expect(plan.opened).toEqual([{ customerId: 1, startedAt: at(60), lastSeenAt: at(60) }])
  })

  it('keeps the visit when the server was down for less than the idle gap', () => {
    const open: OpenVisit[] = [{ id: 'v', customerId: 1, startedAt: at(0), lastSeenAt: at(20) }]
    const plan = planSweep(open, [{ customerId: 1, at: at(30) }], at(30), policy, 'restart')
    expect(plan).toEqual({ opened: [], touched: [{ id: 'v', lastSeenAt: at(30) }], closed: [] })
  })

  it('never yields a negative duration, even with a clock far behind the visit', () => {
    const open: OpenVisit[] = [{ id: 'v', customerId: 1, startedAt: at(0), lastSeenAt: at(10) }]
    // the wall clock went back two hours and the device is seen "at" that time
    const back = planSweep(open, [{ customerId: 1, at: at(-110) }], at(-110), policy)
    expect(back).toEqual({ opened: [], touched: [], closed: [] })
    // later, the absence is noticed: ends at the last activity, never before the start
    const later = planSweep(open, [], at(30), policy)
    expect(later.closed[0]!.endedAt - later.closed[0]!.startedAt).toBe(10 * MIN)
  })
})

describe('clock steps', () => {
  it('reads no step when wall and monotonic time agree', () => {
    expect(clockStepMs({ wall: 1_000_000, mono: 5_000 }, { wall: 1_030_000, mono: 35_000 })).toBe(0)
  })
  it('reads a forward and a backward step as the difference', () => {
    expect(
      clockStepMs({ wall: 1_000_000, mono: 5_000 }, { wall: 1_000_000 + 3_630_000, mono: 35_000 }),
    ).toBe(3_600_000)
    expect(
      clockStepMs(
        { wall: 10_000_000, mono: 5_000 },
        { wall: 10_000_000 - 3_570_000, mono: 35_000 },
      ),
    ).toBe(-3_600_000)
  })
  it('has nothing to compare on the first reading', () => {
    expect(clockStepMs(null, { wall: 1, mono: 1 })).toBe(0)
  })
})
