import { serve, type ServerType } from '@hono/node-server'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleHarness, PASSWORD } from '../console-harness.js'
import { local } from '../console-seed.js'
import { CHROMIUM_LAUNCH } from '../net-helpers.js'

// The console's layout measured in Debian's Chromium: the app on a real SQLite file with a fake
// clock (so "today" and its one busy hour are known), served over real HTTP on a port the OS
// picks, read at a phone's and a laptop's width. Screenshots go to test-artifacts/.

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts')
const LONG_NAME = 'Maximiliano' + 'Bartolomé'.repeat(7) // 74 letters, no space
const PHONE = { width: 390, height: 844 }
const LAPTOP = { width: 1366, height: 768 }

let h: ReturnType<typeof consoleHarness>
let server: ServerType
let browser: Browser
let base = ''

/** Today at the branch (the fake clock says 09:00): every visit started in the 8 o'clock hour. */
function seedToday() {
  const customer = h.db.prepare(
    `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@id, @phone, @name, 'es', @at, @at, @at)`,
  )
  const device = h.db.prepare(
    `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, is_staff) VALUES (@mac, @id, @at, @at, 0)`,
  )
  const visit = h.db.prepare(
    `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
     VALUES (@id, @c, 'demo', @s, @l, @e, @r)`,
  )
  const at = (hhmm: string) => local(`2026-03-02T${hhmm}`)
  const people = [
    { id: 1, name: LONG_NAME, phone: '+525523456701' },
    { id: 2, name: 'Ana López', phone: '+525523456702' },
    { id: 3, name: 'Beto Ruiz', phone: '+525523456703' },
  ]
  for (const p of people) {
    customer.run({ ...p, at: at('08:00') })
    device.run({ mac: `02:00:00:00:00:a${p.id}`, id: p.id, at: at('08:00') })
    device.run({ mac: `3a:11:22:33:44:5${p.id}`, id: p.id, at: at('08:00') })
  }
  visit.run({ id: 'v1', c: 1, s: at('08:05'), l: at('08:40'), e: at('08:40'), r: 'absent' })
  visit.run({ id: 'v2', c: 2, s: at('08:20'), l: at('08:21'), e: at('08:21'), r: 'absent' })
  visit.run({ id: 'v3', c: 3, s: at('08:50'), l: at('08:59'), e: null, r: null })
  visit.run({ id: 'v4', c: 1, s: at('08:55'), l: at('08:58'), e: null, r: null })
  h.db
    .prepare(
      `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by) VALUES (@c, @p, @s, @s, 'user:root')`,
    )
    .run({ c: 'PromoSinEspacios'.repeat(4), p: '+525523456701', s: at('07:00') })
  h.db
    .prepare(
      `INSERT INTO audit_log (at, actor, action, subject, reason, detail) VALUES (@at, 'user:root', 'device.revoke', '02:00:00:00:00:a1', 'revoke', '{"authorizationsEnded":1}')`,
    )
    .run({ at: at('08:45') })
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  h = consoleHarness()
  seedToday()
  // Rights requests (issue 15): one open with a long requester name, one refused.
  const asked = {
    customerId: 1,
    receivedAt: h.clock.now(),
    identityCheck: 'official-id' as const,
    identityNote: 'INE',
    details: null,
  }
  h.app.rights.record(
    { ...asked, kind: 'access', requester: 'RepresentanteLegalSinEspacios'.repeat(3) },
    'user:root',
  )
  const refused = h.app.rights.record(
    { ...asked, kind: 'opposition', requester: 'Otro' },
    'user:root',
  )
  h.app.rights.close(refused, 'refused', 'No acreditó su identidad', 'user:root')
  await h.app.consoleAuth.add('root', 'admin', PASSWORD, 'test')
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.admin.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH, headless: true })
})

afterAll(async () => {
  await browser?.close()
  await new Promise((r) => server?.close(r))
  h?.close()
})

async function signedIn(viewport: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'es-MX' })
  const page = await context.newPage()
  await page.goto(base + '/login')
  await page.fill('#name', 'root')
  await page.fill('#password', PASSWORD)
  await Promise.all([page.waitForURL(base + '/'), page.click('button[type=submit]')])
  return page
}

// Runs in the page; typed loosely because tsconfig has no DOM lib.
const PAGE_OVERFLOW = 'document.scrollingElement.scrollWidth - window.innerWidth'

/**
 * Every table cell of the page, and whether a person can reach it: on screen, or inside a box
 * that scrolls sideways (with the shadow that says so). Also each MAC's line count.
 */
