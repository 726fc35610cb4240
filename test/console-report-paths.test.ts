import { afterEach, describe, expect, it } from 'vitest'
import { DWELL_BUCKETS, createDashboard, integerList } from '../src/console/dashboard.js'
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
  it('gives the figures of a visit-by-visit count: staff, pass visits, open, damaged and 40-day visits, across a daylight-saving change', () => {
    const zone = 'Europe/Madrid'
    h = consoleHarness({ branch: { timeZone: zone } })
    const at = Date.parse('2026-03-01T00:00:00Z')
    const customer = h.db.prepare(
      `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
       VALUES (@id, @phone, 'C', 'es', @at, @at, @at)`,
    )
    const device = h.db.prepare(
      `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, is_staff) VALUES (@mac, @id, @at, @at, @staff)`,
    )
    for (let id = 1; id <= 60; id++) {
      customer.run({ id, phone: `+3460000${String(id).padStart(4, '0')}`, at })
      const mac = `3a:00:00:00:00:${id.toString(16).padStart(2, '0')}`
      device.run({ mac, id, at, staff: id === 3 || id === 17 ? 1 : 0 })
    }
    // A seeded draw: February to April, Madrid's clocks move on 29 March.
    let seed = 7
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    const visit = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at)
       VALUES (@id, @customer, 'demo', @start, @last, @end)`,
    )
    for (let i = 0; i < 3000; i++) {
      const start = Date.parse('2026-02-01T00:00:00Z') + Math.floor(rnd() * 89 * 86_400_000)
      const kind = rnd()
      // Mostly 0-3 h; a few open, damaged (ended before they started), or 40 days long.
      const dwell =
        kind < 0.02
          ? -Math.floor(rnd() * 7_200_000)
          : kind < 0.04
            ? 40 * 86_400_000 + 1234
            : Math.floor(rnd() * 10_800_000)
      const open = kind > 0.95
      visit.run({
        id: `v${i}`,
        customer: rnd() < 0.1 ? null : 1 + Math.floor(rnd() * 60),
        start,
        last: start + dwell,
        end: open ? null : start + dwell,
      })
    }
    const rules = { passByMinutes: 2, hereNowMinutes: 15, timeZone: zone }
    const dashboard = createDashboard(h.db, rules)

    // The oracle: every visit read as a row, its local time from Intl.
    const rows = h.db.prepare(`SELECT * FROM visits`).all() as Array<{
      customer_id: number | null
      started_at: number
      last_seen_at: number
      ended_at: number | null
    }>
    const staff = new Set([3, 17])
    const parts = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      weekday: 'short',
      hourCycle: 'h23',
    })
    const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
    const firstVisit = new Map<number, number>()
    for (const r of rows)
      if (r.customer_id !== null)
        firstVisit.set(
          r.customer_id,
          Math.min(firstVisit.get(r.customer_id) ?? Infinity, r.started_at),
        )
    const byHand = (range: { fromMs: number; toMs: number; days: number; from: string }) => {
      const heatmap = Array.from({ length: 7 }, () => Array<number>(24).fill(0))
      const perDay = new Map<string, number>()
      const seconds: number[] = []
      const customers = new Set<number>()
      let visits = 0
      let passBys = 0
      for (const r of rows) {
        if (r.started_at < range.fromMs || r.started_at >= range.toMs) continue
        if (r.customer_id !== null && staff.has(r.customer_id)) continue
        visits++
        if (r.customer_id !== null) customers.add(r.customer_id)
        const p = Object.fromEntries(
          parts.formatToParts(r.started_at).map((x) => [x.type, x.value]),
        )
        heatmap[WEEKDAYS.indexOf(p.weekday!)]![Number(p.hour)]!++
        const date = `${p.year}-${p.month}-${p.day}`
        perDay.set(date, (perDay.get(date) ?? 0) + 1)
        if (r.ended_at === null) continue
        const s = Math.min(
          Math.max(Math.trunc((r.ended_at - r.started_at) / 1000), -2_097_151),
          2_097_151,
        )
        if (s * 1000 < rules.passByMinutes * 60_000) passBys++
        else seconds.push(s)
      }
      seconds.sort((a, b) => a - b)
      const n = seconds.length
      const fresh = [...customers].filter((id) => {
        const first = firstVisit.get(id)!
        return first >= range.fromMs && first < range.toMs
      }).length
      const daily = []
      for (let i = 0; i < range.days; i++) {
        const date = new Date(Date.parse(`${range.from}T00:00:00Z`) + i * 86_400_000)
          .toISOString()
          .slice(0, 10)
        daily.push({ date, visits: perDay.get(date) ?? 0 })
      }
      return {
        visits,
        passBys,
        customers: customers.size,
        newCustomers: fresh,
        returningCustomers: customers.size - fresh,
        medianDwellMinutes: n
          ? (seconds[Math.floor((n - 1) / 2)]! + seconds[Math.floor(n / 2)]!) / 2 / 60
          : null,
        averageDwellMinutes: n ? seconds.reduce((a, b) => a + b, 0) / n / 60 : null,
        histogram: DWELL_BUCKETS.map(
          (b) => seconds.filter((s) => s / 60 >= b.from && (b.to === null || s / 60 < b.to)).length,
        ),
        heatmap,
        daily,
      }
    }
    const now = Date.parse('2026-05-01T10:00:00Z')
    for (const q of [
      { range: 'custom', from: '2026-02-01', to: '2026-04-30' },
      { range: 'custom', from: '2026-03-28', to: '2026-03-30' },
      { range: 'custom', from: '2026-03-29', to: '2026-03-29' },
      { range: 'custom', from: '2026-04-10', to: '2026-04-10' },
    ]) {
      const range = resolveRange(q, now, zone)
      const { range: _, hereNow: __, tiers: ___, ...f } = dashboard.figures(range, now)
      expect(f, JSON.stringify(q)).toEqual(byHand(range))
    }
  })

  it('reads a group_concat text of integers as JSON.parse reads the same numbers', () => {
    for (const numbers of [
      [],
      [0],
      [7, -3, 40],
      [2 ** 31, -(2 ** 40), 2 ** 53 - 1],
      [1.5, -2.25, 1e15],
    ])
      expect(Array.from(integerList(numbers.join(',') || null))).toEqual(numbers)
    expect(Array.from(integerList(''))).toEqual([])
  })

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

  it('writes a page longer than one chunk of bytes across chunks, every line whole and every byte as encoded', async () => {
    h = consoleHarness()
    const at = local('2026-02-01T09:00')
    const name = 'Núñez "la Güera", 🌮'
    h.db
      .prepare(
        `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
         VALUES (1, '+525512345601', @name, 'es', @at, @at, @at)`,
      )
      .run({ name, at })
    const visit = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
       VALUES (@id, 1, 'demo', @start, @end, @end, 'left')`,
    )
    for (let i = 0; i < 3000; i++)
      visit.run({
        id: `v${String(i).padStart(4, '0')}`,
        start: at + i * 60_000,
        end: at + i * 60_000 + 600_000,
      })
    const range = resolveRange({ range: '30' }, h.clock.now(), TZ)
    const chunks: Uint8Array[] = []
    const reader = visitsCsvStream(h.db, { range, timeZone: TZ, passByMinutes: 2 }).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
    }
    // One page of 3,000 lines of some 130 bytes: more than one chunk.
    expect(chunks.length).toBeGreaterThan(1)
    const text = Buffer.concat(chunks).toString('utf8')
    for (const c of chunks) expect(Buffer.from(c).toString('utf8').endsWith('\r\n')).toBe(true)
    const lines = text.split('\r\n').slice(1, -1)
    expect(lines).toHaveLength(3000)
    for (const line of lines) expect(line).toContain(',"Núñez ""la Güera"", 🌮",')
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
