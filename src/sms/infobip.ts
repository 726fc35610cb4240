import type { InfobipSmsConfig } from '../config.js'
import { RecipientUnreachableError, SmsSendError } from '../errors.js'
import { excerpt, postToProvider, type Fetch } from './provider-http.js'
import type { SmsSender } from './sender.js'

/** Infobip statuses (group REJECTED/UNDELIVERABLE) that mean the number cannot get an SMS. */
const UNREACHABLE = new Set([
  'REJECTED_DESTINATION',
  'REJECTED_INVALID_DESTINATION',
  'REJECTED_PREFIX_MISSING',
  'REJECTED_DESTINATION_NOT_REGISTERED',
  'REJECTED_DND',
  'MISSING_TO',
  'UNDELIVERABLE_NOT_DELIVERED',
])
const THROTTLED = new Set(['REJECTED_FLOODING_FILTER', 'TOO_MANY_REQUESTS'])
/** Status groups of an accepted message: PENDING (1), DELIVERED (3). */
const ACCEPTED = new Set([1, 3])

/**
 * Infobip SMS API: `POST {baseUrl}/sms/2/text/advanced` with `Authorization: App <key>` and a
 * JSON body `{ messages: [{ from, destinations: [{ to }], text }] }`. The answer is 200 with a
 * status per message; a REJECTED status names why (destination, credit, sender...).
 */
export function createInfobipSender(cfg: InfobipSmsConfig, fetchImpl: Fetch = fetch): SmsSender {
  const name = cfg.name ?? 'infobip'
  const url = new URL('/sms/2/text/advanced', cfg.baseUrl).href
  return {
    name,
    channel: 'sms',
    async send(m, options = {}) {
      const message: Record<string, unknown> = {
        // Infobip takes the international number without the plus.
        destinations: [{ to: m.to.replace(/^\+/, '') }],
        text: m.text,
      }
      if (cfg.from) message.from = cfg.from
      const answer = await postToProvider(
        name,
        url,
        {
          headers: {
            authorization: `App ${cfg.apiKey}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({ messages: [message] }),
        },
        cfg.timeoutMs,
        options.signal,
        fetchImpl,
      )
      const why = excerpt(answer)
      if (answer.status >= 200 && answer.status < 300) {
        const first = answer.json?.messages?.[0]
        const status = first?.status
        if (status && ACCEPTED.has(Number(status.groupId))) {
          return { provider: name, messageId: String(first.messageId ?? ''), channel: 'sms' }
        }
        const statusName = String(status?.name ?? '')
        if (UNREACHABLE.has(statusName)) throw new RecipientUnreachableError(name, 'sms', why)
        if (THROTTLED.has(statusName)) throw new SmsSendError(name, why, 'rateLimited')
        throw new SmsSendError(name, why, 'rejected')
      }
      const exception = String(answer.json?.requestError?.serviceException?.messageId ?? '')
      if (answer.status === 429 || THROTTLED.has(exception))
        throw new SmsSendError(name, why, 'rateLimited')
      if (answer.status >= 500) throw new SmsSendError(name, why, 'unavailable')
      throw new SmsSendError(name, why, 'rejected')
    },
  }
}
