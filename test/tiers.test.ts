import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type Config } from '../src/config.js'
import { closeDb, openDb } from '../src/db/open.js'
import { smsStatements } from '../src/db/sms.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import type { Mac } from '../src/mac.js'
import { createSmsChain } from '../src/sms/providers.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FAKE_CREDENTIALS, FakeProviders } from './fakes/sms-providers.js'
import { challengeOf, tempDir, wireApp } from './helpers.js'
import { writeFileSync } from 'node:fs'
import { cli } from '../src/cli.js'
import { ConsoleBrowser, OFFICE_IP, PASSWORD } from './console-harness.js'
import { createCustomerDesk } from '../src/console/customers.js'
import { auditStatements } from '../src/db/audit.js'

/**
 * Issue 17 through the portal: access without a code when none can be sent, its upgrade,
 * staff passes, session extension and the daily allowance. The real provider chain (Twilio's
 * client) talks to a local fake Twilio; the gate is dry-run, so every rate it would set is seen.
 */
const fake = new FakeProviders()
beforeAll(() => fake.start())
afterAll(() => fake.stop())

/** Provider tries are recorded once per event-loop turn (src/sms/metrics.ts): let one pass. */
const triesRecorded = () => new Promise((r) => setImmediate(r))

const PHONE = '55 1234 5678'
const E164 = '+525512345678'
const IP = (n: number) => `10.20.0.${n}`
const MAC = (n: number) => `3a:11:22:33:44:${n.toString(16).padStart(2, '0')}` as Mac

function tiersPortal(overrides: Record<string, unknown> = {}) {
  fake.reset()
  const t = tempDir()
  const config: Config = loadConfig(
    JSON.stringify({
      dataDir: t.dir,
      sms: {
        providers: [
          {
            type: 'twilio',
            accountSid: FAKE_CREDENTIALS.twilio.accountSid,
            authToken: FAKE_CREDENTIALS.twilio.authToken,
            from: '+15005550006',
            baseUrl: fake.base,
          },
        ],
        ...((overrides.sms as object) ?? {}),
      },
      gate: {
        backend: 'dry-run',
        rate: { downKbps: 8000, upKbps: 2000 },
        ...(overrides.gate as object),
      },
      ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'sms' && k !== 'gate')),
    }),
    {},
  )
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  const logs: string[] = []
  const log = (l: string) => logs.push(l)
  const neighbours = new FakeNeighbours()
  for (let n = 1; n <= 20; n++) neighbours.set(IP(n), MAC(n))
  const gate = createDryRunGate(clock)
  const app = wireApp({
    config,
    db,
    gate,
    sms: createSmsChain({ config, sms: smsStatements(db), clock, log }),
    neighbours,
    clock,
    secret: Buffer.alloc(32, 7),
    log,
  })
  const request = (p: string, init: RequestInit = {}, n = 1) =>
    app.portal.request(p, init, { incoming: { socket: { remoteAddress: IP(n) } } })
  const post = (p: string, fields: Record<string, string>, n = 1) =>
    request(
      p,
      {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      n,
    )
  const form = (phone = PHONE, name = 'Ana López') => ({ name, phone, consent: 'yes', lang: 'es' })
  const lastCode = () => /#(\d{6})\s*$/.exec(fake.last('twilio').body.Body as string)![1]!
  /** Signs device n in with a code for `phone`. */
  const signIn = async (n: number, phone = PHONE, name = 'Ana López') => {
    // A minute apart: "send again" to one number waits 30 s.
    clock.advance({ minutes: 1 })
    const page = await post('/login', form(phone, name), n)
    expect(page.status).toBe(200)
    const res = await post(
      '/verify',
      { challenge: challengeOf(await page.text()), code: lastCode() },
      n,
    )
    expect(res.status).toBe(200)
    return res
  }
  const audit = (action: string) =>
    db
      .prepare(`SELECT subject, reason, detail FROM audit_log WHERE action = ? ORDER BY id`)
      .all(action) as Array<{ subject: string; reason: string; detail: string }>
  const live = (n: number) => app.access.live(MAC(n))
  const h = {
    app,
    config,
    db,
    clock,
    gate,
    logs,
    request,
    post,
    form,
    signIn,
    audit,
    live,
    close: () => {
      closeDb(db)
      t.remove()
    },
  }
  return h
}

let h: ReturnType<typeof tiersPortal>
afterEach(() => h?.close())