const LAYOUT = `(() => {
  const vw = window.innerWidth
  const cells = [...document.querySelectorAll('main td, main th')].map((td) => {
    const r = td.getBoundingClientRect()
    let box = td.parentElement
    while (box && box !== document.body && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement
    const scrolls = !!box && box !== document.body && box.scrollWidth > box.clientWidth
    const cue = scrolls && /gradient/.test(getComputedStyle(box).backgroundImage)
    const onScreen = r.left >= -0.5 && r.right <= vw + 0.5
    // offsetLeft and offsetWidth are each rounded to whole pixels: together up to 1 px over.
    const reachable = onScreen || (scrolls && td.offsetLeft + td.offsetWidth <= box.scrollWidth + 1)
    return { text: td.textContent.trim().slice(0, 40), table: td.closest('table')?.id ?? '', onScreen, reachable, scrolls, cue }
  })
  const macs = [...document.querySelectorAll('main .mac')].map((m) => ({
    mac: m.textContent, lines: m.getClientRects().length, right: m.getBoundingClientRect().right,
  }))
  return { cells, macs }
})()`

describe('the console at a phone’s and a laptop’s width', () => {
  it('draws the "Hoy" heatmap of one busy hour at a sane size that fits the screen', async () => {
    for (const viewport of [PHONE, LAPTOP]) {
      const page = await signedIn(viewport)
      await page.goto(base + '/?range=today')
      const box = (await page.locator('svg.chart.heat').boundingBox())!
      const busiest = (await page
        .locator('svg.chart.heat rect[fill-opacity="1.00"]')
        .boundingBox())!
      const cell = (await page.locator('svg.chart.heat rect').first().boundingBox())!
      console.log(
        `heatmap at ${viewport.width} px: ${Math.round(box.width)}×${Math.round(box.height)} px, cell ${Math.round(cell.width)}×${Math.round(cell.height)} px, busiest cell at x=${Math.round(busiest.x)}`,
      )
      await page.screenshot({
        path: path.join(ARTIFACTS, `console-heatmap-today-${viewport.width}.png`),
        fullPage: true,
      })
      expect(box.x).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width).toBeLessThanOrEqual(viewport.width)
      expect(box.height).toBeLessThanOrEqual(300)
      expect(cell.height).toBeGreaterThanOrEqual(14)
      expect(cell.height).toBeLessThanOrEqual(40)
      expect(busiest.x).toBeGreaterThanOrEqual(0)
      expect(busiest.x + busiest.width).toBeLessThanOrEqual(viewport.width)
      expect((await page.evaluate(PAGE_OVERFLOW)) as number).toBeLessThanOrEqual(0)
      await page.context().close()
    }
  })

  it('keeps every column of every table reachable at 390 px, MACs on one line, long names wrapped', async () => {
    const page = await signedIn(PHONE)
    const pages = [
      '/?range=today',
      '/visits?range=today',
      '/customers',
      '/customers/1',
      '/campaigns',
      `/campaigns/report?c=${'PromoSinEspacios'.repeat(4)}`,
      '/audit',
      '/users',
      '/sync',
      '/requests',
      '/requests/1',
      '/trends?days=30',
      '/trends/weekly',
    ]
    for (const p of pages) {
      await page.goto(base + p)
      // "Ver los números" tables are read once opened.
      for (const d of await page.locator('details').all())
        await d.evaluate('(d) => (d.open = true)')
      const name = p.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'dashboard'
      await page.screenshot({
        path: path.join(ARTIFACTS, `console-390-${name}.png`),
        fullPage: true,
      })
      expect(
        (await page.evaluate(PAGE_OVERFLOW)) as number,
        `${p}: page overflow`,
      ).toBeLessThanOrEqual(0)
      const { cells, macs } = (await page.evaluate(LAYOUT)) as {
        cells: Array<{
          text: string
          table: string
          onScreen: boolean
          reachable: boolean
          scrolls: boolean
          cue: boolean
        }>
        macs: Array<{ mac: string; lines: number; right: number }>
      }
      expect(
        cells.filter((c) => !c.reachable),
        `${p}: cells out of reach`,
      ).toEqual([])
      expect(
        cells.filter((c) => c.scrolls && !c.cue),
        `${p}: scroll box without a cue`,
      ).toEqual([])
      expect(
        macs.filter((m) => m.lines !== 1),
        `${p}: MAC broken across lines`,
      ).toEqual([])
      // A long name without spaces wraps in its cell: the lists keep all their columns on screen.
      if (['/visits?range=today', '/customers', '/?range=today'].includes(p)) {
        const named = cells.filter((c) => ['visits', 'customers', 'here-now'].includes(c.table))
        expect(named.length, p).toBeGreaterThan(0)
        expect(
          named.filter((c) => !c.onScreen),
          `${p}: columns pushed off screen`,
        ).toEqual([])
      }
    }
    // The customer page: MACs whole, the long name wrapped in the heading.
    await page.goto(base + '/customers/1')
    const { macs } = (await page.evaluate(LAYOUT)) as { macs: Array<{ lines: number }> }
    expect(macs).toHaveLength(2)
    const heading = (await page.locator('#customer-name').boundingBox())!
    expect(heading.x + heading.width).toBeLessThanOrEqual(PHONE.width)
    await page.context().close()
  })
})
