import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { wireEvent } from '../src/sync/run.js'
import {
  createWebhookAdapter,
  signWebhook,
  verifyWebhook,
  webhookBody,
} from '../src/sync/webhook.js'
import { FakeClock } from './fakes/clock.js'
import { WebhookReceiver } from './fakes/webhook-receiver.js'

// The test vector published with the Standard Webhooks reference libraries.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestampSeconds: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}
const NEW_SECRET = 'whsec_' + Buffer.from('the new secret, 32 bytes long!!!').toString('base64')

let receiver: WebhookReceiver | null = null
afterEach(async () => {
  await receiver?.stop()
  receiver = null
})

describe('Standard Webhooks signing', () => {
  it('reproduces the published test vector', () => {
    expect(
      signWebhook({
        id: VECTOR.id,
        timestampSeconds: VECTOR.timestampSeconds,
        body: VECTOR.body,
        secrets: [VECTOR.secret],
      }),
    ).toBe(VECTOR.signature)
  })

  it('reproduces the published test vector from the bytes sent as from the text', () => {
    expect(
      signWebhook({
        id: VECTOR.id,
        timestampSeconds: VECTOR.timestampSeconds,
        body: Buffer.from(VECTOR.body),
        secrets: [VECTOR.secret],
      }),
    ).toBe(VECTOR.signature)
    // Names are not ASCII: the signature is over their UTF-8 bytes, either way.
    const body = '{"name":"Begoña Núñez 🎉"}'
    const sign = (b: string | Buffer) =>
      signWebhook({ id: 'msg_1', timestampSeconds: 1, body: b, secrets: [VECTOR.secret] })
    expect(sign(Buffer.from(body))).toBe(sign(body))
  })

  it('signs with both secrets during a rotation, so a receiver holding either one accepts', () => {
    const header = signWebhook({
      id: VECTOR.id,
      timestampSeconds: VECTOR.timestampSeconds,
      body: VECTOR.body,
      secrets: [NEW_SECRET, VECTOR.secret],
    })
    const parts = header.split(' ')
    expect(parts).toHaveLength(2)
    expect(parts[1]).toBe(VECTOR.signature)
    for (const secret of [NEW_SECRET, VECTOR.secret]) {
      expect(
        verifyWebhook({
          headers: { id: VECTOR.id, timestamp: String(VECTOR.timestampSeconds), signature: header },
          body: VECTOR.body,
          secrets: [secret],
          nowSeconds: VECTOR.timestampSeconds,
        }),
      ).toBe(true)
    }
  })

  it('refuses a changed body, an old timestamp, or a missing header', () => {
    const headers = {
      id: VECTOR.id,
      timestamp: String(VECTOR.timestampSeconds),
      signature: VECTOR.signature,
    }
    const ok = {
      headers,
      body: VECTOR.body,
      secrets: [VECTOR.secret],
      nowSeconds: VECTOR.timestampSeconds,
    }
    expect(verifyWebhook(ok)).toBe(true)
    expect(verifyWebhook({ ...ok, body: '{"test": 2432232315}' })).toBe(false)
    expect(verifyWebhook({ ...ok, nowSeconds: VECTOR.timestampSeconds + 301 })).toBe(false)
    expect(verifyWebhook({ ...ok, headers: { ...headers, signature: null } })).toBe(false)
  })
})

describe('the webhook adapter', () => {
  it('POSTs the batch as JSON with webhook-id = batch id and a signature the receiver verifies', async () => {
    receiver = await new WebhookReceiver([VECTOR.secret]).start()
    receiver.keepHeaders = true
    const clock = new FakeClock(Date.now())
    const adapter = createWebhookAdapter(
      { type: 'webhook', url: receiver.url, secrets: [VECTOR.secret] },
      { clock, timeoutMs: 30_000 },
    )
    const e = wireEvent({
      seq: 1,
      id: '0190a1b2-0000-7000-8000-000000000001',
      type: 'customer.verified',
      branch_id: 'b1',
      schema_version: 1,
      occurred_at: Date.parse('2026-03-02T15:00:00Z'),
      subject: 'customer:+525512345678',
      payload: '{"customer":{"phone":"+525512345678"}}',
    })
    expect(await adapter.deliver({ id: 'batch_abc', branchId: 'b1', events: [e] })).toEqual({
      kind: 'acked',
    })
    expect(receiver.badSignatures).toBe(0)
    expect(receiver.headers[0]).toMatchObject({
      'webhook-id': 'batch_abc',
      'content-type': 'application/json',
    })
    expect(receiver.accepted).toEqual([
      {
        id: e.id,
        type: 'customer.verified',
        schemaVersion: 1,
        branchId: 'b1',
        occurredAt: '2026-03-02T15:00:00.000Z',
        data: { customer: { phone: '+525512345678' } },
      },
    ])
    // The local ordering key stays local.
    expect(
      webhookBody({ id: 'batch_abc', branchId: 'b1', events: [e] }, clock.now()),
    ).not.toContain('subject')
  })

  it('accepts only https URLs, or http to loopback', () => {
    const cfg = (url: string) =>
      JSON.stringify({ sync: { adapter: { type: 'webhook', url, secrets: [VECTOR.secret] } } })
    expect(loadConfig(cfg('https://crm.example.com/hooks/branchgate')).sync.adapter.type).toBe(
      'webhook',
    )
    expect(loadConfig(cfg('http://127.0.0.1:8090/hook')).sync.adapter.type).toBe('webhook')
    expect(() => loadConfig(cfg('http://crm.example.com/hook'))).toThrow(ConfigError)
    expect(() =>
      loadConfig(
        JSON.stringify({
          sync: { adapter: { type: 'webhook', url: 'https://x.example', secrets: ['hunter2'] } },
        }),
      ),
    ).toThrow(/whsec_/)
    expect(() => loadConfig(JSON.stringify({ sync: { adapter: { type: 'crm9000' } } }))).toThrow(
      /must be one of none, webhook, salesforce/,
    )
    expect(() => loadConfig(JSON.stringify({ sync: { schedule: 'every five minutes' } }))).toThrow(
      /cron/,
    )
    expect(() => loadConfig(JSON.stringify({ sync: { timeoutMs: 10 } }))).toThrow(
      'sync.timeoutMs must be between 50 and 300000, got 10',
    )
    expect(() => loadConfig(JSON.stringify({ sync: { macs: 'sometimes' } }))).toThrow(/sync\.macs/)
    expect(() =>
      loadConfig(
        JSON.stringify({
          sync: { adapter: { type: 'salesforce', loginUrl: 'https://acme.my.salesforce.com' } },
        }),
      ),
    ).toThrow(/sync\.adapter\.clientId is required/)
  })
})
