import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  loadConfig,
  type InfobipSmsConfig,
  type TwilioSmsConfig,
  type WhatsappSmsConfig,
} from '../src/config.js'
import { RecipientUnreachableError, SmsSendError } from '../src/errors.js'
import { t } from '../src/i18n/messages.js'
import { createInfobipSender } from '../src/sms/infobip.js'
import type { SmsMessage, SmsSender } from '../src/sms/sender.js'
import { createTwilioSender } from '../src/sms/twilio.js'
import { createWhatsappSender } from '../src/sms/whatsapp.js'
import { FAKE_CREDENTIALS, FakeProviders, type FakeProvider } from './fakes/sms-providers.js'

const fake = new FakeProviders()
beforeAll(() => fake.start())
afterAll(() => fake.stop())
beforeEach(() => fake.reset())

const message: SmsMessage = {
  to: '+525512345678',
  text: 'Tu codigo para el Wi-Fi de Sucursal Centro es 123456.\n\n@portal.example #123456',
  code: '123456',
  locale: 'es',
}

function provider<T>(p: Record<string, unknown>): T {
  return loadConfig(JSON.stringify({ sms: { providers: [p] } })).sms.providers[0] as T
}

const twilio = (extra: Record<string, unknown> = {}) =>
  createTwilioSender(
    provider<TwilioSmsConfig>({
      type: 'twilio',
      accountSid: FAKE_CREDENTIALS.twilio.accountSid,
      authToken: FAKE_CREDENTIALS.twilio.authToken,
      from: '+15005550006',
      baseUrl: fake.base,
      timeoutMs: 10_000,
      ...extra,
    }),
  )
const infobip = (extra: Record<string, unknown> = {}) =>
  createInfobipSender(
    provider<InfobipSmsConfig>({
      type: 'infobip',
      baseUrl: fake.base,
      apiKey: FAKE_CREDENTIALS.infobip.apiKey,
      from: 'Banco',
      timeoutMs: 10_000,
      ...extra,
    }),
  )
const whatsapp = (extra: Record<string, unknown> = {}) =>
  createWhatsappSender(
    provider<WhatsappSmsConfig>({
      type: 'whatsapp',
      phoneNumberId: FAKE_CREDENTIALS.whatsapp.phoneNumberId,
      accessToken: FAKE_CREDENTIALS.whatsapp.accessToken,
      templateName: 'codigo_wifi',
      baseUrl: fake.base,
      timeoutMs: 10_000,
      ...extra,
    }),
  )

const FAKE_KEY = {
  apiKeySid: FAKE_CREDENTIALS.twilio.apiKeySid,
  apiKeySecret: FAKE_CREDENTIALS.twilio.apiKeySecret,
}

async function failure(sender: SmsSender): Promise<unknown> {
  return sender.send(message).then(
    () => {
      throw new Error('expected the send to fail')
    },
    (err: unknown) => err,
  )
}

