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
const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
)
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
const WIDTHS = [360, 1280] as const
const LOCALES = ['es-MX', 'en-US'] as const
const CAMPAIGN = 'Hipoteca primavera'
const STAFF_MAC = '3a:a1:00:00:00:ff'

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
    visit.run({
      id: `v${++n}`,
      c,
      s: start,
      l: start + minutes * 60_000,
      e: start + minutes * 60_000,
    })
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
    staffMacs: [STAFF_MAC],
  })
  seed()
  // Rights requests (issue 15) for their pages: one open, one refused.
  const asked = {
    customerId: 1,
    receivedAt: h.clock.now(),
    identityCheck: 'official-id' as const,
    identityNote: 'INE',
    details: null,
  }
  h.app.rights.record({ ...asked, kind: 'access', requester: 'Ana López' }, 'user:root')
  const refused = h.app.rights.record(
    { ...asked, kind: 'opposition', requester: 'Otro' },
    'user:root',
  )
  h.app.rights.close(refused, 'refused', 'No acreditó su identidad', 'user:root')
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

async function newContext(c: Combo): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: c.width, height: c.width < 600 ? 780 : 900 },
    locale: c.locale,
    javaScriptEnabled: c.js,
  })
  // No wall-clock bound on a page: a busy machine is slow, not wrong (the test's timeout is the
  // guard against a hang).
  context.setDefaultTimeout(0)
  return context
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
  found.push(...(await axe(page, name, c)))
  if (c.js) {
    const lang = c.locale.slice(0, 2)
    await page.screenshot({
      path: path.join(ARTIFACTS, `${name}-${lang}-${c.width}.png`),
      fullPage: true,
    })
  }
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
  await submit(page, 'form[action="/resend"] button[type=submit]')
  await check(page, 'portal-code-resent', c, found)
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
  // The privacy notice and the opt-out page (issue 15): served, and checked like the rest.
  for (const [name, url] of PRIVACY_PAGES) {
    const res = await page.goto(portal + url)
    expect(res?.status(), url).toBe(200)
    await check(page, name, c, found)
  }
  // The opt-out page refusing a number (tied to its field), then its code page.
  await page.goto(portal + '/promociones')
  await page.fill('#phone', 'no es un número')
  await submit(page, 'form[action="/promociones"] button[type=submit]')
  expect(await page.locator('#phone[aria-invalid="true"]').count()).toBe(1)
  await check(page, 'portal-opt-out-error', c, found)
  await page.fill('#phone', number.typed)
  await submit(page, 'form[action="/promociones"] button[type=submit]')
  await check(page, 'portal-opt-out-code', c, found)
  // The same customer back on a new address: the code, then the greeting.
  newDevice()
  await page.goto(portal + '/')
  await page.fill('#name', 'María')
  await page.fill('#phone', number.typed)
  await page.check('#consent')
  await submit(page, 'form[action="/login"] button[type=submit]')
  await page.fill('#code', h.sms.lastCodeTo(number.e164))
  await submit(page, 'form[action="/verify"] button[type=submit]')
  await check(page, 'portal-welcome-new-address', c, found)
  // A staff device's page.
  h.neighbours.set('127.0.0.1', STAFF_MAC)
  await page.goto(portal + '/')
  expect(await page.locator('h1').count()).toBe(1)
  await check(page, 'portal-staff', c, found)
  await context.close()
  return found
}

