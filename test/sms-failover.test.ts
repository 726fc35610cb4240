import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { challengeOf } from './helpers.js'
import { smsHealth } from '../src/sms/status.js'
import { FAKE_CREDENTIALS, FakeProviders } from './fakes/sms-providers.js'
import { smsPortal } from './fakes/sms-portal.js'

const fake = new FakeProviders()
beforeAll(() => fake.start())
afterAll(() => fake.stop())
beforeEach(() => fake.reset())

const twilio = (extra: Record<string, unknown> = {}) => ({
  type: 'twilio',
  accountSid: FAKE_CREDENTIALS.twilio.accountSid,
  authToken: FAKE_CREDENTIALS.twilio.authToken,
  from: '+15005550006',
  baseUrl: fake.base,
  // Long: a provider that answers must never time out on a busy machine; tests of a silent
  // provider give it a short one.
  timeoutMs: 10_000,
  ...extra,
})
const infobip = (extra: Record<string, unknown> = {}) => ({
  type: 'infobip',
  baseUrl: fake.base,
  apiKey: FAKE_CREDENTIALS.infobip.apiKey,
  timeoutMs: 10_000,
  ...extra,
})
const whatsapp = (extra: Record<string, unknown> = {}) => ({
  type: 'whatsapp',
  phoneNumberId: FAKE_CREDENTIALS.whatsapp.phoneNumberId,
  accessToken: FAKE_CREDENTIALS.whatsapp.accessToken,
  templateName: 'codigo_wifi',
  baseUrl: fake.base,
  timeoutMs: 10_000,
  ...extra,
})

let portal: ReturnType<typeof smsPortal>
afterEach(() => portal?.close())

const challengeRow = (id: string) =>
  portal.db
    .prepare('SELECT status, provider, channel FROM otp_challenges WHERE id = ?')
    .get(id) as {
    status: string
    provider: string | null
    channel: string
  }

const afterThisTurn = () => new Promise((r) => setImmediate(r))

describe('failover between providers', () => {
  it('answers with the second provider when the first does not answer, well within 10 seconds', async () => {
    portal = smsPortal({ sms: { providers: [twilio({ timeoutMs: 300 }), infobip()] } })
    fake.mode.twilio = 'hang'
    // Twilio's own timeout (300 ms, in the log below) ended its try, not the 10 s budget.
    const res = await portal.login('55 1234 5678')
    expect(res.status).toBe(200)
    const id = challengeOf(await res.text())
    expect(challengeRow(id)).toMatchObject({
      status: 'pending',
      provider: 'infobip',
      channel: 'sms',
    })
    expect(fake.last('infobip').body.messages[0].destinations[0].to).toBe('525512345678')
    expect(portal.logs).toContainEqual(
      expect.stringMatching(
        /^sms: twilio failed after \d+ ms \(timeout\): no answer within 300 ms$/,
      ),
    )
    await afterThisTurn() // provider tries are written once per event-loop turn
    const stats = smsHealth(portal.db, portal.config, portal.clock.now()).providers
    expect(stats).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ provider: 'twilio', sent: 0, failed: 1 }),
        expect.objectContaining({ provider: 'infobip', sent: 1, failed: 0 }),
      ]),
    )
  })

  it('moves on when the first provider is rate limited', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), infobip()] } })
    fake.mode.twilio = 'rateLimited'
    const res = await portal.login('55 1234 5678')
    expect(res.status).toBe(200)
    expect(challengeRow(challengeOf(await res.text())).provider).toBe('infobip')
  })

  it('gives the customer one answer within the overall budget even when every provider hangs', async () => {
    portal = smsPortal({
      sms: {
        providers: [twilio({ timeoutMs: 5000 }), infobip({ timeoutMs: 5000 })],
        sendBudgetMs: 600,
      },
    })
    fake.mode.twilio = 'hang'
    fake.mode.infobip = 'hang'
    const res = await portal.login('55 1234 5678')
    expect(res.status).toBe(502)
    // The 600 ms budget ended Twilio's 5 s try (the log says which limit fired: what was left of
    // the budget when Twilio's try began, never its own 5 s).
    const line = portal.logs.find((l) => l.startsWith('sms: twilio failed after'))
    const left = Number(/\(timeout\): no answer within (\d+) ms$/.exec(line ?? '')?.[1])
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThanOrEqual(600)
    const html = await res.text()
    expect(html).toContain('No pudimos enviar el código')
    expect(html).toContain('value="55 1234 5678"')
    // Infobip was never reached: the budget was spent on Twilio.
    expect(fake.received.filter((r) => r.provider === 'infobip')).toHaveLength(0)
    const row = portal.db.prepare('SELECT status FROM otp_challenges').get() as { status: string }
    expect(row.status).toBe('send_failed')
  })

  it('does not fail over when the number cannot receive SMS, and says so', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), infobip()] } })
    fake.mode.twilio = 'invalidNumber'
    const res = await portal.login('55 1234 5678')
    expect(res.status).toBe(422)
    const html = await res.text()
    expect(html).toContain('Este número no puede recibir SMS')
    expect(html).not.toContain('Intenta de nuevo en un momento')
    expect(fake.received.filter((r) => r.provider === 'infobip')).toHaveLength(0)
    await afterThisTurn()
    expect(smsHealth(portal.db, portal.config, portal.clock.now()).providers).toEqual([
      expect.objectContaining({ provider: 'twilio', unreachable: 1, failed: 0 }),
    ])
  })

  it.each([
    [21610, 'the customer once replied STOP to that sender'],
    [21612, 'that To/From pair cannot be connected'],
  ])(
    'fails over when Twilio refuses with %i (%s): it is the sender, not the number',
    async (code) => {
      portal = smsPortal({ sms: { providers: [twilio(), infobip()] } })
      fake.mode.twilio = { error: code }
      const res = await portal.login('55 1234 5678')
      expect(res.status).toBe(200)
      const html = await res.text()
      expect(html).not.toContain('Este número no puede recibir SMS')
      expect(challengeRow(challengeOf(html))).toMatchObject({
        status: 'pending',
        provider: 'infobip',
      })
      expect(portal.logs).toContainEqual(
        expect.stringMatching(
          new RegExp(`^sms: twilio failed after \\d+ ms \\(senderRefused\\): HTTP 400: .*${code}`),
        ),
      )
      // Twilio's answer echoes the number: neither the log nor the record keeps it.
      expect(portal.logs.join('\n')).not.toContain('5512345678')
      await afterThisTurn()
      const [health] = smsHealth(portal.db, portal.config, portal.clock.now()).health
      expect(health).toMatchObject({
        provider: 'twilio',
        lastError: { kind: 'senderRefused', at: portal.clock.now() },
        failing: true,
      })
      expect(health!.lastError!.detail).not.toContain('5512345678')
    },
  )

  it('still ends with "this number cannot receive SMS" when the next provider says so', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), infobip()] } })
    fake.mode.twilio = { error: 21610 }
    fake.mode.infobip = 'invalidNumber'
    const res = await portal.login('55 1234 5678')
    expect(res.status).toBe(422)
    expect(await res.text()).toContain('Este número no puede recibir SMS')
    expect(fake.received.map((r) => r.provider)).toEqual(['twilio', 'infobip'])
  })

  it('tells the customer the service is busy when every provider is rate limited', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), infobip()] } })
    fake.mode.twilio = 'rateLimited'
    fake.mode.infobip = 'rateLimited'
    const res = await portal.login('55 1234 5678', 1, 'en')
    expect(res.status).toBe(502)
    expect(await res.text()).toContain('Our messaging service is busy')
  })
})

