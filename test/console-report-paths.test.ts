import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../src/console/dashboard.js'
import { VISIT_PAGE, createVisitList, visitsCsvStream } from '../src/console/exports.js'
import {
  formatLocal,
  localClock,
  localMidnight,
  offsetSegments,
  resolveRange,
} from '../src/console/time.js'
import { consoleHarness } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'
const rules = { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ }

describe('the year’s reports, read the fast way', () => {
  it('counts the same customers by their first visit (a long range) as by seeking before the range (a short one)', () => {
    h = consoleHarness()
    seedWeek(h.db)
    const now = h.clock.now()
    const chosen = createDashboard(h.db, rules)
    const byFirstVisit = createDashboard(h.db, rules, { customersBy: 'firstVisits' })
    const visits = createDashboard(h.db, rules, { customersBy: 'visits' })
    for (const q of [
      { range: '7' },
      {},
      { range: '30' },
      { range: 'custom', from: '2026-02-25', to: '2026-02-27' },
    ]) {
      const range = resolveRange(q, now, TZ)
      const f = chosen.figures(range, now)
      expect(byFirstVisit.figures(range, now), JSON.stringify(q)).toEqual(f)
      expect(visits.figures(range, now), JSON.stringify(q)).toEqual(f)
    }
    // The hand count of console-dashboard.test.ts: staff left out, Ana and Beto came before.
    const week = visits.figures(resolveRange({ range: '7' }, now, TZ), now)
    expect([week.customers, week.newCustomers, week.returningCustomers]).toEqual([4, 2, 2])
  })

  it('takes a staff member’s visits off every figure, open ones and pass-bys included', () => {
    h = consoleHarness()
    seedWeek(h.db)
    const now = h.clock.now()
    const range = resolveRange({ range: '7' }, now, TZ)
    const dashboard = createDashboard(h.db, rules)
    const before = dashboard.figures(range, now)
    // Sam (staff) comes, passes by and stays open: nothing may change.
    const visit = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
       VALUES (@id, 4, 'demo', @start, @last, @end, 'left')`,
    )
    visit.run({
      id: 's1',
      start: local('2026-02-26T10:00'),
      last: local('2026-02-26T10:01'),
      end: local('2026-02-26T10:01'),
    })
    visit.run({
      id: 's2',
      start: local('2026-02-27T12:00'),
      last: local('2026-02-27T14:00'),
      end: local('2026-02-27T14:00'),
    })
    visit.run({
      id: 's3',
      start: local('2026-03-02T08:50'),
      last: local('2026-03-02T09:00'),
      end: null,
    })
    expect(dashboard.figures(range, now)).toEqual(before)
  })

  it('reads each page of the visits export from where the last one ended, not from the range’s start', () => {
    h = consoleHarness()
    const plan = (
      h.db.prepare(`EXPLAIN QUERY PLAN SELECT v.id ${VISIT_PAGE}`).all({
        from: 0,
        to: 1,
        afterStart: 0,
        afterId: '',
        limit: 1,
      }) as Array<{ detail: string }>
    ).map((r) => r.detail)
    expect(plan.join(' | ')).toContain('visits_console ((started_at,id)>(?,?) AND started_at<?)')
  })

  it('exports the same visits in pages of 2 as at once, and the list pages through them', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const range = resolveRange({ range: '30' }, h.clock.now(), TZ)
    const text = async (pageSize: number) =>
      new Response(
        visitsCsvStream(h.db, { range, timeZone: TZ, passByMinutes: 2, pageSize }),
      ).text()
    const whole = await text(5000)
    expect(await text(2)).toBe(whole)
    const list = createVisitList(h.db, 2)
    const ids: string[] = []
    let after: { start: number; id: string } | null = null
    for (;;) {
      const page = list(range, after, 2)
      ids.push(...page.rows.map((r) => r.id))
      if (!page.next) break
      const last = page.rows[page.rows.length - 1]!
      after = { start: last.started_at, id: last.id }
    }
    expect(ids).toEqual(
      whole
        .split('\r\n')
        .slice(1, -1)
        .map((line) => line.split(',')[0]),
    )
  })

  it('writes wall-clock times as formatLocal does, across both daylight-saving changes and outside the segments', () => {
    const tz = 'Europe/Madrid'
    const from = localMidnight('2026-01-01', tz)
    const to = localMidnight('2027-01-01', tz)
    const segments = offsetSegments(from, to, tz)
    const clock = localClock(segments, tz)
    const instants: number[] = []
    for (const change of ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z']) {
      for (const d of [-3_600_001, -1001, -1, 0, 1, 999, 1000, 3_599_999])
        instants.push(Date.parse(change) + d)
    }
    for (let t = from - 86_400_000; t < to + 86_400_000; t += 7_777_777) instants.push(t)
    instants.push(
      from - 1,
      to,
      to + 1,
      Date.parse('2026-06-30T21:59:59.999Z'),
      Date.parse('2026-06-30T22:00:00Z'),
    )
    for (const ms of instants)
      expect(clock(ms), new Date(ms).toISOString()).toBe(formatLocal(ms, segments, tz))
  })
})