/** Pages of the privacy work (issue 15). */
const PRIVACY_PAGES: Array<[string, string]> = [
  ['portal-notice', '/aviso-de-privacidad'],
  ['portal-opt-out', '/promociones'],
]

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
  ['console-trends-7', '/trends?days=7'],
  ['console-trends-30', '/trends?days=30'],
  ['console-trends-365', '/trends?days=365'],
  ['console-weekly', '/trends/weekly'],
  // Privacy (issue 15): the rights requests, one open and one refused.
  ['console-requests', '/requests'],
  ['console-request-open', '/requests/1'],
  ['console-request-refused', '/requests/2'],
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
  await page.goto(consoleBase + '/password')
  await page.fill('#current', 'not the password')
  await page.fill('#next', 'una-clave-nueva-larga')
  await page.fill('#again', 'otra-clave-distinta')
  await submit(page, 'form[action="/password"] button[type=submit]')
  await check(page, 'console-password-error', c, found)
  for (const [name, url] of CONSOLE_PAGES) {
    await page.goto(consoleBase + url)
    // "Ver los números" tables are read once opened: axe checks them open.
    for (const d of await page.locator('details').all()) {
      await d.evaluate('(d) => d.setAttribute("open", "")')
    }
    await check(page, name, c, found)
  }
  // Refusals with their messages: a campaign file with problems, an erasure not confirmed.
  await page.goto(consoleBase + '/campaigns')
  await page.setInputFiles('#file', {
    name: 'envios.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('telefono,campaña\nno es un número,\n'),
  })
  await submit(page, 'form[action="/campaigns/import"] button[type=submit]')
  expect(await page.locator('#file[aria-invalid="true"]').count()).toBe(1)
  await check(page, 'console-campaigns-import-error', c, found)
  await page.goto(consoleBase + '/customers/2/erase')
  await page.evaluate(`document.querySelector('form[action$="/erase"]').noValidate = true`)
  await submit(page, 'form[action$="/erase"] button[type=submit]')
  expect(await page.locator('[role=alert]').count()).toBe(1)
  await check(page, 'console-erase-error', c, found)
  // Privacy's refusals, tied to their fields: a rights request without who asks, a name refused.
  await page.goto(consoleBase + '/requests')
  await page.evaluate(`document.querySelector('form[action="/requests"]').noValidate = true`)
  await page.fill('#requester', '')
  await submit(page, 'form[action="/requests"] button[type=submit]')
  expect(await page.locator('#requester[aria-invalid="true"]').count()).toBe(1)
  await check(page, 'console-requests-error', c, found)
  await page.goto(consoleBase + '/customers/3')
  await page.evaluate(`document.querySelector('form[action$="/rename"]').noValidate = true`)
  await page.evaluate(
    `document.querySelector('form[action$="/rename"]').closest('details').open = true`,
  )
  await page.fill('#name', '')
  await submit(page, 'form[action$="/rename"] button[type=submit]')
  expect(await page.locator('#name[aria-invalid="true"]').count()).toBe(1)
  await check(page, 'console-customer-rename-error', c, found)
  await context.close()
  return found
}

describe('WCAG 2.1 AA, by axe-core', () => {
  // One test per combination (Spanish and English, 360 and 1280 px, JavaScript on and off). Its
  // portal flow and console pages run side by side; the portal's flows share the one neighbour
  // entry of 127.0.0.1, so the combinations run one after another.
  it.each(COMBOS.map((c) => ({ ...c, name: comboName(c) })))(
    'finds no violation on any portal or console page: $name',
    async (c) => {
      const found = (await Promise.all([portalPages(c), consolePages(c)])).flat()
      const rules = [...new Set(found.map((v) => v.rule))]
      expect({ rules, found }).toEqual({ rules: [], found: [] })
    },
    900_000,
  )
})

