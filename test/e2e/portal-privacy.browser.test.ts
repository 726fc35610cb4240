import { serve, type ServerType } from '@hono/node-server'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { portalHarness } from '../helpers.js'
import { CHROMIUM_LAUNCH } from '../net-helpers.js'

// Issue 15 in Debian's Chromium, on a phone's screen inside the captive sheet's width: the full
// notice reached from the splash page, "Ya no quiero recibir promociones" with its SMS code, and
// the one-tap opt-out on the welcome-back page. The portal app on a real SQLite file with a fake
// clock and a fake SMS provider (the code is read from it), over real HTTP on a port the OS
// picks; the loopback address stands for the phone in the neighbour table. Screenshots go to
// test-artifacts/.

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts')
const PHONE = { width: 390, height: 844 }
const MAC = '3a:aa:bb:cc:dd:01'

let h: ReturnType<typeof portalHarness>
let server: ServerType
let browser: Browser
let base = ''

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  h = portalHarness({ privacy: { noticeVersion: '2026-05' } })
  h.neighbours.set('127.0.0.1', MAC)
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.portal.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      base = `http://localhost:${info.port}`
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

async function phone(): Promise<Page> {
  const context = await browser.newContext({
    viewport: PHONE,
    locale: 'es-MX',
    isMobile: true,
    hasTouch: true,
  })
  return context.newPage()
}

// Runs in the page; typed loosely because tsconfig has no DOM lib.
const PAGE_OVERFLOW = 'document.scrollingElement.scrollWidth - window.innerWidth'

async function fits(page: Page, name: string) {
  await page.screenshot({ path: path.join(ARTIFACTS, `portal-390-${name}.png`), fullPage: true })
  expect(
    (await page.evaluate(PAGE_OVERFLOW)) as number,
    `${name}: page overflow`,
  ).toBeLessThanOrEqual(0)
}

const withdrawals = () =>
  h.db.prepare(`SELECT COUNT(*) FROM outbox_events WHERE type = 'consent.withdrawn'`).pluck().get()

describe('the customer’s privacy pages on a phone', () => {
  it('reads the full notice from the splash page, then stops promotions with an SMS code', async () => {
    const page = await phone()
    await page.goto(base + '/')
    await fits(page, 'splash')
    await Promise.all([page.waitForURL('**/aviso-de-privacidad**'), page.click('.notice-text a')])
    expect(await page.locator('main').textContent()).toContain('Versión 2026-05')
    await fits(page, 'aviso')
    await page.goto(base + '/')
    await Promise.all([page.waitForURL('**/promociones**'), page.click('a[href^="/promociones"]')])
    expect(await page.locator('h1').textContent()).toBe('Ya no quiero recibir promociones')
    await fits(page, 'promociones')
    // A number that is not one: one sentence, the number kept in the field.
    await page.fill('#phone', '12')
    await Promise.all([page.waitForURL('**/promociones'), page.click('button[type=submit]')])
    expect(await page.locator('#phone-error').textContent()).toBeTruthy()
    expect(await page.inputValue('#phone')).toBe('12')
    await page.fill('#phone', '55 1234 5678')
    await Promise.all([page.waitForURL('**/promociones'), page.click('button[type=submit]')])
    await fits(page, 'promociones-codigo')
    await page.fill('#code', h.sms.lastCodeTo('+525512345678'))
    await Promise.all([
      page.waitForURL('**/promociones/verificar'),
      page.click('form[action="/promociones/verificar"] button[type=submit]'),
    ])
    expect(await page.locator('h1').textContent()).toBe('Listo')
    expect(await page.locator('.lead').textContent()).toContain(
      'Este número ya no recibirá promociones',
    )
    await fits(page, 'promociones-listo')
    // Not a customer: nothing to withdraw, and the page said the same as for one.
    expect(withdrawals()).toBe(0)
    await page.context().close()
  })

  it('a returning customer stops promotions from the welcome-back page in one tap', async () => {
    const page = await phone()
    h.clock.advance({ minutes: 20 })
    await page.goto(base + '/')
    await page.fill('#name', 'Lucía Fernández')
    await page.fill('#phone', '55 2345 6789')
    await page.check('#consent')
    await page.check('#marketing')
    await Promise.all([page.waitForURL('**/login'), page.click('button[type=submit]')])
    await page.fill('#code', h.sms.lastCodeTo('+525523456789'))
    await Promise.all([
      page.waitForURL('**/verify'),
      page.click('form[action="/verify"] button[type=submit]'),
    ])
    h.clock.advance({ hours: 30 })
    await page.goto(base + '/')
    expect(await page.locator('h1').textContent()).toContain('Lucía Fernández')
    await fits(page, 'bienvenida')
    await page.click('#opt-out')
    await page.waitForLoadState()
    expect(await page.locator('main').textContent()).toContain('ya no te enviaremos promociones')
    await fits(page, 'bienvenida-sin-promociones')
    expect(withdrawals()).toBe(1)
    await page.context().close()
  })
})
