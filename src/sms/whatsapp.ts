import type { WhatsappSmsConfig } from './config.js'
import {
  excerpt,
  getFromProvider,
  postToProvider,
  refusalError,
  refusalOfStatus,
  type AccountCheck,
  type Fetch,
  type ProviderAnswer,
  type Refusal,
} from './provider-http.js'
import type { SmsSender } from './sender.js'

/**
 * Cloud API error codes (`error.code`, Meta's "WhatsApp error codes",
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/)
 * and what each means for the chain. docs/sms.md has the table with the reasons;
 * test/sms-refusals.test.ts holds the two together. Codes 200–299 (API permission) are
 * credentials too.
 */
export const WHATSAPP_REFUSALS: ReadonlyMap<number, Refusal> = new Map<number, Refusal>([
  // The number cannot get WhatsApp messages: not on WhatsApp, old app, terms not accepted.
  [131026, 'number'],
  // This business number: the 24-hour window (free-form messages only), the recipient is our own
  // number, the account is locked or blocked for a policy, the number is not registered on
  // Cloud API, the business may not message that country.
  [131047, 'senderRefused'],
  [131021, 'senderRefused'],
  [131031, 'senderRefused'],
  [368, 'senderRefused'],
  [133010, 'senderRefused'],
  [130497, 'senderRefused'],
  // Our credentials: the token is invalid or expired, or lacks a permission.
  [0, 'credentials'],
  [190, 'credentials'],
  [3, 'credentials'],
  [10, 'credentials'],
  // Payment: the business account has a payment problem.
  [131042, 'noCredit'],
  // Throttling: API throughput, the number's spam limit, too many to this one recipient.
  [4, 'rateLimited'],
  [80007, 'rateLimited'],
  [130429, 'rateLimited'],
  [131048, 'rateLimited'],
  [131056, 'rateLimited'],
  // Temporary trouble on Meta's side.
  [1, 'unavailable'],
  [2, 'unavailable'],
  [131000, 'unavailable'],
  [131016, 'unavailable'],
  // Our request: an invalid parameter (or phone-number ID), the template's parameters or name.
  [100, 'rejected'],
  [132000, 'rejected'],
  [132001, 'rejected'],
])

/** What a Cloud API error answer means: its code when known, else its HTTP status. */
export function whatsappRefusal(a: Pick<ProviderAnswer, 'status' | 'json'>): Refusal {
  const raw: unknown = a.json?.error?.code
  const code = typeof raw === 'number' ? raw : Number.NaN
  if (code >= 200 && code <= 299) return 'credentials'
  return WHATSAPP_REFUSALS.get(code) ?? refusalOfStatus(a.status)
}

/**
 * WhatsApp Business Cloud API: `POST {baseUrl}/{version}/{phone-number-id}/messages` with a
 * Bearer token, sending the approved authentication template: the code as the body parameter
 * and again as the copy-code button's parameter. Success is 200 with `messages[0].id`.
 */
export function createWhatsappSender(cfg: WhatsappSmsConfig, fetchImpl: Fetch = fetch): SmsSender {
  const name = cfg.name ?? 'whatsapp'
  const url = new URL(
    `/${cfg.apiVersion}/${encodeURIComponent(cfg.phoneNumberId)}/messages`,
    cfg.baseUrl,
  ).href
  return {
    name,
    channel: 'whatsapp',
    async send(m, options = {}) {
      const components: unknown[] = [{ type: 'body', parameters: [{ type: 'text', text: m.code }] }]
      if (cfg.copyCodeButton) {
        components.push({
          type: 'button',
          sub_type: 'url',
          index: '0',
          parameters: [{ type: 'text', text: m.code }],
        })
      }
      const body = {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: m.to,
        type: 'template',
        template: {
          name: cfg.templateName,
          language: { code: cfg.languages[m.locale] },
          components,
        },
      }
      const answer = await postToProvider(
        name,
        url,
        {
          headers: {
            authorization: `Bearer ${cfg.accessToken}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        },
        cfg.timeoutMs,
        options.signal,
        fetchImpl,
      )
      const id = answer.json?.messages?.[0]?.id
      if (answer.status >= 200 && answer.status < 300 && typeof id === 'string') {
        return { provider: name, messageId: id, channel: 'whatsapp' }
      }
      throw refusalError(name, 'whatsapp', whatsappRefusal(answer), excerpt(answer))
    },
  }
}

/**
 * Doctor's read-only check of the token and the phone-number ID:
 * `GET {baseUrl}/{apiVersion}/{phoneNumberId}` with the Bearer token. Only the verified name and
 * the quality rating are shown (never the number).
 */
export async function checkWhatsappAccount(
  cfg: WhatsappSmsConfig,
  fetchImpl: Fetch = fetch,
  timeoutMs = 5000,
): Promise<AccountCheck> {
  const a = await getFromProvider(
    cfg.name ?? 'whatsapp',
    new URL(`/${cfg.apiVersion}/${encodeURIComponent(cfg.phoneNumberId)}`, cfg.baseUrl).href,
    { authorization: `Bearer ${cfg.accessToken}`, accept: 'application/json' },
    timeoutMs,
    fetchImpl,
  )
  if (a.status === 400 && a.json?.error?.code === 100) {
    // Graph's answer for an ID it does not know, or that this token may not read.
    return { ok: false, kind: 'credentials', detail: `phone-number ID not found: ${excerpt(a)}` }
  }
  if (a.status !== 200 || typeof a.json?.id !== 'string') {
    const refusal = whatsappRefusal(a)
    return { ok: false, kind: refusal === 'number' ? 'rejected' : refusal, detail: excerpt(a) }
  }
  const name = typeof a.json.verified_name === 'string' ? `"${a.json.verified_name}"` : 'found'
  const quality =
    typeof a.json.quality_rating === 'string' ? `, quality ${a.json.quality_rating}` : ''
  return { ok: true, detail: `token accepted, phone-number ID ${name}${quality}` }
}
