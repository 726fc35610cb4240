import type { WhatsappSmsConfig } from '../config.js'
import { RecipientUnreachableError, SmsSendError } from '../errors.js'
import { excerpt, postToProvider, type Fetch } from './provider-http.js'
import type { SmsSender } from './sender.js'

/**
 * Cloud API error codes that mean the number cannot get the message: 131026 undeliverable (not
 * on WhatsApp, old app, terms not accepted), 131021 recipient is the sender itself.
 */
const UNREACHABLE = new Set([131026, 131021])
/** 4 / 80007 / 130429 throughput limits, 131048 spam rate limit, 131056 pair rate limit. */
const THROTTLED = new Set([4, 80007, 130429, 131048, 131056])
/** 1, 2, 131000, 131016: temporary trouble on Meta's side. */
const TEMPORARY = new Set([1, 2, 131000, 131016])

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
      const code = Number(answer.json?.error?.code)
      const why = excerpt(answer)
      if (UNREACHABLE.has(code)) throw new RecipientUnreachableError(name, 'whatsapp', why)
      if (answer.status === 429 || THROTTLED.has(code))
        throw new SmsSendError(name, why, 'rateLimited')
      if (answer.status >= 500 || TEMPORARY.has(code))
        throw new SmsSendError(name, why, 'unavailable')
      throw new SmsSendError(name, why, 'rejected')
    },
  }
}
