import { afterEach, describe, expect, it } from 'vitest'
import { challengeOf, PHONE_IP, PHONE_MAC, portalHarness } from './helpers.js'

type Harness = ReturnType<typeof portalHarness>
let h: Harness
afterEach(() => h?.close())

const PHONE = '55 1234 5678'
const E164 = '+525512345678'

async function signIn(ip = PHONE_IP, name = 'Ana López') {
  const codePage = await h.post('/login', { name, phone: PHONE, consent: 'yes' }, ip)
  expect(codePage.status).toBe(200)
  const challenge = challengeOf(await codePage.text())
  const done = await h.post('/verify', { challenge, code: h.sms.lastCodeTo(E164) }, ip)
  expect(done.status).toBe(200)
  return done
}

const visitsOf = () =>
  h.db
    .prepare(
      `SELECT customer_id, started_at, last_seen_at, ended_at FROM visits ORDER BY started_at`,
    )
    .all() as Array<{
    customer_id: number
    started_at: number
    ended_at: number | null
  }>

describe('returning customers', () => {
  it('welcomes back a device verified within remember.days with one button and sends no SMS', async () => {
    h = portalHarness()
    await signIn()
    h.clock.advance({ days: 29 })
    const first = await h.request('/')
    const html = await first.text()
    expect(html).toContain('Bienvenido de nuevo, Ana López')
    expect(html).toContain('action="/welcome-back"')
    expect(html).toContain('¿No eres tú?')
    expect(html).not.toContain('name="phone"')

    const sent = h.sms.sent.length
    const gateCalls = h.gate.calls.length
    const res = await h.post('/welcome-back', { lang: 'es' })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('¡Listo, Ana López!')
    expect(h.sms.sent.length).toBe(sent)
    expect(h.gate.calls.slice(gateCalls)).toEqual([
      { verb: 'letThrough', mac: PHONE_MAC, until: h.clock.now() + 8 * 3_600_000 },
    ])
    const audit = h.db
      .prepare(`SELECT reason FROM audit_log WHERE action = 'device.allow' ORDER BY id`)
      .all()
    expect(audit).toEqual([{ reason: 'login' }, { reason: 'returning' }])
    // a new day, a new visit for the same customer
    expect(visitsOf().map((v) => v.customer_id)).toEqual([1, 1])
  })

  it('shows the welcome in English too', async () => {
    h = portalHarness()
    await signIn()
    // Once the session is over (a device still through sees what it has: the online page).
    h.clock.advance({ days: 1 })
    const res = await h.request('/?lang=en')
    expect(await res.text()).toContain('Welcome back, Ana López')
  })

  it('asks for a code again once remember.days have passed, keeping the name', async () => {
    h = portalHarness()
    await signIn()
    h.clock.advance({ days: 31 })
    const html = await (await h.request('/')).text()
    expect(html).not.toContain('Bienvenido de nuevo')
    expect(html).toContain('name="phone"')
    expect(html).toContain('value="Ana López"')
    // and the button no longer works either
    const res = await h.post('/welcome-back', { lang: 'es' })
    expect(await res.text()).toContain('name="phone"')
    expect(h.gate.calls.filter((c) => c.verb === 'letThrough')).toHaveLength(1)
  })

  it('asks for a code again after reverify.days since the number was last verified, even on a remembered device', async () => {
    h = portalHarness({ remember: { days: 365 }, reverify: { days: 180 } })
    await signIn()
    h.clock.advance({ days: 179 })
    expect(await (await h.request('/')).text()).toContain('Bienvenido de nuevo')
    h.clock.advance({ days: 2 })
    expect(await (await h.request('/')).text()).not.toContain('Bienvenido de nuevo')
  })

  it('starts a fresh login from the "not you?" link', async () => {
    h = portalHarness()
    await signIn()
    const html = await (await h.request('/?fresh=1')).text()
    expect(html).toContain('name="phone"')
    expect(html).not.toContain('value="Ana López"')
  })

  it('asks a new device of a known number for the code once, then joins it to the same customer', async () => {
    h = portalHarness()
    await signIn()
    const OTHER_IP = '10.20.0.16'
    const OTHER_MAC = '3a:11:22:33:44:66'
    h.neighbours.set(OTHER_IP, OTHER_MAC)
    h.clock.advance({ minutes: 5 })
    expect(await (await h.request('/', {}, OTHER_IP)).text()).toContain('name="phone"')
    await signIn(OTHER_IP)
    const customers = h.db.prepare(`SELECT id FROM customers`).all()
    expect(customers).toEqual([{ id: 1 }])
    const devices = h.db
      .prepare(
        `SELECT mac, customer_id, first_seen_at, last_seen_at FROM devices ORDER BY first_seen_at`,
      )
      .all()
    expect(devices).toEqual([
      {
        mac: PHONE_MAC,
        customer_id: 1,
        first_seen_at: h.clock.now() - 5 * 60_000,
        last_seen_at: h.clock.now() - 5 * 60_000,
      },
      { mac: OTHER_MAC, customer_id: 1, first_seen_at: h.clock.now(), last_seen_at: h.clock.now() },
    ])
    // both devices, one visit
    expect(visitsOf()).toHaveLength(1)
    // Through now, it is told so by name (and welcomed back once its session is over).
    expect(await (await h.request('/', {}, OTHER_IP)).text()).toContain(
      'Ya tienes internet, Ana López',
    )
    h.clock.advance({ days: 1 })
    expect(await (await h.request('/', {}, OTHER_IP)).text()).toContain('Bienvenido de nuevo')
  })

  it('lets a staff device through without the portal and opens no visit', async () => {
    h = portalHarness({ staffMacs: [PHONE_MAC.toUpperCase()] })
    const res = await h.request('/')
    const html = await res.text()
    expect(html).toContain('Dispositivo del personal')
    expect(html).not.toContain('name="phone"')
    expect(h.gate.calls).toEqual([
      { verb: 'letThrough', mac: PHONE_MAC, until: h.clock.now() + 24 * 3_600_000 },
    ])
    expect(visitsOf()).toEqual([])
    // seen again soon after: nothing to renew
    await h.request('/')
    expect(h.gate.calls).toHaveLength(1)
  })

  it('looks the device up only once per first page', async () => {
    h = portalHarness()
    await signIn()
    let lookups = 0
    const original = h.neighbours.macFor.bind(h.neighbours)
    h.neighbours.macFor = async (ip: string) => {
      lookups++
      return original(ip)
    }
    await h.request('/')
    expect(lookups).toBe(1)
  })

  it('shows the splash page to a device the kernel does not know', async () => {
    h = portalHarness()
    const html = await (await h.request('/', {}, '10.20.0.99')).text()
    expect(html).toContain('name="phone"')
  })
})

describe('session policy at login', () => {
  it('cuts access at the closing time when opening hours are set', async () => {
    // FakeClock starts 2026-03-02T15:00Z, a Monday, 09:00 in Mexico City
    h = portalHarness({ branch: { openingHours: { mon: '08:30-13:00,15:00-18:00' } } })
    await signIn()
    const allow = h.gate.calls.find((c) => c.verb === 'letThrough')!
    expect(allow.until).toBe(Date.parse('2026-03-02T19:00:00Z'))
  })

  it('gives session.hours outside opening hours', async () => {
    h = portalHarness({ branch: { openingHours: { tue: '09:00-17:00' } }, session: { hours: 2 } })
    await signIn()
    const allow = h.gate.calls.find((c) => c.verb === 'letThrough')!
    expect(allow.until).toBe(h.clock.now() + 2 * 3_600_000)
  })
})
