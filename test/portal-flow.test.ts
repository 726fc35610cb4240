import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PHONE_IP, PHONE_MAC, challengeOf, portalHarness } from './helpers.js'

let h: ReturnType<typeof portalHarness>
beforeEach(() => {
  h = portalHarness()
})
afterEach(() => h.close())

const ANA = { name: '  Ana   López ', phone: '55 1234 5678', consent: 'yes' }

async function startLogin(fields: Record<string, string> = ANA, ip = PHONE_IP) {
  const res = await h.post('/login', fields, ip)
  const html = await res.text()
  return { res, html }
}

describe('the splash page', () => {
  it('shows the form the contract names, in Spanish by default', async () => {
    const res = await h.request('/')
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('<html lang="es-MX">')
    expect(html).toContain('action="/login"')
    for (const field of ['name="name"', 'name="phone"', 'name="consent"', 'name="marketing"'])
      expect(html).toContain(field)
    expect(html).toMatch(/id="marketing" name="marketing" type="checkbox" value="yes">/) // unticked
    expect(html).toContain('Sucursal Demo')
    expect(html).not.toMatch(/https?:\/\/(?!localhost)/) // no CDN, no outside fonts
  })

  it('speaks English when the phone asks for it, and switches by link', async () => {
    const en = await h.request('/', { headers: { 'accept-language': 'en-US,en;q=0.9' } })
    expect(await en.text()).toContain('Text me the code')
    const switched = await h.request('/?lang=es', { headers: { 'accept-language': 'en-US' } })
    expect(await switched.text()).toContain('Enviarme el código')
    expect(switched.headers.get('set-cookie')).toMatch(/bg_lang=es/)
  })

  it('is sent never cached, never framed, with no script allowed', async () => {
    for (const res of [
      await h.request('/'),
      await h.post('/login', { name: '' }),
      await h.request('/nope'),
    ]) {
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    }
  })

  it('shows the branch logo from the config, inline, since there is no internet yet', async () => {
    h.close()
    h = portalHarness({
      branch: { name: 'Sucursal Reforma', logoUrl: 'data:image/png;base64,iVBORw0KGgo=' },
    })
    const html = await (await h.request('/')).text()
    expect(html).toContain(
      '<img class="logo" src="data:image/png;base64,iVBORw0KGgo=" alt="Sucursal Reforma">',
    )
  })

  it('serves one small stylesheet', async () => {
    const res = await h.request('/portal.css')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/css/)
    expect((await res.arrayBuffer()).byteLength).toBeLessThan(8 * 1024)
  })
})

describe('malformed requests', () => {
  it("refuses a form body over 16 KB with 413 and a page in the customer's language", async () => {
    const res = await h.post('/login', { ...ANA, name: 'x'.repeat(20_000) })
    expect(res.status).toBe(413)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(await res.text()).toContain('<html lang="es-MX">')
    expect(h.sms.sent).toHaveLength(0)
  })
})

describe('codes on their way', () => {
  it('counts a code the provider has not answered for yet: a second tap waits, one SMS goes', async () => {
    const release = h.sms.holdAnswers()
    const first = startLogin()
    await h.sms.untilAsked(1)
    const second = await h.post('/login', ANA)
    expect(second.status).toBe(429)
    expect(await second.text()).toContain('value="55 1234 5678"')
    release()
    const { res, html } = await first
    expect(res.status).toBe(200)
    expect(h.sms.sent).toHaveLength(1)
    // Recorded once the provider answered, with who delivered it.
    expect(
      h.db
        .prepare('SELECT id, status, provider, channel, send_failed_at FROM otp_challenges')
        .all(),
    ).toEqual([
      {
        id: challengeOf(html),
        status: 'pending',
        provider: 'fake',
        channel: 'sms',
        send_failed_at: null,
      },
    ])
  })

  it('records a failed send as failed, usable by nobody and counted against nothing', async () => {
    h.sms.failing = true
    expect((await startLogin()).res.status).toBe(502)
    const row = h.db
      .prepare('SELECT status, provider, closed_at, send_failed_at FROM otp_challenges')
      .get()
    expect(row).toEqual({
      status: 'send_failed',
      provider: null,
      closed_at: h.clock.now(),
      send_failed_at: h.clock.now(),
    })
    h.sms.failing = false
    expect((await startLogin()).res.status).toBe(200)
  })
})

