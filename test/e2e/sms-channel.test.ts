import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAKE_CREDENTIALS, FakeProviders } from '../fakes/sms-providers.js'
import { tempDir } from '../helpers.js'
import { CHROMIUM_LAUNCH, freePort, SERVE_ARGS } from '../net-helpers.js'

/**
 * The real server process, its real provider clients against the local fake providers, and
 * Chromium with JavaScript off (as in the most limited captive sheets): the customer gets an
 * SMS, asks for the code by WhatsApp instead, types it and is online.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const fake = new FakeProviders()
const t = tempDir('branchgate-e2e-sms-')
let server: ChildProcess
let browser: Browser
let portalUrl = ''
let output = ''

beforeAll(async () => {
  await fake.start()
  const [portal, admin] = [await freePort(), await freePort()]
  const config = path.join(t.dir, 'branchgate.json')
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: t.dir,
      publicUrl: `http://127.0.0.1:${portal}`,
      listen: {
        portal: { host: '127.0.0.1', port: portal },
        admin: { host: '127.0.0.1', port: admin },
      },
      otp: { resendAfterSeconds: 0 },
      sms: {
        providers: [
          {
            type: 'twilio',
            accountSid: FAKE_CREDENTIALS.twilio.accountSid,
            authToken: FAKE_CREDENTIALS.twilio.authToken,
            from: '+15005550006',
            baseUrl: fake.base,
          },
          {
            type: 'whatsapp',
            phoneNumberId: FAKE_CREDENTIALS.whatsapp.phoneNumberId,
            accessToken: FAKE_CREDENTIALS.whatsapp.accessToken,
            templateName: 'codigo_wifi',
            baseUrl: fake.base,
          },
        ],
      },
    }),
  )
  server = spawn(process.execPath, [...SERVE_ARGS, '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  server.stdout!.on('data', (d) => (output += d))
  server.stderr!.on('data', (d) => (output += d))
  portalUrl = `http://127.0.0.1:${portal}`
  const until = Date.now() + 20_000
  for (;;) {
    try {
      if ((await fetch(`${portalUrl}/healthz`)).ok) break
    } catch {
      if (Date.now() > until) throw new Error(`server did not start:\n${output}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  browser = await chromium.launch(CHROMIUM_LAUNCH)
})

afterAll(async () => {
  await browser?.close()
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r))
    server.kill('SIGTERM')
    await exited
  }
  await fake.stop()
  t.remove()
})

describe('choosing WhatsApp in a browser without JavaScript', () => {
  it('sends by SMS, then by WhatsApp on request, and the WhatsApp code lets the phone in', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, locale: 'es-MX' })
    const page = await context.newPage()
    await page.goto(portalUrl + '/')
    await page.fill('#name', 'Ana López')
    await page.fill('#phone', '55 1234 5678')
    await page.check('#consent')
    await page.click('form[action="/login"] button[type="submit"]')
    await expect.poll(() => page.textContent('p.lead')).toContain('por SMS al +52 55 1234 5678')
    expect(fake.last('twilio').body.To).toBe('+525512345678')

    await page.click('button:has-text("Enviármelo por WhatsApp")')
    await expect
      .poll(() => page.textContent('p.lead'))
      .toContain('por WhatsApp al +52 55 1234 5678')
    expect(await page.textContent('[role=status]')).toContain(
      'Te enviamos un código nuevo por WhatsApp',
    )
    const sent = fake.last('whatsapp').body
    expect(sent.template.name).toBe('codigo_wifi')
    const code = sent.template.components[0].parameters[0].text as string

    await page.fill('#code', code)
    await page.click('form[action="/verify"] button[type="submit"]')
    await expect.poll(() => page.textContent('h1')).toContain('¡Listo, Ana López!')
    await context.close()
  })
})
