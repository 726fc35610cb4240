import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../src/console/dashboard.js'
import { resolveRange } from '../src/console/time.js'
import { consoleHarness } from './console-harness.js'
import { seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'

describe('dashboard figures', () => {
  it('match the seeded week counted by hand', () => {
    h = consoleHarness()
    seedWeek(h.db)
    const dashboard = createDashboard(h.db, { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ })
    const range = resolveRange({ range: '7' }, h.clock.now(), TZ)
    expect([range.from, range.to]).toEqual(['2026-02-24', '2026-03-02'])
    const f = dashboard.figures(range, h.clock.now())
    // Dana 6, Ana 12, Beto 3, Beto's 1-minute pass-by, Ana 45, Carla 75, Carla 28 (open); staff left out.
    expect(f.visits).toBe(7)
    expect(f.passBys).toBe(1)
    expect(f.customers).toBe(4)
    expect(f.newCustomers).toBe(2) // Dana, Carla
    expect(f.returningCustomers).toBe(2) // Ana, Beto
    // Dwell of finished visits only, pass-by left out: 3, 6, 12, 45, 75.
    expect(f.medianDwellMinutes).toBe(12)
    expect(f.averageDwellMinutes).toBeCloseTo(141 / 5, 5)
    expect(f.histogram).toEqual([1, 2, 0, 1, 1])
    const cells: string[] = []
    f.heatmap.forEach((row, d) => row.forEach((n, hour) => n && cells.push(`${d}@${hour}=${n}`)))
    // Monday = 0: Mon 8h Carla, Tue 0h Dana, Wed 10h Ana+Beto, Thu 11h Beto's pass-by, Fri 17h Ana, Sun 23h Carla.
    expect(cells).toEqual(['0@8=1', '1@0=1', '2@10=2', '3@11=1', '4@17=1', '6@23=1'])
    expect(f.daily.map((d) => `${d.date.slice(5)}:${d.visits}`)).toEqual([
      '02-24:1',
      '02-25:2',
      '02-26:1',
      '02-27:1',
      '02-28:0',
      '03-01:1',
      '03-02:1',
    ])
    expect(f.hereNow).toHaveLength(1)
    expect(f.hereNow[0]).toMatchObject({ customerId: 3, name: 'Carla Núñez', minutes: 30 })
  })

  it('counts today alone, with the customer who came yesterday as returning', () => {
    h = consoleHarness()
    seedWeek(h.db)
    const dashboard = createDashboard(h.db, { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ })
    const f = dashboard.figures(resolveRange({}, h.clock.now(), TZ), h.clock.now())
    expect([f.visits, f.customers, f.newCustomers, f.returningCustomers]).toEqual([1, 1, 0, 1])
  })

  it('treats a longer pass-by threshold as configured', () => {
    h = consoleHarness()
    seedWeek(h.db)
    const dashboard = createDashboard(h.db, { passByMinutes: 5, hereNowMinutes: 15, timeZone: TZ })
    const f = dashboard.figures(resolveRange({ range: '7' }, h.clock.now(), TZ), h.clock.now())
    expect([f.visits, f.passBys]).toEqual([7, 2])
    expect(f.medianDwellMinutes).toBe(28.5) // 6, 12, 45, 75
  })

  it('shows the same figures on the page, with each chart drawn as SVG and its numbers as a table', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/?range=7')).text()
    const fig = (id: string) => new RegExp(`id="${id}">([^<]*)<`).exec(html)?.[1]
    expect(fig('fig-visits')).toBe('7')
    expect(fig('fig-customers')).toBe('4')
    expect(fig('fig-new')).toBe('2')
    expect(fig('fig-returning')).toBe('2')
    expect(fig('fig-median')).toBe('12.0 min')
    expect(fig('fig-passbys')).toBe('1')
    expect(html.match(/<svg /g)).toHaveLength(3)
    expect(html).toContain('<table id="table-histogram">')
    expect(html).toContain('<table id="table-heatmap">')
    expect(html).toContain('<table id="table-trend">')
    expect(html).toContain('Carla Núñez')
    expect(html).not.toContain('<script')
  })

  it('lists the visits behind the figures, pass-bys and staff marked', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/visits?range=custom&from=2026-02-24&to=2026-03-02')).text()
    const rows = html.split('<tbody>')[1]!.split('</tbody>')[0]!.match(/<tr>/g) ?? []
    expect(rows).toHaveLength(9) // 6 visits + 1 pass-by + 2 staff
    expect(html.match(/pasada/g)).toHaveLength(1)
    expect(html.match(/>(en curso, )?personal</g)).toHaveLength(2)
    expect(html.match(/>en curso</g)).toHaveLength(1) // Carla, here now
  })

  it('reads a chosen range in the branch time zone and in English on request', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/?range=custom&from=2026-02-23&to=2026-02-23&lang=en')).text()
    expect(html).toContain('<html lang="en">')
    expect(/id="fig-visits">([^<]*)</.exec(html)?.[1]).toBe('1') // Beto's 23:30, not Dana's 00:10
  })
})