describe('access without a code (the degraded tier)', () => {
  it('is offered after name, number and consent when the providers fail, and lets the device through at tiers.unverified.kbps for tiers.unverified.minutes', async () => {
    h = tiersPortal({ tiers: { unverified: { minutes: 20, kbps: 512 } } })
    fake.mode.twilio = 'down'
    const refused = await h.post('/login', h.form())
    expect(refused.status).toBe(502)
    const html = await refused.text()
    expect(html).toContain('No pudimos enviar el código')
    expect(html).toContain('action="/without-code"')
    expect(html).toContain('Conectarme sin código')
    // What was typed travels with the offer.
    expect(html).toMatch(/name="phone" value="55 1234 5678"/)

    await triesRecorded()
    const res = await h.post('/without-code', h.form())
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Tienes internet sin código hasta las')
    expect(h.gate.calls.at(-1)).toEqual({
      verb: 'letThrough',
      mac: MAC(1),
      until: h.clock.now() + 20 * 60_000,
      rate: { downKbps: 512, upKbps: 512 },
    })
    expect(h.live(1)).toMatchObject({ tier: 'unverified', customer_id: null, down_kbps: 512 })
    // Audited, kept apart from customers, and nothing for the CRM.
    expect(h.audit('unverified.grant')).toEqual([
      { subject: MAC(1), reason: 'providers', detail: expect.stringContaining('"until"') },
    ])
    expect(h.audit('device.allow')[0]).toMatchObject({ reason: 'unverified' })
    expect(h.db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 0 })
    expect(h.db.prepare('SELECT count(*) AS n FROM outbox_events').get()).toEqual({ n: 0 })
    expect(h.db.prepare('SELECT phone_e164, name, mac, why FROM unverified_grants').all()).toEqual([
      { phone_e164: E164, name: 'Ana López', mac: MAC(1), why: 'providers' },
    ])
  })

  it('refuses a forged form while codes can be sent, and lets nobody through', async () => {
    h = tiersPortal()
    const res = await h.post('/without-code', h.form())
    expect(res.status).toBe(409)
    const html = await res.text()
    expect(html).toContain('Ya podemos enviarte un código: pídelo para conectarte.')
    expect(html).toContain('value="Ana López"')
    expect(h.gate.calls).toEqual([])
    expect(h.db.prepare('SELECT count(*) AS n FROM unverified_grants').get()).toEqual({ n: 0 })
  })

  it('refuses a forged form while providers fail, for a device whose own code never failed', async () => {
    h = tiersPortal()
    fake.mode.twilio = 'down'
    expect((await h.post('/login', h.form(), 1)).status).toBe(502)
    await triesRecorded()
    // Device 2 never asked for a code: the providers' state alone is not enough.
    const res = await h.post('/without-code', h.form('55 8765 4321'), 2)
    expect(res.status).toBe(409)
    expect(h.gate.calls).toEqual([])
    // Nor for device 1 with another number than the one whose code failed.
    expect((await h.post('/without-code', h.form('55 8765 4321'), 1)).status).toBe(409)
  })

  it('is offered when the operator paused sending (sms.mode paused), without calling any provider', async () => {
    h = tiersPortal({ sms: { mode: 'paused' } })
    const refused = await h.post('/login', h.form())
    expect(refused.status).toBe(503)
    const html = await refused.text()
    expect(html).toContain('Por ahora esta sucursal no envía códigos')
    expect(html).toContain('action="/without-code"')
    expect(fake.received).toEqual([])
    expect((await h.post('/without-code', h.form())).status).toBe(200)
    expect(h.audit('unverified.grant')[0]!.reason).toBe('paused')
  })

  it('is offered when the daily budget is spent', async () => {
    h = tiersPortal({ sms: { fraud: { dailyBudget: 1 } } })
    await h.signIn(1)
    const refused = await h.post('/login', h.form('55 8765 4321'), 2)
    expect(refused.status).toBe(503)
    expect(await refused.text()).toContain('action="/without-code"')
    expect((await h.post('/without-code', h.form('55 8765 4321'), 2)).status).toBe(200)
    expect(h.audit('unverified.grant')[0]!.reason).toBe('budget')
  })

  it('is given once per device and once per number per day', async () => {
    h = tiersPortal({ sms: { mode: 'paused' } })
    expect((await h.post('/without-code', h.form(PHONE), 1)).status).toBe(200)
    // The same device with another number, another device with the same number: refused.
    const again = await h.post('/without-code', h.form('55 8765 4321'), 1)
    expect(again.status).toBe(409)
    expect(await again.text()).toContain('ya usó hoy la conexión sin código')
    expect((await h.post('/without-code', h.form(PHONE), 2)).status).toBe(409)
    // Once refused, the offer is no longer made to them either.
    expect(await (await h.post('/login', h.form(PHONE), 2)).text()).not.toContain(
      'action="/without-code"',
    )
    // The next local day it may be given again.
    h.clock.advance({ days: 1 })
    expect((await h.post('/without-code', h.form(PHONE), 2)).status).toBe(200)
  })

  it('can be turned off: no offer, and a forged form gets 403', async () => {
    h = tiersPortal({ sms: { mode: 'paused' }, tiers: { unverified: { enabled: false } } })
    expect(await (await h.post('/login', h.form())).text()).not.toContain('without-code')
    const res = await h.post('/without-code', h.form())
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('Esta sucursal no ofrece conexión sin código')
    expect(h.gate.calls).toEqual([])
  })

  it('checks name, number and consent like the splash page does', async () => {
    h = tiersPortal({ sms: { mode: 'paused' } })
    const res = await h.post('/without-code', { name: '', phone: '123', lang: 'es' })
    expect(res.status).toBe(422)
    const html = await res.text()
    expect(html).toContain('Escribe tu nombre.')
    expect(html).toContain('Ese número no parece válido')
    expect(html).toContain('necesitas aceptar los términos')
    expect(h.gate.calls).toEqual([])
  })

  it('upgrades the device from the online page once codes work again, without a gap', async () => {
    h = tiersPortal({ tiers: { unverified: { kbps: 512 } } })
    fake.mode.twilio = 'down'
    await h.post('/login', h.form())
    await triesRecorded()
    expect((await h.post('/without-code', h.form())).status).toBe(200)
    // While codes cannot be sent, the online page says so and offers no verification.
    let page = await (await h.request('/')).text()
    expect(page).toContain('Estás conectado sin código')
    expect(page).not.toContain('action="/upgrade"')

    fake.mode.twilio = 'ok'
    // Providers are judged by their last try: one good send (another customer) clears them.
    await h.signIn(3, '55 1111 2222', 'Beto')
    await triesRecorded()
    page = await (await h.request('/')).text()
    expect(page).toContain('action="/upgrade"')
    expect(page).toContain('+52 55 1234 5678')
    const codePage = await h.post('/upgrade', { lang: 'es' })
    expect(codePage.status).toBe(200)
    const calls = h.gate.calls.length
    const done = await h.post('/verify', {
      challenge: challengeOf(await codePage.text()),
      code: /#(\d{6})\s*$/.exec(fake.last('twilio').body.Body as string)![1]!,
    })
    expect(await done.text()).toContain('¡Listo, Ana López!')
    // One change: the same device, now verified at the verified rate; never cut off between.
    expect(h.gate.calls.slice(calls)).toEqual([
      expect.objectContaining({
        verb: 'letThrough',
        mac: MAC(1),
        rate: { downKbps: 8000, upKbps: 2000 },
      }),
    ])
    expect(h.live(1)).toMatchObject({ tier: 'verified', customer_id: 2 })
    expect(
      h.db
        .prepare('SELECT customer_id, upgraded_at IS NOT NULL AS up FROM unverified_grants')
        .get(),
    ).toEqual({ customer_id: 2, up: 1 })
  })
})