describe('the whole flow', () => {
  it('keeps the code usable when the firewall refuses, and records nothing until it accepts', async () => {
    const { html } = await startLogin()
    const code = h.sms.sent.at(-1)!.code
    const letThrough = h.gate.letThrough.bind(h.gate)
    h.gate.letThrough = async () => {
      throw new Error('nft: Could not process rule')
    }
    const refused = await h.post('/verify', { challenge: challengeOf(html), code })
    expect(refused.status).toBe(503)
    const page = await refused.text()
    expect(page).toContain('No pudimos darte acceso en este momento')
    expect(page).toContain(`value="${code}"`)
    expect(h.db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 0 })
    expect(h.db.prepare('SELECT count(*) AS n FROM authorizations').get()).toEqual({ n: 0 })
    expect(h.db.prepare('SELECT status FROM otp_challenges').get()).toEqual({ status: 'pending' })

    h.gate.letThrough = letThrough
    const ok = await h.post('/verify', { challenge: challengeOf(html), code })
    expect(ok.status).toBe(200)
    expect(h.db.prepare('SELECT status FROM otp_challenges').get()).toEqual({ status: 'verified' })
    expect(h.db.prepare('SELECT count(*) AS n FROM authorizations').get()).toEqual({ n: 1 })
  })

  it('texts a code, checks it, lets the device through and records the customer', async () => {
    const { res, html } = await startLogin({ ...ANA, marketing: 'yes' })
    expect(res.status).toBe(200)
    expect(html).toContain('action="/verify"')
    expect(html).toContain('autocomplete="one-time-code"')
    expect(html).toContain('inputmode="numeric"')
    expect(html).toContain('+52 55 1234 5678')
    const sms = h.sms.sent.at(-1)!
    expect(sms.to).toBe('+525512345678')
    expect(sms.text).toMatch(new RegExp(`@localhost #${sms.code}$`))

    const ok = await h.post('/verify', { challenge: challengeOf(html), code: sms.code })
    expect(ok.status).toBe(200)
    const welcome = await ok.text()
    expect(welcome).toContain('¡Listo, Ana López!')
    expect(welcome).toContain('Puedes cerrar esta ventana')

    expect(h.gate.calls).toEqual([
      { verb: 'letThrough', mac: PHONE_MAC, until: h.clock.now() + 8 * 3600_000 },
    ])
    const customer = h.db.prepare('SELECT * FROM customers').get() as any
    expect(customer).toMatchObject({ phone_e164: '+525512345678', name: 'Ana López', locale: 'es' })
    expect(h.db.prepare('SELECT mac, customer_id FROM devices').all()).toEqual([
      { mac: PHONE_MAC, customer_id: customer.id },
    ])
    const consent = h.db.prepare('SELECT * FROM consents').get() as any
    expect(consent).toMatchObject({
      notice_version: '2026-01',
      branch_id: 'demo',
      purposes: '["service","marketing"]',
    })
    expect(h.db.prepare('SELECT mac, ends_at FROM authorizations').all()).toEqual([
      { mac: PHONE_MAC, ends_at: h.clock.now() + 8 * 3600_000 },
    ])
    expect(h.db.prepare('SELECT customer_id, ended_at FROM visits').all()).toEqual([
      { customer_id: customer.id, ended_at: null },
    ])
    const audit = h.db.prepare(`SELECT action, subject, reason FROM audit_log ORDER BY id`).all()
    expect(audit).toEqual([
      { action: 'customer.create', subject: String(customer.id), reason: 'otp' },
      { action: 'device.allow', subject: PHONE_MAC, reason: 'login' },
    ])
  })

  it('never stores the code itself', async () => {
    const { html } = await startLogin()
    const code = h.sms.sent.at(-1)!.code
    const row = h.db
      .prepare('SELECT * FROM otp_challenges WHERE id = ?')
      .get(challengeOf(html)) as any
    expect(JSON.stringify(row)).not.toContain(code)
    expect(row.code_hmac).toMatch(/^[0-9a-f]{64}$/)
  })

  it('records only the service purpose when promotions are left unticked', async () => {
    const { html } = await startLogin()
    await h.post('/verify', { challenge: challengeOf(html), code: h.sms.sent.at(-1)!.code })
    expect(h.db.prepare('SELECT purposes FROM consents').get()).toEqual({ purposes: '["service"]' })
  })

  it('keeps one customer per number across devices and refreshes the name', async () => {
    const first = await startLogin()
    await h.post('/verify', { challenge: challengeOf(first.html), code: h.sms.sent.at(-1)!.code })
    h.neighbours.set('10.20.0.99', '3a:00:00:00:00:99')
    h.clock.advance({ minutes: 1 })
    const second = await startLogin({ ...ANA, name: 'Ana L.' }, '10.20.0.99')
    const ok = await h.post(
      '/verify',
      { challenge: challengeOf(second.html), code: h.sms.sent.at(-1)!.code },
      '10.20.0.99',
    )
    expect(ok.status).toBe(200)
    expect(h.db.prepare('SELECT name FROM customers').all()).toEqual([{ name: 'Ana L.' }])
    expect(
      h.db.prepare('SELECT COUNT(*) AS n FROM devices WHERE customer_id IS NOT NULL').get(),
    ).toEqual({ n: 2 })
  })

  it('answers the Captive Portal API: captive before, time left after', async () => {
    const before = await h.request('/api/captive')
    expect(before.headers.get('content-type')).toBe('application/captive+json')
    expect(before.headers.get('cache-control')).toBe('private')
    expect(await before.json()).toEqual({
      captive: true,
      'user-portal-url': 'http://localhost:8080/',
    })
    const { html } = await startLogin()
    await h.post('/verify', { challenge: challengeOf(html), code: h.sms.sent.at(-1)!.code })
    h.clock.advance({ minutes: 30 })
    expect(await (await h.request('/api/captive')).json()).toEqual({
      captive: false,
      'user-portal-url': 'http://localhost:8080/',
      'seconds-remaining': 7.5 * 3600,
      'can-extend-session': false,
    })
  })

  it('signs in with a number copied from Contacts, invisible direction marks and all', async () => {
    // What iOS puts on the clipboard: the number inside LRO … PDF, with no-break spaces.
    const copied = '\u202d+52\u00a055\u00a01234\u00a05678\u202c'
    const { res, html } = await startLogin({ ...ANA, phone: copied })
    expect(res.status).toBe(200)
    expect(html).toContain('+52 55 1234 5678')
    expect(h.sms.sent.map((m) => m.to)).toEqual(['+525512345678'])
    const ok = await h.post('/verify', { challenge: challengeOf(html), code: h.sms.sent[0]!.code })
    expect(ok.status).toBe(200)
    expect(h.db.prepare('SELECT phone_e164 FROM customers').all()).toEqual([
      { phone_e164: '+525512345678' },
    ])
    // The same person typing the number by hand is the same customer.
    h.clock.advance({ minutes: 1 })
    h.neighbours.set('10.20.0.99', '3a:00:00:00:00:99')
    const again = await startLogin({ ...ANA, phone: '\u2066(55) 1234-5678\u2069' }, '10.20.0.99')
    expect(again.res.status).toBe(200)
    expect(h.sms.sent.map((m) => m.to)).toEqual(['+525512345678', '+525512345678'])
  })

  it('reports its health', async () => {
    const res = await h.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', db: 'ok' })
  })
})

