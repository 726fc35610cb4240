import { afterEach, describe, expect, it } from 'vitest'
import { arrivalStatements } from '../src/db/arrivals.js'
import { osFamilyOf } from '../src/os-family.js'
import { challengeOf, PHONE_IP, portalHarness } from './helpers.js'

// Returning customers on a new address (issue 18): a phone whose Wi-Fi address rotated (iOS 18
// "Rotating", Android's per-network randomisation) arrives with a MAC nobody knows. One code joins
// it to the same customer; the name appears only once the code proved the number; the console
// counts such arrivals per OS family.

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148'
const ANDROID =
  'Mozilla/5.0 (Linux; Android 15; Pixel 8 Build/AP4A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0 Mobile Safari/537.36'
const NUMBER = { typed: '55 1234 5678', e164: '+525512345678' }

let h: ReturnType<typeof portalHarness>
afterEach(() => h?.close())

/** A login from `mac`: the code page's HTML and the welcome page's. */
async function login(mac: string, userAgent: string, name = 'María José Pérez') {
  h.neighbours.set(PHONE_IP, mac)
  const headers = { 'user-agent': userAgent }
  const code = await (
    await h.post('/login', { name, phone: NUMBER.typed, consent: 'yes' }, PHONE_IP, headers)
  ).text()
  const welcome = await (
    await h.post(
      '/verify',
      { challenge: challengeOf(code), code: h.sms.lastCodeTo(NUMBER.e164) },
      PHONE_IP,
      headers,
    )
  ).text()
  return { code, welcome }
}

const arrivals = () =>
  h.db.prepare(`SELECT kind, os_family, customer_id FROM device_arrivals ORDER BY id`).all()

