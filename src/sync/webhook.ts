import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { WebhookSyncConfig } from './config.js'
import { httpCall, outcomeOfStatus, type Batch, type CrmAdapter } from './adapter.js'

/**
 * The generic webhook adapter (default): one HTTPS POST per batch, signed per the Standard
 * Webhooks spec (https://www.standardwebhooks.com/). `webhook-id` is the batch id, stable across
 * retries of the same batch; receivers de-duplicate by each event's `id`.
 */

/** The HMAC key of a `whsec_<base64>` secret. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
}

/**
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, space-separated. The body as
 * the bytes sent, or as text (signed as its UTF-8 bytes).
 */
export function signWebhook(p: {
  id: string
  timestampSeconds: number
  body: string | Buffer
  secrets: readonly string[]
}): string {
  const head = `${p.id}.${p.timestampSeconds}.`
  return p.secrets
    .map(
      (s) =>
        `v1,${createHmac('sha256', secretKey(s)).update(head).update(p.body).digest('base64')}`,
    )
    .join(' ')
}

/**
 * Checks a delivery as a receiver would: any `v1` signature matching any secret, and a timestamp
 * within `toleranceSeconds` of now. Used by tests and shown in docs/crm-webhook.md.
 */
export function verifyWebhook(p: {
  headers: { id: string | null; timestamp: string | null; signature: string | null }
  body: string
  secrets: readonly string[]
  nowSeconds: number
  toleranceSeconds?: number
}): boolean {
  const { id, timestamp, signature } = p.headers
  if (!id || !timestamp || !signature || !/^\d+$/.test(timestamp)) return false
  if (Math.abs(p.nowSeconds - Number(timestamp)) > (p.toleranceSeconds ?? 300)) return false
  const signed = `${id}.${timestamp}.${p.body}`
  const offered = signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'))
  return p.secrets.some((secret) => {
    const expected = createHmac('sha256', secretKey(secret)).update(signed).digest()
    return offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))
  })
}

/** The request body: `{"type":"branchgate.batch","timestamp":…,"data":{"batchId":…,"branchId":…,"events":[…]}}`. */
export function webhookBody(batch: Batch, nowMs: number): string {
  const head = JSON.stringify({
    type: 'branchgate.batch',
    timestamp: new Date(nowMs).toISOString(),
  }).slice(0, -1)
  return `${head},"data":{"batchId":${JSON.stringify(batch.id)},"branchId":${JSON.stringify(batch.branchId)},"events":[${batch.events
    .map((e) => e.json)
    .join(',')}]}}`
}

export function createWebhookAdapter(
  config: WebhookSyncConfig,
  deps: { clock: Clock; timeoutMs: number },
): CrmAdapter {
  return {
    name: 'webhook',
    async deliver(batch) {
      const now = deps.clock.now()
      // Encoded once: the bytes signed are the bytes sent (issue 20: the text was encoded twice).
      const body = Buffer.from(webhookBody(batch, now))
      const timestampSeconds = Math.floor(now / 1000)
      const res = await httpCall(
        config.url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'branchgate-sync/1',
            'webhook-id': batch.id,
            'webhook-timestamp': String(timestampSeconds),
            'webhook-signature': signWebhook({
              id: batch.id,
              timestampSeconds,
              body,
              secrets: config.secrets,
            }),
          },
          body,
        },
        deps.timeoutMs,
        () => deps.clock.now(),
      )
      if (!res.ok) return { kind: 'transient', error: `webhook: ${res.error}`, retryAfterMs: null }
      return outcomeOfStatus(res.status, res.body, res.retryAfterMs, 'webhook')
    },
  }
}