describe('staff passes', () => {
  it('lets one device through for tiers.pass.minutes, at the pass rate, counted as a pass visit', async () => {
    h = tiersPortal({ tiers: { pass: { minutes: 90, downKbps: 4000 } } })
    const pass = h.app.passes.issue({ name: 'Tourist', actor: 'user:ana' })
    expect(pass.code).toMatch(/^[1-9]\d{7}$/)
    expect(pass.display).toBe(`${pass.code.slice(0, 3)} ${pass.code.slice(3)}`)
    expect(h.audit('pass.issue')).toEqual([
      { subject: String(pass.id), reason: null, detail: expect.stringContaining('"minutes":90') },
    ])
    expect(await (await h.request('/')).text()).toContain('href="/pass?lang=es"')
    // Typed as printed, with its space.
    const res = await h.post('/pass', { pass: pass.display, lang: 'es' })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('¡Listo, Tourist!')
    expect(h.gate.calls.at(-1)).toEqual({
      verb: 'letThrough',
      mac: MAC(1),
      until: h.clock.now() + 90 * 60_000,
      rate: { downKbps: 4000, upKbps: 2000 },
    })
    expect(h.live(1)).toMatchObject({ tier: 'pass', pass_id: pass.id, customer_id: null })
    expect(h.db.prepare('SELECT customer_id, pass_id, ended_at FROM visits').all()).toEqual([
      { customer_id: null, pass_id: pass.id, ended_at: null },
    ])
    // The same device again is fine; another device is refused.
    expect((await h.post('/pass', { pass: pass.code, lang: 'es' })).status).toBe(200)
    const other = await h.post('/pass', { pass: pass.code, lang: 'es' }, 2)
    expect(other.status).toBe(409)
    expect(await other.text()).toContain('Ese pase ya se usa en otro dispositivo')
  })

  it('spends a pass after 5 wrong tries at it, and says the same for a wrong and an unknown code', async () => {
    h = tiersPortal()
    const pass = h.app.passes.issue({ actor: 'cli' })
    const wrong = `${pass.code.slice(0, 3)}${String((Number(pass.code.slice(3)) + 1) % 100_000).padStart(5, '0')}`
    const unknown = pass.code.startsWith('999') ? '99800000' : '99900000'
    const texts = new Set<string>()
    for (const [i, code] of [wrong, wrong, unknown, wrong, wrong, wrong].entries()) {
      // Each from its own device: the per-device limit is not what stops this.
      const res = await h.post('/pass', { pass: code, lang: 'es' }, 2 + i)
      expect(res.status).toBe(422)
      texts.add(/role="alert"[^>]*>([^<]+)/.exec(await res.text())![1]!)
    }
    expect([...texts]).toEqual([
      'Ese código de pase no es válido. Revísalo o pide ayuda al personal.',
    ])
    // The right code no longer works: the pass is spent.
    const right = await h.post('/pass', { pass: pass.code, lang: 'es' }, 1)
    expect(right.status).toBe(422)
    expect(h.db.prepare('SELECT status, attempts FROM passes').get()).toEqual({
      status: 'exhausted',
      attempts: 5,
    })
    expect(h.audit('pass.exhausted')).toHaveLength(1)
    expect(h.gate.calls).toEqual([])
  })

  it('limits wrong pass codes per device per hour, and per branch', async () => {
    h = tiersPortal()
    for (let i = 0; i < 5; i++)
      expect((await h.post('/pass', { pass: '12300000', lang: 'es' }, 1)).status).toBe(422)
    const limited = await h.post('/pass', { pass: '12300000', lang: 'es' }, 1)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('3600')
    expect(await limited.text()).toContain('Demasiados intentos con pases desde este teléfono')
    // 30 wrong tries in an hour from anywhere pause pass entry for the branch.
    for (let n = 2; n <= 7; n++)
      for (let i = 0; i < 5; i++) await h.post('/pass', { pass: '12300000', lang: 'es' }, n)
    const branch = await h.post('/pass', { pass: '12300000', lang: 'es' }, 8)
    expect(branch.status).toBe(429)
    expect(await branch.text()).toContain('Demasiados intentos con pases en esta sucursal')
    h.clock.advance({ minutes: 61 })
    expect((await h.post('/pass', { pass: '12300000', lang: 'es' }, 8)).status).toBe(422)
  })

  it('a code of the wrong shape costs no try', async () => {
    h = tiersPortal()
    const res = await h.post('/pass', { pass: '12ab', lang: 'es' })
    expect(res.status).toBe(422)
    expect(await res.text()).toContain('El código del pase tiene 8 dígitos')
    expect(h.db.prepare('SELECT count(*) AS n FROM pass_tries').get()).toEqual({ n: 0 })
  })

  it('cannot be used once revoked, and revoking one in use cuts its device off', async () => {
    h = tiersPortal()
    const a = h.app.passes.issue({ actor: 'cli' })
    const b = h.app.passes.issue({ actor: 'cli' })
    await h.post('/pass', { pass: a.code, lang: 'es' }, 1)
    expect(await h.app.passes.revoke(a.id, 'user:ana')).toBe(true)
    expect(h.gate.calls.at(-1)).toEqual({ verb: 'revoke', mac: MAC(1) })
    expect(await h.app.passes.revoke(b.id, 'user:ana')).toBe(true)
    expect((await h.post('/pass', { pass: b.code, lang: 'es' }, 2)).status).toBe(422)
    expect(h.audit('pass.revoke')).toHaveLength(2)
  })
})

