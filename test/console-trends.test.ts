import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../src/console/dashboard.js'
import { busiestHours, change, createTrends, trendRanges } from '../src/console/trends.js'
import { consoleHarness } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

// The console for looking (issue 18): trends over 7/30/365 days beside the period before,
// the conversion from code sent to code typed, busiest hours, campaigns by walk-in rate,
// returning customers on a new address per OS family, and the printable weekly report.

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'

/** Codes: `sent` delivered (of which `verified` typed back) and one failed send, at `at`. */
function seedCodes(at: number, sent: number, verified: number) {
  const insert = h.db.prepare(
    `INSERT INTO otp_challenges (id, phone_e164, mac, name, locale, marketing, code_hmac, created_at, expires_at, status)
     VALUES (@id, '+525500000000', '3a:00:00:00:00:99', 'X', 'es', 0, 'h', @at, @at, @status)`,
  )
  for (let i = 0; i < sent; i++)
    insert.run({ id: `c${at}-${i}`, at, status: i < verified ? 'verified' : 'superseded' })
  insert.run({ id: `c${at}-failed`, at, status: 'send_failed' })
}

function seedArrivals() {
  const insert = h.db.prepare(
    `INSERT INTO device_arrivals (at, customer_id, kind, os_family) VALUES (@at, 1, @kind, @os)`,
  )
  const at = local('2026-02-27T10:00')
  for (const [kind, os] of [
    ['new-customer', 'ios'],
    ['new-address', 'ios'],
    ['new-address', 'ios'],
    ['known-device', 'ios'],
    ['known-device', 'android'],
    ['new-address', 'android'],
  ])
    insert.run({ at, kind, os })
  // Before the period: not counted.
  insert.run({ at: local('2026-02-10T10:00'), kind: 'new-address', os: 'windows' })
}

