import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers.js'
import { CHROMIUM_LAUNCH, freePort, SERVE_ARGS } from '../net-helpers.js'

// The real server (node --import tsx src/main.ts) in demo mode on free loopback ports, driven by
// Debian's Chromium. Screenshots go to test-artifacts/ (gitignored) for a person to look at.

const ROOT = path.resolve(import.meta.dirname, '../..')
const ARTIFACTS = path.join(ROOT, 'test-artifacts')

let server: ChildProcess
let browser: Browser
let data: ReturnType<typeof tempDir>
let stdout = ''
let portal = ''
let consoleUrl = ''

/** Waits until the server's stdout has a line matching `re` after `from` characters. */
async function waitForOutput(re: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = re.exec(stdout.slice(from))
    if (m) return m
    if (Date.now() > deadline) throw new Error(`no ${re} on the server's stdout:\n${stdout}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  data = tempDir('branchgate-e2e-')
  const [port, adminPort] = [await freePort(), await freePort()]
  portal = `http://127.0.0.1:${port}`
  consoleUrl = `http://127.0.0.1:${adminPort}`
  // Demo mode: no config file, so the console prints a one-time admin password.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    ADMIN_PORT: String(adminPort),
    BRANCHGATE_DATA_DIR: data.dir,
  }
  delete env.BRANCHGATE_CONFIG
  server = spawn(process.execPath, [...SERVE_ARGS], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  server.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const deadline = Date.now() + 30_000
  while (!/console on http/.test(stderr)) {
    if (server.exitCode !== null || Date.now() > deadline)
      throw new Error(`server did not start:\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH, headless: true })
})

afterAll(async () => {
  await browser?.close()
  if (server?.pid && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r))
    process.kill(server.pid, 'SIGTERM')
    await exited
  }
  data?.remove()
})

describe('in a real browser', () => {
  it('takes a customer from the splash page through the code to the welcome page on a phone', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      locale: 'es-MX',
      isMobile: true,
      hasTouch: true,
    })
    const page = await context.newPage()
    await page.goto(portal + '/')
    expect(await page.locator('h1').textContent()).toBe('Wi-Fi para clientes')
    await page.screenshot({ path: path.join(ARTIFACTS, 'portal-1-splash-390.png'), fullPage: true })
    await page.fill('#name', 'Lucía Fernández')
    await page.fill('#phone', '55 1234 5678')
    await page.check('#consent')
    const before = stdout.length
    await Promise.all([page.waitForURL('**/login'), page.click('button[type=submit]')])
    expect(await page.locator('h1').textContent()).toBe('Escribe tu código')
    await page.screenshot({ path: path.join(ARTIFACTS, 'portal-2-code-390.png'), fullPage: true })
    const sms = await waitForOutput(/\[sms\] to=\+525512345678 code=(\d{6})/, before)
    await page.fill('#code', sms[1]!)
    await Promise.all([
      page.waitForURL('**/verify'),
      page.click('form[action="/verify"] button[type=submit]'),
    ])
    expect(await page.locator('h1').textContent()).toBe('¡Listo, Lucía Fernández!')
    await page.screenshot({
      path: path.join(ARTIFACTS, 'portal-3-welcome-390.png'),
      fullPage: true,
    })
    await context.close()
  })

  it('takes a manager from sign-in to the dashboard, the customer page and a CSV export on a laptop', async () => {
    const first = await waitForOutput(/\[console\] user=admin password=(\S+)/)
    const context = await browser.newContext({
      viewport: { width: 1366, height: 768 },
      locale: 'es-MX',
      acceptDownloads: true,
    })
    const page = await context.newPage()
    await page.goto(consoleUrl + '/')
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-1-login-1366.png') })
    await page.fill('#name', 'admin')
    await page.fill('#password', first[1]!)
    await Promise.all([page.waitForURL('**/password'), page.click('button[type=submit]')])
    // The one-time password must be replaced first.
    await page.fill('#current', first[1]!)
    await page.fill('#next', 'clave-nueva-gerencia')
    await page.fill('#again', 'clave-nueva-gerencia')
    await Promise.all([
      page.waitForURL('**/?changed=1'),
      page.click('form[action="/password"] button[type=submit]'),
    ])

    expect(await page.locator('h1').textContent()).toBe('Resumen de visitas')
    expect(await page.locator('#here-h').textContent()).toBe('En la sucursal ahora (1)')
    expect(await page.locator('section[aria-labelledby=here-h] a').textContent()).toBe(
      'Lucía Fernández',
    )
    expect(await page.locator('svg.chart').count()).toBe(3)
    await page.screenshot({
      path: path.join(ARTIFACTS, 'console-2-dashboard-1366.png'),
      fullPage: true,
    })

    await page.click('nav a[href="/customers"]')
    await page.fill('#q', '(55) 1234-5678')
    await Promise.all([page.waitForURL('**/customers?q=*'), page.click('form[role=search] button')])
    await Promise.all([page.waitForURL('**/customers/*'), page.click('#customers a')])
    expect(await page.locator('#customer-name').textContent()).toBe('Lucía Fernández')
    expect(await page.locator('#customer-phone').textContent()).toBe('+52 55 1234 5678')
    expect(await page.locator('#consents tbody tr').count()).toBe(1)
    expect(await page.locator('#devices tbody tr').count()).toBe(1)
    await page.screenshot({
      path: path.join(ARTIFACTS, 'console-3-customer-1366.png'),
      fullPage: true,
    })

    await page.click('nav a[href="/export"]')
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-4-export-1366.png') })
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')])
    expect(download.suggestedFilename()).toMatch(
      /^visits-\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$/,
    )
    const file = path.join(ARTIFACTS, 'console-export.csv')
    await download.saveAs(file)
    const bytes = readFileSync(file)
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const lines = bytes.toString('utf8').slice(1).split('\r\n').filter(Boolean)
    expect(lines[0]).toBe(
      'visita,inicio,fin,ultima_vez_visto,minutos,pasada,personal,cliente_id,nombre,celular,motivo_fin',
    )
    expect(lines).toHaveLength(2)
    // The mobile as spreadsheets keep it (text with its +), see spreadsheetPhone.
    expect(lines[1]).toContain(',Lucía Fernández,"=""+525512345678""",')

    // The audit log tells the sign-in and the export in the manager's language.
    await page.click('nav a[href="/audit"]')
    const audit = await page.locator('#audit').textContent()
    expect(audit).toContain('admin entró a la consola desde 127.0.0.1')
    expect(audit).toContain('admin exportó las visitas del')

    // Same console on a phone.
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(consoleUrl + '/')
    await page.screenshot({
      path: path.join(ARTIFACTS, 'console-5-dashboard-390.png'),
      fullPage: true,
    })
    // Runs in the page; typed loosely because tsconfig has no DOM lib.
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')
    expect(overflow as number).toBeLessThanOrEqual(0)
    await context.close()
  })
})