describe('choosing WhatsApp on the code page', () => {
  it('offers WhatsApp when it is configured and sends the next code there', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), whatsapp()] } })
    const first = await portal.login('55 1234 5678')
    const page = await first.text()
    expect(page).toContain('por SMS al')
    expect(page).toContain('name="channel" value="whatsapp"')
    expect(page).toContain('Enviármelo por WhatsApp')
    expect(fake.received.map((r) => r.provider)).toEqual(['twilio'])

    portal.clock.advance({ seconds: 31 })
    const res = await portal.post('/resend', {
      challenge: challengeOf(page),
      channel: 'whatsapp',
      lang: 'es',
    })
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('por WhatsApp al')
    expect(html).toContain('Te enviamos un código nuevo por WhatsApp')
    expect(html).toContain('Enviármelo por SMS')
    expect(challengeRow(challengeOf(html))).toMatchObject({
      provider: 'whatsapp',
      channel: 'whatsapp',
    })
    expect(fake.last('whatsapp').body.to).toBe('+525512345678')
  })

  it('shows no WhatsApp button without a whatsapp provider, and ignores a forged channel', async () => {
    portal = smsPortal({ sms: { providers: [twilio()] } })
    const page = await (await portal.login('55 1234 5678')).text()
    expect(page).not.toContain('WhatsApp</button>')
    portal.clock.advance({ seconds: 31 })
    const res = await portal.post('/resend', { challenge: challengeOf(page), channel: 'whatsapp' })
    expect(res.status).toBe(200)
    expect(fake.received.map((r) => r.provider)).toEqual(['twilio', 'twilio'])
  })

  it('falls back to SMS when WhatsApp is down, and the page says SMS', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), whatsapp()] } })
    const page = await (await portal.login('55 1234 5678')).text()
    fake.mode.whatsapp = 'down'
    portal.clock.advance({ seconds: 31 })
    const html = await (
      await portal.post('/resend', { challenge: challengeOf(page), channel: 'whatsapp' })
    ).text()
    expect(html).toContain('por SMS al')
    expect(challengeRow(challengeOf(html))).toMatchObject({ provider: 'twilio', channel: 'sms' })
  })

  it('tells the customer to ask by SMS when the number is not on WhatsApp', async () => {
    portal = smsPortal({ sms: { providers: [twilio(), whatsapp()] } })
    const page = await (await portal.login('55 1234 5678')).text()
    fake.mode.whatsapp = 'invalidNumber'
    portal.clock.advance({ seconds: 31 })
    const res = await portal.post('/resend', { challenge: challengeOf(page), channel: 'whatsapp' })
    expect(res.status).toBe(422)
    const html = await res.text()
    expect(html).toContain(
      'Este número no puede recibir mensajes de WhatsApp. Pide el código por SMS.',
    )
    // Still on the code page, where the SMS button is.
    expect(html).toContain('name="channel" value="whatsapp"')
    expect(fake.received.map((r) => r.provider)).toEqual(['twilio', 'whatsapp'])
    // The SMS code sent first still works: a failed resend replaces nothing.
    const code = /#(\d{6})$/.exec(fake.last('twilio').body.Body)![1]!
    const ok = await portal.post('/verify', { challenge: challengeOf(page), code })
    expect(ok.status).toBe(200)
  })
})