describe('trends', () => {
  it('compare the last 7 days with the 7 before: visits, new and returning, median stay, conversion', () => {
    h = consoleHarness()
    seedWeek(h.db)
    seedCodes(local('2026-02-26T10:00'), 10, 7)
    seedCodes(local('2026-02-20T10:00'), 4, 1)
    const rules = { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ }
    const trends = createTrends(h.db, createDashboard(h.db, rules), TZ)
    const t = trends.trends(7, h.clock.now())
    expect([t.current.range.from, t.current.range.to]).toEqual(['2026-02-24', '2026-03-02'])
    expect([t.previous.range.from, t.previous.range.to]).toEqual(['2026-02-17', '2026-02-23'])
    // The current week is console-dashboard.test.ts's, counted by hand there.
    expect(t.current).toMatchObject({
      visits: 7,
      newCustomers: 2,
      returningCustomers: 2,
      medianDwellMinutes: 12,
    })
    // The week before: Ana 20 min (her first), Beto 10 min on Monday 23 local (his first).
    expect(t.previous).toMatchObject({
      visits: 2,
      newCustomers: 2,
      returningCustomers: 0,
      medianDwellMinutes: 15,
    })
    expect(t.current.conversion).toEqual({ sent: 10, verified: 7, rate: 0.7 })
    expect(t.previous.conversion).toEqual({ sent: 4, verified: 1, rate: 0.25 })
    expect(change(7, 2)).toBe(2.5)
    expect(change(1, 0)).toBeNull()
    // Busiest hours: the hours of the week's arrivals, per day with visits (6 days).
    expect(busiestHours(t.current)).toEqual([
      { hour: 10, perDay: 2 / 6 },
      { hour: 0, perDay: 1 / 6 },
      { hour: 8, perDay: 1 / 6 },
    ])
  })

  it('take a year and the year before it, day for day', () => {
    const { current, previous } = trendRanges(365, Date.parse('2026-03-02T15:00:00Z'), TZ)
    expect([current.from, current.to, current.days]).toEqual(['2025-03-03', '2026-03-02', 365])
    expect([previous.from, previous.to, previous.days]).toEqual(['2024-03-03', '2025-03-02', 365])
  })

  it('show on the page: the figures beside the previous period, each chart with its numbers, campaigns by walk-in rate, new addresses per OS', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    seedArrivals()
    seedCodes(local('2026-02-26T10:00'), 10, 7)
    const send = h.db.prepare(
      `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by) VALUES (@c, @p, @s, @s, 'user:root')`,
    )
    // Ana (+…01) came on the 25th and 27th, Carla (+…03) on 1 March: every recipient of "Tarjeta
    // oro" and "Seguro auto" walked in (ties go to more walk-ins); nobody for "Seguro hogar".
    send.run({ c: 'Tarjeta oro', p: '+525512345601', s: local('2026-02-24T09:00') })
    send.run({ c: 'Tarjeta oro', p: '+525512345603', s: local('2026-02-24T09:00') })
    send.run({ c: 'Seguro auto', p: '+525512345601', s: local('2026-02-24T09:00') })
    send.run({ c: 'Seguro hogar', p: '+525512345699', s: local('2026-02-24T09:00') })
    send.run({ c: 'Campaña vieja', p: '+525512345601', s: local('2025-12-01T09:00') })
    const b = await h.signedIn('gerente', 'manager')
    const res = await b.get('/trends?days=7')
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('<a href="/trends" aria-current="page">Tendencias</a>')
    expect(html).toContain('<a class="chip" href="/trends?days=7" aria-current="true">7 días</a>')
    // Figures: this week, the week before, the change.
    const row = (label: string) =>
      new RegExp(`<th scope="row">${label}</th>(.*?)</tr>`)
        .exec(html)?.[1]
        ?.replace(/<[^>]+>/g, '|')
    expect(row('Visitas')).toBe('|7||2||+250%|')
    expect(row('Códigos enviados que se confirmaron')).toBe('|70%||7 de 10|||—||0 de 0|||—|')
    // The comparison chart has its numbers in a table, day by day.
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="chart"')
    expect(html).toMatch(/<table id="table-compare" class="chart-data">/)
    expect(html).toContain(
      '<tr><th scope="row">mié, 25 de feb de 2026</th><td class="num">2</td><td class="num">0</td></tr>',
    )
    expect(html).toContain(
      '<strong id="top-hours">Las horas de más llegadas: 10:00, 0:00, 8:00.</strong>',
    )
    // Campaigns sent this week by walk-in rate; the old one is left out.
    const campaigns = /<table id="top-campaigns">([\s\S]*?)<\/table>/.exec(html)![1]!
    expect([...campaigns.matchAll(/c=([^"&]+)/g)].map((m) => decodeURIComponent(m[1]!))).toEqual([
      'Tarjeta oro',
      'Seguro auto',
      'Seguro hogar',
    ])
    // Returning customers on a new address, per OS family: 2 of 3 on iOS, 1 of 2 on Android.
    const os = /<table id="arrivals-os">([\s\S]*?)<\/table>/
      .exec(html)![1]!
      .replace(/<[^>]+>/g, '|')
    expect(os).toContain('|iPhone / iPad (iOS)||3||2||66.7%|')
    expect(os).toContain('|Android||2||1||50%|')
    expect(os).not.toContain('Windows')
    // In English too.
    const en = await (await b.get('/trends?days=365&lang=en')).text()
    expect(en).toContain('Visits per week: this period and the one before')
    expect(en).toContain('Returning customers on a new address, per system')
  })

  it('print a one-page weekly report a manager can hand on', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('gerente', 'manager')
    const html = await (await b.get('/trends/weekly')).text()
    expect(html).toContain('<h1>Informe semanal</h1>')
    expect(html).toContain(
      'Sucursal Demo: del mar, 24 de feb de 2026 al lun, 2 de mar de 2026, frente a la semana anterior.',
    )
    // The same figures as the trends page, without the menu on paper (the PDF is measured in
    // test/e2e/accessibility.browser.test.ts).
    expect(html).toContain('<table id="trend-figures" class="figures-table">')
  })
})