describe('session extension', () => {
  it('is offered in the last session.extend.withinMinutes, once, as can-extend-session says', async () => {
    h = tiersPortal({ session: { hours: 2, extend: { times: 1, minutes: 45, withinMinutes: 20 } } })
    await h.signIn(1)
    const api = async () => JSON.parse(await (await h.request('/api/captive')).text())
    expect((await api())['can-extend-session']).toBe(false)
    expect(await (await h.request('/')).text()).not.toContain('action="/extend"')
    expect((await h.post('/extend', { lang: 'es' })).status).toBe(409)

    h.clock.advance({ minutes: 105 })
    expect((await api())['can-extend-session']).toBe(true)
    expect(await (await h.request('/')).text()).toContain('action="/extend"')
    const until = h.live(1)!.ends_at
    const res = await h.post('/extend', { lang: 'es' })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Listo: tu conexión dura ahora hasta las')
    expect(h.live(1)).toMatchObject({ ends_at: until + 45 * 60_000, extensions: 1 })
    expect(h.gate.calls.at(-1)).toMatchObject({ verb: 'letThrough', until: until + 45 * 60_000 })
    expect(h.audit('device.allow').at(-1)!.reason).toBe('extend')

    h.clock.advance({ minutes: 40 })
    expect((await api())['can-extend-session']).toBe(false)
    expect((await h.post('/extend', { lang: 'es' })).status).toBe(409)
  })

  it('never runs past closing time', async () => {
    // The fake clock starts on a Monday at 09:00 in the branch's zone; the branch closes at 10:31.
    h = tiersPortal({
      session: { hours: 1, extend: { minutes: 120, withinMinutes: 60 } },
      branch: { openingHours: { mon: '09:00-10:31' } },
    })
    await h.signIn(1) // a minute in: until 10:01
    const until = h.live(1)!.ends_at
    expect((await h.post('/extend', { lang: 'es' })).status).toBe(200)
    expect(h.live(1)!.ends_at).toBe(until + 30 * 60_000)
  })
})