describe('a returning customer on a new address', () => {
  it('joins the new MAC to the same customer with one code, and greets by first name only after the code', async () => {
    h = portalHarness()
    const first = await login('3a:00:00:00:00:01', IPHONE)
    expect(first.welcome).toContain('¡Listo, María José Pérez!')
    h.clock.advance({ days: 15 })

    // The same phone, its address rotated: unknown to the splash page.
    h.neighbours.set(PHONE_IP, '3a:00:00:00:00:02')
    const splash = await (await h.request('/')).text()
    expect(splash).toContain('name="phone"')
    expect(splash).not.toContain('María')

    const again = await login('3a:00:00:00:00:02', IPHONE, 'Maria')
    // Before the code: the code page is the same for a customer's number and a stranger's.
    expect(again.code).not.toContain('María')
    expect(again.code).not.toContain('de nuevo')
    // After it: greeted by the first name of the name just typed.
    expect(again.welcome).toContain('¡Hola de nuevo, Maria!')

    const customers = h.db.prepare(`SELECT id FROM customers`).all()
    expect(customers).toEqual([{ id: 1 }])
    const devices = h.db.prepare(`SELECT mac, customer_id FROM devices ORDER BY mac`).all()
    expect(devices).toEqual([
      { mac: '3a:00:00:00:00:01', customer_id: 1 },
      { mac: '3a:00:00:00:00:02', customer_id: 1 },
    ])
    // One consent per login, both to the notice version in force: no extra consent step.
    const consents = h.db.prepare(`SELECT notice_version FROM consents`).all()
    expect(consents).toEqual([{ notice_version: '2026-01' }, { notice_version: '2026-01' }])
    expect(arrivals()).toEqual([
      { kind: 'new-customer', os_family: 'ios', customer_id: 1 },
      { kind: 'new-address', os_family: 'ios', customer_id: 1 },
    ])
  })

  it('asks for consent again only when the privacy notice changed: a remembered device is then asked to accept it on the welcome-back page', async () => {
    h = portalHarness()
    await login('3a:00:00:00:00:01', IPHONE)
    h.clock.advance({ days: 3 })
    // The notice the customer agreed to is the one in force: one button, no consent box.
    const back = await (await h.request('/')).text()
    expect(back).toContain('action="/welcome-back"')
    expect(back).not.toContain('name="consent"')
    expect(back).not.toContain('name="accept"')
    expect((await h.post('/welcome-back', { lang: 'es' })).status).toBe(200)

    // The branch moved to a new notice (privacy.noticeVersion) since that consent: the merged
    // design keeps privacy's (issue 15) welcome-back page with the new notice and a box to tick,
    // no code, rather than the splash page and a code again.
    h.db.prepare(`UPDATE consents SET notice_version = '2025-06'`).run()
    h.clock.advance({ days: 1 })
    const asked = await (await h.request('/')).text()
    expect(asked).toContain('action="/welcome-back"')
    expect(asked).toContain('name="accept"')
    const refused = await h.post('/welcome-back', { lang: 'es' })
    expect(refused.status).toBe(422)
    expect(await refused.text()).not.toContain('¡Listo')
    expect((await h.post('/welcome-back', { lang: 'es', accept: 'yes' })).status).toBe(200)
    const versions = h.db.prepare(`SELECT notice_version FROM consents ORDER BY id`).pluck().all()
    expect(versions).toEqual(['2025-06', '2026-01'])
    h.clock.advance({ days: 1 })
    const again = await (await h.request('/')).text()
    expect(again).toContain('action="/welcome-back"')
    expect(again).not.toContain('name="accept"')
  })

  it('greets in English too, and tells a code on a known device apart from a new address', async () => {
    h = portalHarness()
    await login('3a:00:00:00:00:01', ANDROID)
    h.clock.advance({ days: 40 }) // past remember.days: a code again, on the same device
    h.neighbours.set(PHONE_IP, '3a:00:00:00:00:01')
    const code = await (
      await h.post(
        '/login',
        { name: 'María', phone: NUMBER.typed, consent: 'yes', lang: 'en' },
        PHONE_IP,
        { 'user-agent': ANDROID },
      )
    ).text()
    const welcome = await (
      await h.post(
        '/verify',
        { challenge: challengeOf(code), code: h.sms.lastCodeTo(NUMBER.e164), lang: 'en' },
        PHONE_IP,
        { 'user-agent': ANDROID },
      )
    ).text()
    expect(welcome).toContain('Welcome back, María!')
    // "Welcome back" with one tap counts as a known device as well.
    h.clock.advance({ days: 1 })
    await h.post('/welcome-back', { lang: 'es' }, PHONE_IP, { 'user-agent': ANDROID })
    expect(arrivals()).toEqual([
      { kind: 'new-customer', os_family: 'android', customer_id: 1 },
      { kind: 'known-device', os_family: 'android', customer_id: 1 },
      { kind: 'known-device', os_family: 'android', customer_id: 1 },
    ])
    const byOs = arrivalStatements(h.db).byOsFamily(0, h.clock.now() + 1)
    expect(byOs.find((r) => r.osFamily === 'android')).toEqual({
      osFamily: 'android',
      returning: 2,
      newAddress: 0,
      newCustomers: 1,
    })
    expect(byOs.map((r) => r.osFamily)).toEqual([
      'ios',
      'android',
      'windows',
      'macos',
      'chromeos',
      'linux',
      'other',
    ])
  })

  it('reads the OS family from the User-Agent of each captive sheet and browser', () => {
    expect(osFamilyOf(IPHONE)).toBe('ios')
    expect(osFamilyOf('CaptiveNetworkSupport-481.0.1 wispr')).toBe('ios')
    expect(osFamilyOf(ANDROID)).toBe('android')
    expect(
      osFamilyOf('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0'),
    ).toBe('windows')
    expect(osFamilyOf('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15')).toBe(
      'macos',
    )
    expect(osFamilyOf('Mozilla/5.0 (X11; CrOS x86_64 15917.71.0) AppleWebKit/537.36')).toBe(
      'chromeos',
    )
    expect(
      osFamilyOf('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'),
    ).toBe('linux')
    expect(osFamilyOf(undefined)).toBe('other')
  })
})