/** Contrast ratio of two sRGB colours given as [r, g, b] 0–255 (WCAG 2.x relative luminance). */
function contrast(a: number[], b: number[]): number {
  if (a.length !== 3 || b.length !== 3 || [...a, ...b].some((v) => !Number.isFinite(v)))
    throw new Error(`not two colours: ${JSON.stringify([a, b])}`)
  const lum = (c: number[]) => {
    const [r, g, bl] = c.map((v) => {
      const s = v / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }) as [number, number, number]
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl
  }
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

/** The focused element and how its focus is drawn (runs in the page). */
const FOCUS = `(() => {
  const el = document.activeElement
  if (!el || el === document.body) return null
  const s = getComputedStyle(el)
  const rgb = (c) => (c.match(/[0-9.]+/g) || []).slice(0, 3).map(Number)
  let bg = [255, 255, 255]
  for (let n = el.parentElement; n; n = n.parentElement) {
    const b = getComputedStyle(n).backgroundColor
    if (b && b !== 'rgba(0, 0, 0, 0)' && b !== 'transparent') { bg = rgb(b); break }
  }
  const r = el.getBoundingClientRect()
  return {
    what: el.id || el.getAttribute('href') || el.tagName.toLowerCase(),
    outlineStyle: s.outlineStyle,
    outlineWidth: parseFloat(s.outlineWidth),
    outlineColor: rgb(s.outlineColor),
    background: bg,
    onScreen: r.width > 0 && r.height > 0,
  }
})()`

interface FocusState {
  what: string
  outlineStyle: string
  outlineWidth: number
  outlineColor: number[]
  background: number[]
  onScreen: boolean
}

/** Presses Tab until `target` (an id) has the focus, checking every stop's focus is visible. */
async function tabTo(page: Page, target: string, stops: FocusState[]) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab')
    const f = (await page.evaluate(FOCUS)) as FocusState | null
    if (!f) continue
    stops.push(f)
    if (f.what === target) return
  }
  throw new Error(`Tab never reached #${target}: ${stops.map((s) => s.what).join(', ')}`)
}

/**
 * Waits until `id` has the focus. Autofocus is applied at the page's next rendering step, after
 * `load`: a key typed before that goes nowhere (a quiet CI run typed the manager's name into
 * the page's body, so the sign-in was refused and the wait for the dashboard never ended).
 */
async function autofocused(page: Page, id: string) {
  // Asked from here, not with waitForFunction: that polls inside the page, and some pages here
  // run with JavaScript off.
  while ((await page.evaluate('document.activeElement && document.activeElement.id')) !== id)
    await new Promise((r) => setTimeout(r, 10))
}

/** Stops whose focus ring is missing, too thin or too faint (3:1 against what is next to it). */
const invisible = (stops: FocusState[]) =>
  stops.filter(
    (f) =>
      !f.onScreen ||
      f.outlineStyle === 'none' ||
      f.outlineWidth < 2 ||
      contrast(f.outlineColor, f.background) < 3,
  )

