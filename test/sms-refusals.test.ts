import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  loadConfig,
  type InfobipSmsConfig,
  type TwilioSmsConfig,
  type WhatsappSmsConfig,
} from '../src/config.js'
import { RecipientUnreachableError, SMS_FAILURE_KINDS, SmsSendError } from '../src/errors.js'
import { createInfobipSender, INFOBIP_REFUSALS } from '../src/sms/infobip.js'
import type { SmsMessage, SmsSender } from '../src/sms/sender.js'
import { createTwilioSender, TWILIO_REFUSALS } from '../src/sms/twilio.js'
import { createWhatsappSender, WHATSAPP_REFUSALS } from '../src/sms/whatsapp.js'
import { FAKE_CREDENTIALS, FakeProviders, type FakeProvider } from './fakes/sms-providers.js'

const fake = new FakeProviders()
beforeAll(() => fake.start())
afterAll(() => fake.stop())
beforeEach(() => fake.reset())

/** One row of docs/sms.md's table of provider codes. */
interface DocRow {
  provider: FakeProvider
  code: string
  classification: string
}

/** The table in docs/sms.md, "How each provider's refusals are read". */
function documentedRows(): DocRow[] {
  const text = readFileSync(path.join(import.meta.dirname, '..', 'docs', 'sms.md'), 'utf8')
  const rows: DocRow[] = []
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    const provider = { Twilio: 'twilio', Infobip: 'infobip', WhatsApp: 'whatsapp' }[cells[1] ?? '']
    if (!provider) continue
    const classification = /^`(\w+)`/.exec(cells[4] ?? '')?.[1]
    if (!classification) throw new Error(`docs/sms.md: no classification in ${line}`)
    rows.push({ provider: provider as FakeProvider, code: cells[2]!, classification })
  }
  return rows
}

const message: SmsMessage = {
  to: '+525512345678',
  text: 'Tu codigo es 123456.\n\n@portal.example #123456',
  code: '123456',
  locale: 'es',
}

function senderFor(p: FakeProvider): SmsSender {
  const base = { baseUrl: fake.base, timeoutMs: 10_000 }
  const cfg = (c: Record<string, unknown>) =>
    loadConfig(JSON.stringify({ sms: { providers: [{ ...c, ...base }] } })).sms.providers[0]
  switch (p) {
    case 'twilio':
      return createTwilioSender(
        cfg({
          type: 'twilio',
          accountSid: FAKE_CREDENTIALS.twilio.accountSid,
          authToken: FAKE_CREDENTIALS.twilio.authToken,
          from: '+15005550006',
        }) as TwilioSmsConfig,
      )
    case 'infobip':
      return createInfobipSender(
        cfg({ type: 'infobip', apiKey: FAKE_CREDENTIALS.infobip.apiKey }) as InfobipSmsConfig,
      )
    case 'whatsapp':
      return createWhatsappSender(
        cfg({
          type: 'whatsapp',
          phoneNumberId: FAKE_CREDENTIALS.whatsapp.phoneNumberId,
          accessToken: FAKE_CREDENTIALS.whatsapp.accessToken,
          templateName: 'codigo_wifi',
        }) as WhatsappSmsConfig,
      )
  }
}

/** The fake's error for a documented code: a number, or a range's first number, or a name. */
function errorOf(row: DocRow): number | string {
  const range = /^(\d+)–\d+$/.exec(row.code)
  if (range) return Number(range[1])
  return /^\d+$/.test(row.code) ? Number(row.code) : row.code
}

const rows = documentedRows()
const atSendTime = rows.filter((r) => r.classification !== 'receipt')

describe("the documented reading of each provider's refusals", () => {
  it('covers every code the clients know, and uses only the known kinds', () => {
    const documented = (p: FakeProvider) =>
      new Set(rows.filter((r) => r.provider === p).map((r) => r.code))
    for (const code of TWILIO_REFUSALS.keys()) expect(documented('twilio')).toContain(String(code))
    for (const code of INFOBIP_REFUSALS.keys()) expect(documented('infobip')).toContain(code)
    for (const code of WHATSAPP_REFUSALS.keys()) {
      expect(documented('whatsapp')).toContain(String(code))
    }
    for (const r of atSendTime) expect(['number', ...SMS_FAILURE_KINDS]).toContain(r.classification)
    // The codes the issue names are all there.
    for (const code of ['21211', '21214', '21408', '21610', '21612', '21614', '20003', '20404']) {
      expect(documented('twilio')).toContain(code)
    }
    for (const code of ['REJECTED_NETWORK', 'REJECTED_DESTINATION', 'EC_ABSENT_SUBSCRIBER']) {
      expect(documented('infobip')).toContain(code)
    }
    for (const code of ['131026', '131047', '131048', '131056', '131000', '190', '100']) {
      expect(documented('whatsapp')).toContain(code)
    }
  })

  it.each(atSendTime.map((r) => [`${r.provider} ${r.code}`, r] as const))(
    '%s is read as documented',
    async (_, row) => {
      fake.mode[row.provider] = { error: errorOf(row) }
      const err = await senderFor(row.provider)
        .send(message)
        .then(
          () => new Error('the send succeeded'),
          (e: unknown) => e,
        )
      if (row.classification === 'number') {
        expect(err).toBeInstanceOf(RecipientUnreachableError)
      } else {
        expect(err).toBeInstanceOf(SmsSendError)
        expect((err as SmsSendError).kind).toBe(row.classification)
      }
    },
  )

  it('keeps the opt-out from one sender and the unconnectable pair apart from a bad number', () => {
    expect(TWILIO_REFUSALS.get(21610)).toBe('senderRefused')
    expect(TWILIO_REFUSALS.get(21612)).toBe('senderRefused')
    expect(TWILIO_REFUSALS.get(21211)).toBe('number')
    expect(TWILIO_REFUSALS.get(21614)).toBe('number')
  })
})