describe('the daily allowance', () => {
  const MB = 1_000_000

  it('slows every device of a customer to the floor once their day is used up, and says so on the next page', async () => {
    h = tiersPortal({ gate: { quota: { dailyMB: 100, floorKbps: 300 } } })
    await h.signIn(1)
    await h.signIn(2)
    let api = JSON.parse(await (await h.request('/api/captive')).text())
    expect(api['bytes-remaining']).toBe(100 * MB)
    expect(await (await h.request('/')).text()).toContain('Te quedan 100 MB de datos hoy.')

    // Two devices, one customer: 60 MB on one and 45 MB on the other.
    h.gate.bytes.set(MAC(1), { downBytes: 50 * MB, upBytes: 10 * MB })
    h.gate.bytes.set(MAC(2), { downBytes: 40 * MB, upBytes: 5 * MB })
    const report = await h.app.allowance.sweep(h.clock.now())
    expect(report.counted).toBe(105 * MB)
    expect(report.slowed.sort()).toEqual([MAC(1), MAC(2)])
    expect(h.gate.rates.get(MAC(1))).toEqual({ downKbps: 300, upKbps: 300 })
    expect(h.gate.rates.get(MAC(2))).toEqual({ downKbps: 300, upKbps: 300 })
    expect(h.audit('device.rate').map((a) => a.reason)).toEqual(['quota', 'quota'])
    // Slowed, not cut off.
    expect(h.gate.calls.filter((c) => c.verb === 'revoke')).toEqual([])
    api = JSON.parse(await (await h.request('/api/captive')).text())
    expect(api).toMatchObject({ captive: false, 'bytes-remaining': 0 })

    // Its next plain-HTTP request goes to the portal: probes say captive until it was told.
    expect(h.gate.notices.has(MAC(1))).toBe(true)
    const probe = await h.request('http://captive.apple.com/hotspot-detect.html', {
      headers: { host: 'captive.apple.com' },
    })
    expect(probe.status).toBe(302)
    const told = await (await h.request('/')).text()
    expect(told).toContain('Ya usaste los datos de hoy: sigues conectado, a menor velocidad')
    expect(h.gate.notices.has(MAC(1))).toBe(false)
    expect(h.live(1)!.notice).toBe(0)
    const after = await h.request('http://captive.apple.com/hotspot-detect.html', {
      headers: { host: 'captive.apple.com' },
    })
    expect(after.status).toBe(200)
  })

  it('follows the number, not the MAC: a new device of the same customer starts slowed', async () => {
    h = tiersPortal({ gate: { quota: { dailyMB: 10, floorKbps: 300 } } })
    await h.signIn(1)
    h.gate.bytes.set(MAC(1), { downBytes: 11 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    // A randomised MAC, the same number: the code once, then the floor from the first packet.
    await h.signIn(5)
    expect(h.gate.calls.at(-2)).toMatchObject({
      verb: 'letThrough',
      mac: MAC(5),
      rate: { downKbps: 300, upKbps: 300 },
    })
    expect(h.gate.notices.has(MAC(5))).toBe(true)
    // Another customer is not touched.
    await h.signIn(6, '55 8765 4321', 'Beto')
    expect(h.gate.rates.get(MAC(6))).toEqual({ downKbps: 8000, upKbps: 2000 })
  })

  it('counts only what is new, across a reconnect and a restart, and gives the rate back the next day', async () => {
    h = tiersPortal({ gate: { quota: { dailyMB: 100 } } })
    await h.signIn(1)
    h.gate.bytes.set(MAC(1), { downBytes: 30 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    h.gate.bytes.set(MAC(1), { downBytes: 40 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    expect(h.app.allowance.used('c:1', h.clock.now())).toBe(40 * MB)
    // Cut off and back: the kernel counts from zero again; nothing is counted twice.
    await h.app.access.setDeviceState({
      next: 'blocked',
      mac: MAC(1),
      reason: 'revoke',
      actor: 'cli',
    })
    await h.signIn(1)
    h.gate.bytes.set(MAC(1), { downBytes: 50 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    expect(h.app.allowance.used('c:1', h.clock.now())).toBe(90 * MB)
    // A restart rebuilds the table: counts restart in the kernel, not in the database.
    await h.app.access.rebuildGate()
    h.gate.bytes.set(MAC(1), { downBytes: 20 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    expect(h.app.allowance.used('c:1', h.clock.now())).toBe(110 * MB)
    expect(h.live(1)).toMatchObject({ slowed: 1, down_kbps: 256 })
    // The rebuilt gate got the slowed rate back from the database.
    await h.app.access.rebuildGate()
    expect(h.gate.rates.get(MAC(1))).toEqual({ downKbps: 256, upKbps: 256 })
    // A new local day: its tier's rate again.
    h.clock.advance({ days: 1 })
    await h.app.access.setDeviceState({
      next: 'allowed',
      mac: MAC(1),
      customerId: 1,
      until: h.clock.now() + 3_600_000,
      reason: 'returning',
      actor: 'portal',
    })
    expect(h.gate.rates.get(MAC(1))).toEqual({ downKbps: 8000, upKbps: 2000 })
  })

  it('restores slowed devices when the day turns, through the sweep', async () => {
    h = tiersPortal({ session: { hours: 48 }, gate: { quota: { dailyMB: 10 } } })
    await h.signIn(1)
    h.gate.bytes.set(MAC(1), { downBytes: 20 * MB, upBytes: 0 })
    expect((await h.app.allowance.sweep(h.clock.now())).slowed).toEqual([MAC(1)])
    h.clock.advance({ days: 1 })
    expect((await h.app.allowance.sweep(h.clock.now())).restored).toEqual([MAC(1)])
    expect(h.gate.rates.get(MAC(1))).toEqual({ downKbps: 8000, upKbps: 2000 })
    expect(h.audit('device.rate').map((a) => a.reason)).toEqual(['quota', 'quota-reset'])
  })
})

describe('the console and the CLI (issue 17)', () => {
  /** A manager signed in to the console of `h`. */
  async function manager(name = 'maria') {
    await h.app.consoleAuth.add(name, 'manager', PASSWORD, 'test')
    const origin = `http://127.0.0.1:${h.config.listen.admin.port}`
    const b = new ConsoleBrowser(h.app.admin, OFFICE_IP, origin)
    expect((await b.login(name, PASSWORD)).status).toBe(303)
    return b
  }
  const MB = 1_000_000

  it('issues a pass on /passes: the code shown once (only its HMAC kept), audited, listed, usable on the portal, revocable', async () => {
    h = tiersPortal()
    const b = await manager()
    expect(await (await b.get('/passes')).text()).toContain('No se ha creado ningún pase hoy.')
    // Bad input: one sentence, the input kept, 422.
    const bad = await b.submit('/passes', { name: 'Tom Tourist', minutes: 'muchos' })
    expect(bad.status).toBe(422)
    const badHtml = await bad.text()
    expect(badHtml).toContain('Escribe los minutos como un número entero de 1 a 10080.')
    expect(badHtml).toContain('value="Tom Tourist"')
    expect(h.db.prepare('SELECT count(*) AS n FROM passes').get()).toEqual({ n: 0 })

    const res = await b.submit('/passes', { name: 'Tom Tourist', minutes: '45' })
    expect(res.status).toBe(200)
    const html = await res.text()
    const display = /id="pass-code">(\d{3} \d{5})</.exec(html)?.[1]
    expect(display, html).toBeTruthy()
    const row = h.db.prepare('SELECT * FROM passes').get() as Record<string, unknown>
    expect(row).toMatchObject({ name: 'Tom Tourist', minutes: 45, issued_by: 'user:maria' })
    expect(JSON.stringify(row)).not.toContain(display!.slice(4))
    expect(h.audit('pass.issue')).toHaveLength(1)
    // Shown once: the list has the pass, never its code.
    const list = await (await b.get('/passes')).text()
    expect(list).toContain('Tom Tourist')
    expect(list).toContain('sin usar')
    expect(list).not.toContain(display!)

    expect((await h.post('/pass', { pass: display!, lang: 'es' }, 3)).status).toBe(200)
    expect(h.live(3)).toMatchObject({ tier: 'pass', pass_id: row.id })
    expect(await (await b.get('/passes')).text()).toContain('en uso')

    const revoked = await b.submit(`/passes/${row.id}/revoke`)
    expect(revoked.status).toBe(303)
    expect(h.live(3)).toBeNull()
    expect(h.audit('pass.revoke')).toHaveLength(1)
    expect((await b.submit('/passes/999/revoke')).status).toBe(404)
  })

  it("shows each live device's tier and rate on the customer page, and today's data against the allowance", async () => {
    h = tiersPortal({ gate: { quota: { dailyMB: 100, floorKbps: 300 } } })
    await h.signIn(1)
    const id = h.live(1)!.customer_id!
    h.gate.bytes.set(MAC(1), { downBytes: 25 * MB, upBytes: 5 * MB })
    await h.app.allowance.sweep(h.clock.now())
    const b = await manager()
    let html = await (await b.get(`/customers/${id}`)).text()
    expect(html).toContain('verificado por SMS')
    expect(html).toContain('8000 / 2000 kbit/s')
    expect(html).toMatch(
      /Datos usados hoy: 30[.,]0 MB de 100[.,]0 MB por día \(quedan 70[.,]0 MB\)/,
    )

    h.gate.bytes.set(MAC(1), { downBytes: 100 * MB, upBytes: 10 * MB })
    await h.app.allowance.sweep(h.clock.now())
    html = await (await b.get(`/customers/${id}`)).text()
    expect(html).toContain('300 / 300 kbit/s (reducida: usó los datos del día)')
    expect(html).toMatch(/quedan 0[.,]0 MB/)
  })

  it('counts access without a code, its upgrades, pass visits and passes issued apart on the dashboard', async () => {
    h = tiersPortal({ sms: { mode: 'paused' } })
    expect((await h.post('/without-code', h.form(), 1)).status).toBe(200)
    const pass = h.app.passes.issue({ actor: 'user:maria' })
    h.app.passes.issue({ actor: 'user:maria' })
    expect((await h.post('/pass', { pass: pass.code, lang: 'es' }, 2)).status).toBe(200)
    const b = await manager()
    const html = await (await b.get('/')).text()
    const fig = (id: string) => new RegExp(`id="${id}">([^<]*)<`).exec(html)?.[1]
    expect(fig('fig-without-code')).toBe('1')
    expect(fig('fig-without-code-upgraded')).toBe('0')
    expect(fig('fig-pass-visits')).toBe('1')
    expect(fig('fig-passes-issued')).toBe('2')
    // The pass visit is a visit; access without a code is not.
    expect(fig('fig-visits')).toBe('1')
    expect(fig('fig-customers')).toBe('0')
  })

  it('issues a pass from the command line (branchgate pass), and refuses bad options plainly', async () => {
    h = tiersPortal()
    const file = `${h.config.dataDir}/branchgate.json`
    writeFileSync(file, JSON.stringify({ dataDir: h.config.dataDir }))
    // The install's secret, as the service has it (the portal here runs with 32 bytes of 7).
    writeFileSync(`${h.config.dataDir}/secret.key`, Buffer.alloc(32, 7).toString('hex') + '\n', {
      mode: 0o600,
    })
    const out: string[] = []
    const err: string[] = []
    const run = (...args: string[]) =>
      cli(
        ['pass', ...args, '--config', file],
        { USER: 'ana' },
        {
          out: (l) => out.push(l),
          err: (l) => err.push(l),
        },
      )
    expect(await run('--minutes', '0')).toBe(2)
    expect(err.join('\n')).toContain('--minutes')
    expect(await run('--name', 'Tom', '--minutes', '30')).toBe(0)
    const code = /^pass (\d{3} \d{5}) for Tom$/.exec(out[0]!)?.[1]
    expect(code, out.join('\n')).toBeTruthy()
    expect(out[1]).toContain('one device, 30 minutes')
    expect(h.db.prepare('SELECT name, minutes, issued_by FROM passes').get()).toEqual({
      name: 'Tom',
      minutes: 30,
      issued_by: 'cli:ana',
    })
    expect((await h.post('/pass', { pass: code!, lang: 'es' }, 4)).status).toBe(200)
    expect(h.live(4)!.tier).toBe('pass')
  })
})

// The merge of issue 15 (privacy) with issue 17 (tiers): blocking and retention reach the data
// the tiers keep (grants without a code, bytes per day, the kernel's rates and counters, passes).
describe('tiers and privacy together', () => {
  const MB = 1_000_000

  it('exports the tiers’ data with the customer’s file, and blocking cuts their devices off with their rates, and takes their grants without a code and their daily bytes into the blocked record', async () => {
    h = tiersPortal({ gate: { quota: { dailyMB: 100, floorKbps: 300 } } })
    // The customer's number typed on another device while no code could go: a grant without a code.
    fake.mode.twilio = 'down'
    expect((await h.post('/login', h.form(), 2)).status).toBe(502)
    await triesRecorded()
    expect((await h.post('/without-code', h.form(), 2)).status).toBe(200)
    fake.mode.twilio = 'ok'
    await h.signIn(1)
    const customerId = h.db.prepare(`SELECT id FROM customers`).pluck().get() as number
    expect(h.gate.rates.get(MAC(1))).toEqual({ downKbps: 8000, upKbps: 2000 })
    // A day's bytes counted against the customer's allowance.
    h.gate.bytes.set(MAC(1), { downBytes: 30 * MB, upBytes: 5 * MB })
    await h.app.allowance.sweep(h.clock.now())
    const n = (sql: string) => h.db.prepare(sql).pluck().get() as number
    expect(n(`SELECT count(*) FROM data_usage WHERE holder = 'c:${customerId}'`)).toBe(1)
    expect(n(`SELECT count(*) FROM device_counters WHERE mac = '${MAC(1)}'`)).toBe(1)
    expect(n(`SELECT count(*) FROM unverified_grants`)).toBe(1)

    // The ARCO access file (issue 15) holds what the tiers and arrivals keep about them too.
    const desk = createCustomerDesk({
      db: h.db,
      clock: h.clock,
      audit: auditStatements(h.db),
      erasure: null,
      phoneRules: h.config.phone,
      allowance: h.app.allowance,
    })
    const exported = desk.exportFile(customerId, 'user:root')!
    expect(exported.accessWithoutCode).toMatchObject([{ phone_e164: E164, mac: MAC(2) }])
    expect(exported.dataUsage).toMatchObject([{ bytes: 35 * MB }])
    expect(exported.arrivals).toMatchObject([{ kind: 'new-customer' }])

    expect(await h.app.erasure.block(customerId, { actor: 'user:root', reason: 'request' })).toBe(
      true,
    )
    // Cut off through the one change path: no set entry, no rate, no counts left in the kernel.
    expect(h.live(1)).toBeNull()
    expect(h.gate.rates.has(MAC(1))).toBe(false)
    expect(h.gate.calls.at(-1)).toEqual({ verb: 'revoke', mac: MAC(1) })
    expect(n(`SELECT count(*) FROM data_usage WHERE holder = 'c:${customerId}'`)).toBe(0)
    expect(n(`SELECT count(*) FROM device_counters WHERE mac = '${MAC(1)}'`)).toBe(0)
    expect(n(`SELECT count(*) FROM unverified_grants WHERE phone_e164 = '${E164}'`)).toBe(0)
    // The grant stays as an empty row: the dashboard's count does not change at blocking.
    expect(
      h.db.prepare(`SELECT phone_e164, name, mac, customer_id FROM unverified_grants`).all(),
    ).toEqual([{ phone_e164: '', name: '', mac: 'erased:1', customer_id: null }])
    const record = h.app.erasure.blockedRecord(customerId)!.record as {
      unverifiedGrants: Array<{ phone_e164: string; mac: string }>
      dataUsage: Array<{ bytes: number }>
    }
    expect(record.unverifiedGrants).toMatchObject([{ phone_e164: E164, mac: MAC(2) }])
    expect(record.dataUsage).toMatchObject([{ bytes: 35 * MB }])
    // The device that was theirs is a stranger now: the splash page, no allowance, no extension.
    const page = await (await h.request('/', {}, 1)).text()
    expect(page).toContain('name="consent"')
    expect(page).not.toContain('Te quedan')
  })

  it('the privacy job clears the raw data of the tiers after privacy.retention.rawDeviceDays: grants without a code, pass names and devices, pass tries, bytes per day', async () => {
    h = tiersPortal({
      gate: { quota: { dailyMB: 100 } },
      privacy: { retention: { rawDeviceDays: 10 } },
    })
    fake.mode.twilio = 'down'
    expect((await h.post('/login', h.form('55 8765 4321'), 2)).status).toBe(502)
    await triesRecorded()
    expect((await h.post('/without-code', h.form('55 8765 4321'), 2)).status).toBe(200)
    fake.mode.twilio = 'ok'
    await h.signIn(1)
    h.gate.bytes.set(MAC(1), { downBytes: 10 * MB, upBytes: 0 })
    await h.app.allowance.sweep(h.clock.now())
    const pass = h.app.passes.issue({ actor: 'user:root', name: 'Turista Uno' })
    const typed = async (code: string, n: number) => h.post('/pass', { pass: code, lang: 'es' }, n)
    expect((await typed('99999999', 3)).status).toBeGreaterThanOrEqual(400) // a wrong try
    expect((await typed(pass.code, 4)).status).toBe(200)
    const n = (sql: string) => h.db.prepare(sql).pluck().get() as number
    expect(n(`SELECT count(*) FROM unverified_grants`)).toBe(1)
    expect(n(`SELECT count(*) FROM pass_tries`)).toBe(1)
    expect(n(`SELECT count(*) FROM data_usage`)).toBeGreaterThan(0)
    expect(n(`SELECT count(*) FROM passes WHERE name IS NOT NULL AND mac = '${MAC(4)}'`)).toBe(1)

    h.clock.advance({ days: 5 })
    await h.app.retention.run(h.clock.now())
    expect(n(`SELECT count(*) FROM unverified_grants WHERE phone_e164 <> ''`)).toBe(1) // not yet

    h.clock.advance({ days: 6 })
    const report = await h.app.retention.run(h.clock.now())
    expect(n(`SELECT count(*) FROM unverified_grants WHERE phone_e164 <> '' OR name <> ''`)).toBe(0)
    expect(n(`SELECT count(*) FROM unverified_grants WHERE mac = '${MAC(2)}'`)).toBe(0)
    expect(n(`SELECT count(*) FROM unverified_grants`)).toBe(1) // counted on the dashboard still
    expect(n(`SELECT count(*) FROM pass_tries`)).toBe(0)
    expect(n(`SELECT count(*) FROM data_usage`)).toBe(0)
    expect(n(`SELECT count(*) FROM passes WHERE name IS NOT NULL`)).toBe(0)
    expect(n(`SELECT count(*) FROM passes WHERE mac = '${MAC(4)}'`)).toBe(0)
    expect(n(`SELECT count(*) FROM passes`)).toBe(1) // the row stays: pass visits keep counting
    expect(report.accessRecordsCleared).toBeGreaterThanOrEqual(4)
  })
})