// A guard against a hang only: on a machine shared with other work these pages can take minutes.
describe('what axe cannot see', { timeout: 600_000 }, () => {
  it('takes a customer from the splash page to the welcome page with the keyboard alone, the focus always visible', async () => {
    const context = await newContext({ locale: 'es-MX', width: 360, js: false })
    const page = await context.newPage()
    newDevice()
    const number = newNumber()
    const stops: FocusState[] = []
    await page.goto(portal + '/')
    await tabTo(page, 'name', stops)
    await page.keyboard.type('Lucía Fernández')
    await tabTo(page, 'phone', stops)
    await page.keyboard.type(number.typed)
    await tabTo(page, 'consent', stops)
    await page.keyboard.press('Space')
    await tabTo(page, 'marketing', stops)
    await page.keyboard.press('Tab')
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')])
    expect(await page.locator('h1').textContent()).toBe('Escribe tu código')
    // The code field has the focus on arrival (autofocus), and asks for digits from the SMS.
    await autofocused(page, 'code')
    const focused = (await page.evaluate(FOCUS)) as FocusState
    expect(focused.what).toBe('code')
    stops.push(focused)
    const code = page.locator('#code')
    expect(await code.getAttribute('autocomplete')).toBe('one-time-code')
    expect(await code.getAttribute('inputmode')).toBe('numeric')
    await page.keyboard.type(h.sms.lastCodeTo(number.e164))
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')])
    expect(await page.locator('h1').textContent()).toBe('¡Listo, Lucía Fernández!')
    // The welcome page came by a navigation (the form's post), what makes a captive sheet check
    // again and turn to "Done" (docs/gateway.md).
    expect(
      await page.evaluate(
        `(() => { const n = performance.getEntriesByType('navigation')[0]; return [n.type, new URL(n.name).pathname] })()`,
      ),
    ).toEqual(['navigate', '/verify'])
    expect(stops.map((s) => s.what)).toEqual(expect.arrayContaining(['name', 'phone', 'consent']))
    expect(invisible(stops)).toEqual([])
    await context.close()
  })

  it('signs a manager in and opens the trends with the keyboard alone, the focus always visible', async () => {
    const context = await newContext({ locale: 'es-MX', width: 1280, js: true })
    const page = await context.newPage()
    const stops: FocusState[] = []
    await page.goto(consoleBase + '/login')
    await autofocused(page, 'name') // the user field has the focus on arrival
    await page.keyboard.type('root')
    await tabTo(page, 'password', stops)
    await page.keyboard.type(PASSWORD)
    await Promise.all([page.waitForURL(consoleBase + '/'), page.keyboard.press('Enter')])
    await tabTo(page, '/trends', stops)
    await Promise.all([page.waitForURL('**/trends'), page.keyboard.press('Enter')])
    expect(await page.locator('h1').textContent()).toBe('Tendencias')
    // Every link, chip and sideways-scrolling table of the page is reached, focus drawn.
    await tabTo(page, '/trends/weekly', stops)
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab')
      const f = (await page.evaluate(FOCUS)) as FocusState | null
      if (f) stops.push(f)
    }
    expect(stops.length).toBeGreaterThan(15)
    expect(invisible(stops)).toEqual([])
    await context.close()
  })

  it('announces every error and ties it to its field, in the title, an alert and aria-describedby', async () => {
    const context = await newContext({ locale: 'es-MX', width: 360, js: true })
    const page = await context.newPage()
    newDevice()
    /** Each invalid field: its id and the text of what describes it. */
    const described = async () =>
      (await page.evaluate(`[...document.querySelectorAll('[aria-invalid="true"]')].map((el) => ({
        field: el.id,
        says: (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean)
          .map((id) => document.getElementById(id)?.textContent.trim() ?? '<missing ' + id + '>'),
      }))`)) as Array<{ field: string; says: string[] }>
    await page.goto(portal + '/')
    await submit(page, 'form[action="/login"] button[type=submit]')
    expect(await page.title()).toMatch(/^Error: /)
    expect(await page.locator('[role=alert]').textContent()).toContain('Revisa los datos marcados.')
    expect(await described()).toEqual([
      { field: 'name', says: ['Como quieres que te llamemos.', 'Escribe tu nombre.'] },
      {
        field: 'phone',
        says: ['A 10 dígitos, por ejemplo 55 1234 5678.', 'Escribe tu número de celular.'],
      },
      {
        field: 'consent',
        says: ['Para conectarte necesitas aceptar los términos y el aviso de privacidad.'],
      },
    ])
    // The summary links to each field.
    expect(
      await page.evaluate(`[...document.querySelectorAll('[role=alert] a')].map((a) => a.hash)`),
    ).toEqual(['#name', '#phone', '#consent'])
    const number = newNumber()
    await page.fill('#name', 'Lucía')
    await page.fill('#phone', number.typed)
    await page.check('#consent')
    await submit(page, 'form[action="/login"] button[type=submit]')
    await page.fill('#code', '000000')
    await submit(page, 'form[action="/verify"] button[type=submit]')
    expect(await page.title()).toMatch(/^Error: /)
    expect(await described()).toEqual([
      { field: 'code', says: ['Ese código no es correcto. Te quedan 4 intentos.'] },
    ])
    // The console: a refused password change marks the field it is about.
    const manager = await context.newPage()
    await manager.goto(consoleBase + '/login')
    await manager.fill('#name', 'root')
    await manager.fill('#password', PASSWORD)
    await submit(manager, 'form[action="/login"] button[type=submit]')
    await manager.goto(consoleBase + '/password')
    await manager.fill('#current', PASSWORD)
    await manager.fill('#next', 'una-clave-nueva-larga')
    await manager.fill('#again', 'otra-clave-distinta')
    await submit(manager, 'form[action="/password"] button[type=submit]')
    const invalid = (await manager.evaluate(
      `[...document.querySelectorAll('[aria-invalid="true"]')].map((el) => [el.id, document.getElementById(el.getAttribute('aria-describedby')).getAttribute('role')])`,
    )) as string[][]
    expect(invalid).toEqual([['again', 'alert']])
    // An erasure sent without its confirmation marks the box it is about.
    await manager.goto(consoleBase + '/customers/3/erase')
    await manager.evaluate(`document.querySelector('form[action$="/erase"]').noValidate = true`)
    await submit(manager, 'form[action$="/erase"] button[type=submit]')
    expect(await manager.title()).toMatch(/^Error: /)
    expect(
      await manager.evaluate(
        `[...document.querySelectorAll('[aria-invalid="true"]')].map((el) => [el.id, document.getElementById(el.getAttribute('aria-describedby')).getAttribute('role')])`,
      ),
    ).toEqual([['confirm', 'alert']])
    await context.close()
  })

  it('keeps every page whole with text at 200 %: nothing cut, nothing off the side, at 360 px', async () => {
    const context = await newContext({ locale: 'es-MX', width: 360, js: true })
    const page = await context.newPage()
    newDevice()
    const problems: string[] = []
    const measure = async (name: string) => {
      // Text at 200 %: the root font size doubled, as a browser's text-size setting does (every
      // size on our pages is in rem or em, so all text follows it).
      await page.evaluate(`document.documentElement.style.fontSize = '200%'`)
      await page.screenshot({
        path: path.join(ARTIFACTS, `zoom200-${name}-360.png`),
        fullPage: true,
      })
      const r = (await page.evaluate(`(() => {
        const overflow = document.scrollingElement.scrollWidth - window.innerWidth
        // Text cut off: a box that hides what overflows it, with more inside than it shows.
        const clipped = [...document.querySelectorAll('body *')].filter((el) => {
          const s = getComputedStyle(el)
          if (el.closest('svg') || el.classList.contains('sr-only')) return false
          const hides = ['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflowY)
          return hides && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
        }).map((el) => el.id || el.className || el.tagName)
        const fontSize = parseFloat(getComputedStyle(document.querySelector('h1') || document.body).fontSize)
        return { overflow, clipped, fontSize }
      })()`)) as { overflow: number; clipped: string[]; fontSize: number }
      if (r.overflow > 0) problems.push(`${name}: page ${r.overflow}px wider than the screen`)
      if (r.clipped.length) problems.push(`${name}: text cut in ${r.clipped.join(', ')}`)
      if (r.fontSize < 44) problems.push(`${name}: heading ${r.fontSize}px, text not enlarged`)
    }
    await page.goto(portal + '/')
    await measure('portal-splash')
    await submit(page, 'form[action="/login"] button[type=submit]')
    await measure('portal-splash-errors')
    const number = newNumber()
    await page.fill('#name', 'Lucía')
    await page.fill('#phone', number.typed)
    await page.check('#consent')
    await submit(page, 'form[action="/login"] button[type=submit]')
    await measure('portal-code')
    await page.goto(consoleBase + '/login')
    await measure('console-login')
    await page.fill('#name', 'root')
    await page.fill('#password', PASSWORD)
    await submit(page, 'form[action="/login"] button[type=submit]')
    for (const [name, url] of [
      ['console-dashboard', '/?range=30'],
      ['console-trends', '/trends?days=30'],
      ['console-customer', '/customers/1'],
    ]) {
      await page.goto(consoleBase + url)
      await measure(name!)
    }
    expect(problems).toEqual([])
    await context.close()
  })

  it('draws every chart mark 3:1 against the page and its text 4.5:1, and gives every chart its numbers in a table', async () => {
    const context = await newContext({ locale: 'es-MX', width: 1280, js: true })
    const page = await context.newPage()
    await page.goto(consoleBase + '/login')
    await page.fill('#name', 'root')
    await page.fill('#password', PASSWORD)
    await submit(page, 'form[action="/login"] button[type=submit]')
    const problems: string[] = []
    let charts = 0
    let marks = 0
    for (const url of ['/?range=30', '/?range=today', '/trends?days=7', '/trends?days=365']) {
      await page.goto(consoleBase + url)
      const found = (await page.evaluate(`(() => {
        const rgb = (c) => (c.match(/[0-9.]+/g) || []).slice(0, 3).map(Number)
        // A colour with its opacity, laid over the white page.
        const over = (c, a) => c.map((v) => Math.round(v * a + 255 * (1 - a)))
        return [...document.querySelectorAll('svg.chart')].map((svg) => {
          const section = svg.closest('section')
          const table = section && section.querySelector('table')
          const marks = [...svg.querySelectorAll('[data-v]')]
            .filter((m) => m.getAttribute('data-v') !== '0')
            .map((m) => {
              const s = getComputedStyle(m)
              const paint = s.fill && s.fill !== 'none' ? s.fill : s.stroke
              const a = Number(s.fillOpacity) * Number(s.opacity)
              return over(rgb(paint), a)
            })
          const lines = [...svg.querySelectorAll('polyline')].map((l) => rgb(getComputedStyle(l).stroke))
          const texts = [...svg.querySelectorAll('text')].map((t) => rgb(getComputedStyle(t).fill))
          const values = [...svg.querySelectorAll('[data-v]')].map((m) => Number(m.getAttribute('data-v')))
          const cells = table ? [...table.querySelectorAll('tbody td')].map((td) => Number(td.textContent.replace(',', '.'))) : []
          return { id: svg.querySelector('title').id, marks, lines, texts, values, cells, tableId: table ? table.id : null }
        })
      })()`)) as Array<{
        id: string
        marks: number[][]
        lines: number[][]
        texts: number[][]
        values: number[]
        cells: number[]
        tableId: string | null
      }>
      for (const chart of found) {
        charts++
        marks += chart.marks.length
        const where = `${url} ${chart.id}`
        const white = [255, 255, 255]
        for (const m of [...chart.marks, ...chart.lines])
          if (contrast(m, white) < 3)
            problems.push(`${where}: mark rgb(${m}) ${contrast(m, white).toFixed(2)}:1`)
        for (const t of chart.texts)
          if (contrast(t, white) < 4.5)
            problems.push(`${where}: text rgb(${t}) ${contrast(t, white).toFixed(2)}:1`)
        if (!chart.tableId) problems.push(`${where}: no table of its numbers`)
        // Every value drawn is in the table (the heatmap's table also has the hours it leaves out).
        const missing = chart.values.filter((v) => !chart.cells.includes(v))
        if (missing.length) problems.push(`${where}: values ${missing.join(', ')} not in the table`)
      }
    }
    expect(charts).toBeGreaterThanOrEqual(8)
    expect(marks).toBeGreaterThan(50)
    expect(problems).toEqual([])
    await context.close()
  })

  it('lays the trends out at 390 px and prints the weekly report on one page', async () => {
    const context = await newContext({ locale: 'es-MX', width: 390, js: true })
    const page = await context.newPage()
    await page.goto(consoleBase + '/login')
    await page.fill('#name', 'root')
    await page.fill('#password', PASSWORD)
    await submit(page, 'form[action="/login"] button[type=submit]')
    for (const url of ['/trends?days=30', '/trends?days=365', '/trends/weekly']) {
      await page.goto(consoleBase + url)
      if (url === '/trends?days=30')
        await page.screenshot({ path: path.join(ARTIFACTS, 'console-trends-390.png') })
      const overflow = await page.evaluate(
        'document.scrollingElement.scrollWidth - window.innerWidth',
      )
      expect(overflow as number, url).toBeLessThanOrEqual(0)
      const svgs = (await page.evaluate(
        `[...document.querySelectorAll('svg.chart')].map((s) => s.getBoundingClientRect().right)`,
      )) as number[]
      expect(
        svgs.filter((right) => right > 390),
        url,
      ).toEqual([])
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-weekly-390.png'), fullPage: true })
    const pdf = await page.pdf({ format: 'A4', printBackground: true })
    // What the paper looks like, for a person to check: the print styles at A4's width.
    await page.setViewportSize({ width: 794, height: 1123 })
    await page.emulateMedia({ media: 'print' })
    await page.screenshot({
      path: path.join(ARTIFACTS, 'console-weekly-print-a4.png'),
      fullPage: true,
    })
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []
    expect(pages).toHaveLength(1)
    await context.close()
  })
})