describe('twilio provider', () => {
  it('posts the documented form with basic auth and returns the message sid', async () => {
    const sent = await twilio().send(message)
    expect(sent).toMatchObject({ provider: 'twilio', channel: 'sms' })
    expect(sent.messageId).toMatch(/^SM[0-9]{32}$/)
    const req = fake.last('twilio')
    expect(req.path).toBe(
      `/2010-04-01/Accounts/${FAKE_CREDENTIALS.twilio.accountSid}/Messages.json`,
    )
    expect(req.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(req.body).toEqual({ To: '+525512345678', From: '+15005550006', Body: message.text })
  })

  it('uses an API key and a Messaging Service when configured that way', async () => {
    const sender = twilio({
      authToken: null,
      apiKeySid: FAKE_CREDENTIALS.twilio.apiKeySid,
      apiKeySecret: FAKE_CREDENTIALS.twilio.apiKeySecret,
      from: null,
      messagingServiceSid: 'MG' + 'c3'.repeat(16),
    })
    expect(await sender.send(message)).toMatchObject({ provider: 'twilio', channel: 'sms' })
    const req = fake.last('twilio')
    expect(req.headers.authorization).toBe(
      `Basic ${Buffer.from(`${FAKE_CREDENTIALS.twilio.apiKeySid}:key-secret`).toString('base64')}`,
    )
    expect(req.body.MessagingServiceSid).toBe('MG' + 'c3'.repeat(16))
    expect(req.body.From).toBeUndefined()
    // A wrong secret gets Twilio's 20003: the credentials, and the next provider is tried.
    const err = await failure(twilio({ authToken: null, ...FAKE_KEY, apiKeySecret: 'wrong' }))
    expect(err).toBeInstanceOf(SmsSendError)
    expect((err as SmsSendError).kind).toBe('credentials')
  })

  it('says the number cannot receive SMS on error 21211, and never says "try again later"', async () => {
    fake.mode.twilio = 'invalidNumber'
    const err = await failure(twilio())
    expect(err).toBeInstanceOf(RecipientUnreachableError)
    const e = err as RecipientUnreachableError
    expect(t('es', e.key)).toMatch(/este número no puede recibir SMS/i)
    expect(t('en', e.key)).toMatch(/cannot receive SMS/)
    expect(t('es', e.key)).not.toMatch(/en un momento/)
    // Twilio echoes the number; what is logged keeps only its last two digits.
    expect(e.detail).toContain("The 'To' number …78 is not a valid phone number")
    expect(e.detail).not.toContain('5512345678')
  })

  it('reports 429 / 20429 as the provider being busy', async () => {
    fake.mode.twilio = 'rateLimited'
    const err = (await failure(twilio())) as SmsSendError
    expect(err).toBeInstanceOf(SmsSendError)
    expect(err.kind).toBe('rateLimited')
    expect(t('es', err.key)).toMatch(/saturado/)
  })

  it('reports a 503 as unavailable and a silent server as a timeout', async () => {
    fake.mode.twilio = 'down'
    expect(((await failure(twilio())) as SmsSendError).kind).toBe('unavailable')
    fake.mode.twilio = 'hang'
    const hung = (await failure(twilio({ timeoutMs: 200 }))) as SmsSendError
    expect(hung.kind).toBe('timeout')
    expect(hung.message).toMatch(/no answer within 200 ms/)
  })

  it('refuses half-set credentials at config time', () => {
    expect(() =>
      loadConfig(
        JSON.stringify({
          sms: {
            providers: [
              {
                type: 'twilio',
                accountSid: FAKE_CREDENTIALS.twilio.accountSid,
                from: '+15005550006',
              },
            ],
          },
        }),
      ),
    ).toThrow(/set either authToken, or apiKeySid and apiKeySecret/)
    expect(() =>
      loadConfig(
        JSON.stringify({
          sms: {
            providers: [
              { type: 'twilio', accountSid: FAKE_CREDENTIALS.twilio.accountSid, authToken: 'x' },
            ],
          },
        }),
      ),
    ).toThrow(/set either from or messagingServiceSid/)
  })
})

describe('infobip provider', () => {
  it('posts the documented JSON with App auth and returns the message id', async () => {
    const sent = await infobip().send(message)
    expect(sent).toMatchObject({
      provider: 'infobip',
      channel: 'sms',
      messageId: expect.stringMatching(/^ib-/),
    })
    const req = fake.last('infobip')
    expect(req.path).toBe('/sms/2/text/advanced')
    expect(req.headers.authorization).toBe(`App ${FAKE_CREDENTIALS.infobip.apiKey}`)
    expect(req.body).toEqual({
      messages: [{ from: 'Banco', destinations: [{ to: '525512345678' }], text: message.text }],
    })
  })

  it('says the number cannot receive SMS when the destination is rejected', async () => {
    fake.mode.infobip = 'invalidNumber'
    const err = await failure(infobip())
    expect(err).toBeInstanceOf(RecipientUnreachableError)
    expect((err as RecipientUnreachableError).key).toBe('error.sms.unreachable')
  })

  it('maps 429 to busy, 500 to unavailable and a bad key to credentials', async () => {
    fake.mode.infobip = 'rateLimited'
    expect(((await failure(infobip())) as SmsSendError).kind).toBe('rateLimited')
    fake.mode.infobip = 'down'
    expect(((await failure(infobip())) as SmsSendError).kind).toBe('unavailable')
    fake.mode.infobip = 'ok'
    expect(((await failure(infobip({ apiKey: 'wrong' }))) as SmsSendError).kind).toBe('credentials')
  })
})

describe('whatsapp provider', () => {
  it('sends the authentication template with the code in the body and the copy-code button', async () => {
    const sent = await whatsapp().send(message)
    expect(sent).toMatchObject({
      provider: 'whatsapp',
      channel: 'whatsapp',
      messageId: expect.stringMatching(/^wamid\./),
    })
    const req = fake.last('whatsapp')
    expect(req.path).toBe(`/v21.0/${FAKE_CREDENTIALS.whatsapp.phoneNumberId}/messages`)
    expect(req.headers.authorization).toBe(`Bearer ${FAKE_CREDENTIALS.whatsapp.accessToken}`)
    expect(req.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+525512345678',
      type: 'template',
      template: {
        name: 'codigo_wifi',
        language: { code: 'es_MX' },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: '123456' }] },
          {
            type: 'button',
            sub_type: 'url',
            index: '0',
            parameters: [{ type: 'text', text: '123456' }],
          },
        ],
      },
    })
  })

  it('uses the template language of the customer locale', async () => {
    await whatsapp().send({ ...message, locale: 'en' })
    expect(fake.last('whatsapp').body.template.language.code).toBe('en_US')
  })

  it('says the number cannot receive WhatsApp on 131026 and suggests SMS', async () => {
    fake.mode.whatsapp = 'invalidNumber'
    const err = (await failure(whatsapp())) as RecipientUnreachableError
    expect(err).toBeInstanceOf(RecipientUnreachableError)
    expect(t('es', err.key)).toMatch(/no puede recibir mensajes de WhatsApp/)
    expect(t('es', err.key)).toMatch(/SMS/)
  })

  it('maps 130429 to busy, 131000 to unavailable and a bad token to credentials', async () => {
    fake.mode.whatsapp = 'rateLimited'
    expect(((await failure(whatsapp())) as SmsSendError).kind).toBe('rateLimited')
    fake.mode.whatsapp = 'down'
    expect(((await failure(whatsapp())) as SmsSendError).kind).toBe('unavailable')
    fake.mode.whatsapp = 'ok'
    expect(((await failure(whatsapp({ accessToken: 'expired' }))) as SmsSendError).kind).toBe(
      'credentials',
    )
  })
})