describe('dashboard across a daylight-saving change', () => {
  it('puts 10:00 local in the 10 o’clock column before and after the clocks move', () => {
    h = consoleHarness({ branch: { timeZone: 'Europe/Madrid' } })
    const insert = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at) VALUES (@id, NULL, 'demo', @s, @e, @e)`,
    )
    // Madrid: UTC+1 until 2026-03-29 01:00Z, then UTC+2.
    insert.run({
      id: 'a',
      s: Date.parse('2026-03-28T09:00:00Z'),
      e: Date.parse('2026-03-28T09:30:00Z'),
    }) // Sat 10:00
    insert.run({
      id: 'b',
      s: Date.parse('2026-03-30T08:00:00Z'),
      e: Date.parse('2026-03-30T08:30:00Z'),
    }) // Mon 10:00
    const dashboard = createDashboard(h.db, {
      passByMinutes: 2,
      hereNowMinutes: 15,
      timeZone: 'Europe/Madrid',
    })
    const range = resolveRange(
      { range: 'custom', from: '2026-03-28', to: '2026-03-30' },
      h.clock.now(),
      'Europe/Madrid',
    )
    const f = dashboard.figures(range, h.clock.now())
    expect(f.heatmap[5]![10]).toBe(1)
    expect(f.heatmap[0]![10]).toBe(1)
    expect(f.daily.map((d) => d.visits)).toEqual([1, 0, 1])
  })
})

describe('dashboard from one packed scan', () => {
  // Issue 20 (console): the figures come from one number per visit (dwell, start, open); these
  // are the edges of that packing.
  it('places starts a fraction of a second either side of the change by their own offset, and keeps a 40-day "dwell" in the last bucket', () => {
    h = consoleHarness({ branch: { timeZone: 'Europe/Madrid' } })
    const insert = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at) VALUES (@id, NULL, 'demo', @s, @l, @e)`,
    )
    const change = Date.parse('2026-03-29T01:00:00Z') // Madrid 02:00 (UTC+1) becomes 03:00 (UTC+2)
    insert.run({ id: 'a', s: change - 400, l: change + 600_000, e: change + 600_000 })
    insert.run({ id: 'b', s: change + 400, l: change + 1_200_600, e: change + 1_200_600 })
    insert.run({
      id: 'c',
      s: change - 3_600_000,
      l: change + 40 * 86_400_000,
      e: change + 40 * 86_400_000,
    })
    insert.run({ id: 'd', s: change + 60_000, l: change + 120_000, e: null }) // open
    const dashboard = createDashboard(h.db, {
      passByMinutes: 2,
      hereNowMinutes: 15,
      timeZone: 'Europe/Madrid',
    })
    const range = resolveRange(
      { range: 'custom', from: '2026-03-29', to: '2026-03-29' },
      h.clock.now(),
      'Europe/Madrid',
    )
    const f = dashboard.figures(range, h.clock.now())
    expect(f.visits).toBe(4)
    // Sunday (6): 01:59:59 local before the change, 01:00 for c, 03:00 for b and the open d.
    expect([f.heatmap[6]![0], f.heatmap[6]![1], f.heatmap[6]![2], f.heatmap[6]![3]]).toEqual([
      0, 2, 0, 2,
    ])
    // a 10 min, b 20 min, c 40 days (clamped to 24 days, still the last bucket); d open: no dwell.
    expect(f.histogram).toEqual([0, 1, 1, 0, 1])
    expect(f.medianDwellMinutes).toBeCloseTo(20, 5)
    expect(f.daily).toEqual([{ date: '2026-03-29', visits: 4 }])
  })
})

describe('language link', () => {
  it('keeps the period shown when switching language', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/?range=7')).text()
    expect(html).toContain('href="/?range=7&amp;lang=en" lang="en"')
    const en = await (await b.get('/?range=7&lang=en')).text()
    expect(en).toContain('Visits overview')
    expect(await (await b.get('/customers')).text()).toContain('<h1>Customers</h1>')
  })
})