describe('refusals keep what was typed and say why', () => {
  it('a bad phone: 422, the message in Spanish, the name kept', async () => {
    const { res, html } = await startLogin({ ...ANA, phone: '55 1234' })
    expect(res.status).toBe(422)
    expect(html).toContain('Ese número no parece válido')
    expect(html).toContain('value="  Ana   López "')
    expect(html).toContain('value="55 1234"')
    expect(html).toMatch(/id="consent" name="consent" type="checkbox" value="yes" required checked/)
    expect(h.sms.sent).toHaveLength(0)
  })

  it('a region that is not allowed names the allowed ones', async () => {
    const { res, html } = await startLogin({ ...ANA, phone: '+1 212 555 0123' })
    expect(res.status).toBe(422)
    expect(html).toContain('Solo podemos enviar códigos a números de México.')
  })

  it('a number that cannot receive SMS', async () => {
    const { res, html } = await startLogin({ ...ANA, phone: '800 123 4567' })
    expect(res.status).toBe(422)
    expect(html).toContain('Ese número no puede recibir SMS')
  })

  it('a name that renders blank: 422, the message, and no SMS', async () => {
    const { res, html } = await startLogin({ ...ANA, name: '\u3164\u3164' })
    expect(res.status).toBe(422)
    expect(html).toContain('Tu nombre tiene caracteres que no podemos usar.')
    expect(html).toContain('value="55 1234 5678"')
    expect(h.sms.sent).toHaveLength(0)
  })

  it('missing consent', async () => {
    const { res, html } = await startLogin({ name: 'Ana', phone: '5512345678' })
    expect(res.status).toBe(422)
    expect(html).toContain('necesitas aceptar los términos')
    expect(html).toContain('value="5512345678"')
  })

  it('several problems at once are all shown, in English when asked', async () => {
    const { res, html } = await startLogin({ name: '', phone: '', lang: 'en' })
    expect(res.status).toBe(422)
    expect(html).toContain('Please enter your name.')
    expect(html).toContain('Please enter your mobile number.')
    expect(html).toContain('To connect you need to accept')
  })

  it('escapes whatever was typed', async () => {
    const { html } = await startLogin({
      ...ANA,
      name: '<script>alert(1)</script>',
      phone: '"><img src=x>',
    })
    expect(html).not.toContain('<script>alert(1)</script>')
    expect(html).not.toContain('"><img src=x>')
    expect(html).toContain('&lt;script&gt;')
  })

  it('a wrong code: 422 with tries left, the code kept', async () => {
    const { html } = await startLogin()
    const res = await h.post('/verify', {
      challenge: challengeOf(html),
      code: '000000' === h.sms.sent[0]!.code ? '111111' : '000000',
    })
    expect(res.status).toBe(422)
    const page = await res.text()
    expect(page).toContain('Te quedan 4 intentos')
    expect(page).toMatch(/name="code"[^>]*value="(000000|111111)"/)
    expect(h.gate.calls).toHaveLength(0)
  })

  it('a code of the wrong shape does not cost a try', async () => {
    const { html } = await startLogin()
    const res = await h.post('/verify', { challenge: challengeOf(html), code: '12ab' })
    expect(res.status).toBe(422)
    expect(await res.text()).toContain('El código tiene 6 dígitos')
    expect(h.db.prepare('SELECT attempts FROM otp_challenges').get()).toEqual({ attempts: 0 })
  })

  it('an expired code: 410, and the right code no longer works', async () => {
    const { html } = await startLogin()
    h.clock.advance({ minutes: 5 })
    const res = await h.post('/verify', {
      challenge: challengeOf(html),
      code: h.sms.sent.at(-1)!.code,
    })
    expect(res.status).toBe(410)
    expect(await res.text()).toContain('Ese código ya venció')
  })

  it('refuses a sixth try after five wrong ones and asks for a new code', async () => {
    const { html } = await startLogin()
    const challenge = challengeOf(html)
    const right = h.sms.sent.at(-1)!.code
    const wrong = right === '000000' ? '111111' : '000000'
    const statuses: number[] = []
    for (let i = 0; i < 5; i++)
      statuses.push((await h.post('/verify', { challenge, code: wrong })).status)
    expect(statuses).toEqual([422, 422, 422, 422, 429])
    const sixth = await h.post('/verify', { challenge, code: right })
    expect(sixth.status).toBe(429)
    expect(await sixth.text()).toContain('Demasiados intentos con ese código. Pide uno nuevo.')
    expect(h.gate.calls).toHaveLength(0)
  })

  it('a code works once only', async () => {
    const { html } = await startLogin()
    const challenge = challengeOf(html)
    const code = h.sms.sent.at(-1)!.code
    expect((await h.post('/verify', { challenge, code })).status).toBe(200)
    expect((await h.post('/verify', { challenge, code })).status).toBe(410)
  })

  it('a code sent twice at once lets the device through once, and the other is told it is used', async () => {
    const { html } = await startLogin()
    const challenge = challengeOf(html)
    const code = h.sms.sent.at(-1)!.code
    // Both requests have checked the code (it is right, and pending) before either commits: the
    // firewall answers only once both are waiting for it.
    const letThrough = h.gate.letThrough.bind(h.gate)
    let waiting = 0
    let release!: () => void
    const both = new Promise<void>((r) => (release = r))
    h.gate.letThrough = async (...args) => {
      if (++waiting === 2) release()
      await both
      return letThrough(...args)
    }
    const answers = await Promise.all([
      h.post('/verify', { challenge, code }),
      h.post('/verify', { challenge, code }),
    ])
    expect(waiting).toBe(2)
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410])
    expect(h.db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 1 })
    expect(h.db.prepare('SELECT count(*) AS n FROM authorizations').get()).toEqual({ n: 1 })
    expect(h.db.prepare('SELECT count(*) AS n FROM visits').get()).toEqual({ n: 1 })
    expect(h.db.prepare('SELECT status FROM otp_challenges').get()).toEqual({ status: 'verified' })
  })

  it('a code texted for one device cannot be used from another', async () => {
    const { html } = await startLogin()
    h.neighbours.set('10.20.0.66', '3a:00:00:00:00:66')
    const res = await h.post(
      '/verify',
      { challenge: challengeOf(html), code: h.sms.sent.at(-1)!.code },
      '10.20.0.66',
    )
    expect(res.status).toBe(410)
    expect(h.gate.calls).toHaveLength(0)
  })

  it('"send again" too early: 429 with Retry-After; after 30 s a new code replaces the old', async () => {
    const { html } = await startLogin()
    const first = challengeOf(html)
    const oldCode = h.sms.sent.at(-1)!.code
    h.clock.advance({ seconds: 10 })
    const early = await h.post('/resend', { challenge: first })
    expect(early.status).toBe(429)
    expect(early.headers.get('retry-after')).toBe('20')
    expect(await early.text()).toContain('Espera 20 segundos')
    expect(h.sms.sent).toHaveLength(1)

    h.clock.advance({ seconds: 20 })
    const again = await h.post('/resend', { challenge: first })
    expect(again.status).toBe(200)
    const page = await again.text()
    expect(page).toContain('Te enviamos un código nuevo')
    expect(h.sms.sent).toHaveLength(2)
    const second = challengeOf(page)
    expect(second).not.toBe(first)
    if (oldCode !== h.sms.sent[1]!.code) {
      expect((await h.post('/verify', { challenge: first, code: oldCode })).status).toBe(410)
    }
    expect((await h.post('/verify', { challenge: second, code: h.sms.sent[1]!.code })).status).toBe(
      200,
    )
  })

  it('at most 3 codes per number in 15 minutes', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await startLogin()).res.status).toBe(200)
      h.clock.advance({ seconds: 31 })
    }
    const { res, html } = await startLogin()
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(html).toContain('Ya enviamos varios códigos a este número')
    expect(html).toContain('value="55 1234 5678"')
    expect(h.sms.sent).toHaveLength(3)
  })

  it('at most 10 codes per device per hour, whatever the numbers', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await startLogin({ ...ANA, phone: `55 1234 56${10 + i}` })).res.status).toBe(200)
    }
    const { res, html } = await startLogin({ ...ANA, phone: '55 1234 5699' })
    expect(res.status).toBe(429)
    expect(html).toContain('Se han pedido demasiados códigos desde este teléfono')
  })

  it('a daily cap per number', async () => {
    h.close()
    h = portalHarness({ otp: { perNumberPerDay: 4 } })
    for (let i = 0; i < 4; i++) {
      expect((await startLogin()).res.status).toBe(200)
      h.clock.advance({ minutes: 16 })
    }
    const { res, html } = await startLogin()
    expect(res.status).toBe(429)
    expect(html).toContain('Este número ya recibió el máximo de códigos por hoy')
  })

  it('the SMS provider down: 502, a calm sentence, nothing lost, and no limit used up', async () => {
    h.sms.failing = true
    const { res, html } = await startLogin()
    expect(res.status).toBe(502)
    expect(html).toContain('No pudimos enviar el código. Intenta de nuevo en un momento.')
    expect(html).toContain('value="55 1234 5678"')
    expect(h.logs.join('\n')).toMatch(/sms: sending to \+52…78 failed/)
    expect(h.logs.join('\n')).not.toContain('5512345678')
    h.sms.failing = false
    expect((await startLogin()).res.status).toBe(200)
  })

  it('a device the kernel does not know gets a clear page, not a crash', async () => {
    const res = await h.post('/login', ANA, '10.20.0.200')
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('No pudimos reconocer tu dispositivo')
  })

  it('ignores any MAC the client sends', async () => {
    await h.post('/login', { ...ANA, mac: 'aa:aa:aa:aa:aa:aa' }, PHONE_IP, {
      'x-mac': 'aa:aa:aa:aa:aa:aa',
    })
    expect(h.db.prepare('SELECT mac FROM otp_challenges').all()).toEqual([{ mac: PHONE_MAC }])
  })

  it('survives malformed requests', async () => {
    const garbage = await h.request('/login', {
      method: 'POST',
      body: '%%%&&&===',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(garbage.status).toBe(422)
    const json = await h.request('/login', {
      method: 'POST',
      body: '{"name":1}',
      headers: { 'content-type': 'application/json' },
    })
    expect(json.status).toBe(422)
    const huge = await h.request('/login', {
      method: 'POST',
      body: 'name=' + 'a'.repeat(100_000),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(huge.status).toBe(413)
    const noChallenge = await h.post('/verify', { code: '123456' })
    expect(noChallenge.status).toBe(410)
    expect(await noChallenge.text()).toContain('Vuelve a empezar')
    const unknown = await h.request('/nope')
    expect(unknown.status).toBe(404)
  })

  it('refuses a cross-site form post', async () => {
    const res = await h.post('/login', ANA, PHONE_IP, {
      origin: 'https://evil.example',
      host: 'localhost',
    })
    expect(res.status).toBe(403)
    expect(h.sms.sent).toHaveLength(0)
  })
})