describe('every provider', () => {
  it.each<FakeProvider>(['twilio', 'infobip', 'whatsapp'])(
    '%s stops when the caller aborts',
    async (p) => {
      fake.mode[p] = 'hang'
      const sender = { twilio, infobip, whatsapp }[p]({ timeoutMs: 5000 })
      const ctl = new AbortController()
      const pending = sender.send(message, { signal: ctl.signal }).catch((e: unknown) => e)
      setTimeout(() => ctl.abort(), 50)
      const err = (await pending) as SmsSendError
      expect(err).toBeInstanceOf(SmsSendError)
      expect(err.kind).toBe('timeout')
    },
  )
})

describe('sms configuration', () => {
  it('names the key and its range when a bound is crossed', () => {
    expect(() => loadConfig(JSON.stringify({ sms: { sendBudgetMs: 20_000 } }))).toThrow(
      'sms.sendBudgetMs must be between 500 and 10000, got 20000',
    )
    expect(() =>
      loadConfig(JSON.stringify({ sms: { fraud: { conversion: { belowFraction: 2 } } } })),
    ).toThrow('sms.fraud.conversion.belowFraction must be between 0 and 1, got 2')
  })

  it('lists the provider types when one is unknown', () => {
    expect(() => loadConfig(JSON.stringify({ sms: { providers: [{ type: 'nexmo' }] } }))).toThrow(
      'must be one of console, http, twilio, infobip, whatsapp, got "nexmo"',
    )
  })
})
