import type { InfobipSmsConfig } from './config.js'
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
 * Infobip's status names of a message it did not accept (groups UNDELIVERABLE and REJECTED,
 * https://www.infobip.com/docs/essentials/api-essentials/response-status-and-error-codes) and
 * the request errors of its answer, with what each means for the chain. docs/sms.md has the
 * table with the reasons; test/sms-refusals.test.ts holds the two together.
 */
export const INFOBIP_REFUSALS: ReadonlyMap<string, Refusal> = new Map<string, Refusal>([
  // The number itself: no operator has that prefix or length; the line refuses service traffic.
  ['REJECTED_DESTINATION', 'number'],
  ['REJECTED_PREFIX_MISSING', 'number'],
  ['REJECTED_DND', 'number'],
  ['UNDELIVERABLE_NOT_DELIVERED', 'number'],
  // This account or sender for this number: no coverage or route set up, the sender ID not
  // registered or blocklisted, the destination blocklisted on this account, a test account
  // limited to one number, the operator refused this traffic.
  ['REJECTED_NETWORK', 'senderRefused'],
  ['REJECTED_ROUTE_NOT_AVAILABLE', 'senderRefused'],
  ['REJECTED_SOURCE', 'senderRefused'],
  ['REJECTED_SENDER', 'senderRefused'],
  ['REJECTED_DESTINATION_BLOCKLISTED', 'senderRefused'],
  ['REJECTED_DESTINATION_NOT_REGISTERED', 'senderRefused'],
  ['UNDELIVERABLE_REJECTED_OPERATOR', 'senderRefused'],
  // No credit.
  ['REJECTED_NOT_ENOUGH_CREDITS', 'noCredit'],
  ['REJECTED_PREPAID_PACKAGE_EXPIRED', 'noCredit'],
  // Throttling: Infobip's per-number flooding filter, or too many requests.
  ['REJECTED_FLOODING_FILTER', 'rateLimited'],
  ['TOO_MANY_REQUESTS', 'rateLimited'],
  // Infobip's own trouble.
  ['REJECTED_SYSTEM_ERROR', 'unavailable'],
  // Our credentials (the request error of a 401).
  ['UNAUTHORIZED', 'credentials'],
])
/** Status groups of an accepted message: PENDING (1), DELIVERED (3). */
const ACCEPTED = new Set([1, 3])

/** What an Infobip answer that is not an accepted message means. */
export function infobipRefusal(a: Pick<ProviderAnswer, 'status' | 'json'>): Refusal {
  const name =
    a.status >= 200 && a.status < 300
      ? String(a.json?.messages?.[0]?.status?.name ?? '')
      : String(a.json?.requestError?.serviceException?.messageId ?? '')
  return INFOBIP_REFUSALS.get(name) ?? refusalOfStatus(a.status)
}

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
      const first = answer.json?.messages?.[0]
      if (
        answer.status >= 200 &&
        answer.status < 300 &&
        ACCEPTED.has(Number(first?.status?.groupId))
      ) {
        return { provider: name, messageId: String(first.messageId ?? ''), channel: 'sms' }
      }
      throw refusalError(name, 'sms', infobipRefusal(answer), excerpt(answer))
    },
  }
}

/**
 * Doctor's read-only check of the API key: the account balance (`GET {baseUrl}/account/1/balance`,
 * `{ balance, currency }`). A balance of 0 or less is reported as no credit.
 */
export async function checkInfobipAccount(
  cfg: InfobipSmsConfig,
  fetchImpl: Fetch = fetch,
  timeoutMs = 5000,
): Promise<AccountCheck> {
  const a = await getFromProvider(
    cfg.name ?? 'infobip',
    new URL('/account/1/balance', cfg.baseUrl).href,
    { authorization: `App ${cfg.apiKey}`, accept: 'application/json' },
    timeoutMs,
    fetchImpl,
  )
  if (a.status !== 200) {
    const refusal = infobipRefusal(a)
    return { ok: false, kind: refusal === 'number' ? 'rejected' : refusal, detail: excerpt(a) }
  }
  const balance = Number(a.json?.balance)
  const shown = `${a.json?.balance} ${a.json?.currency ?? ''}`.trim()
  return Number.isFinite(balance) && balance > 0
    ? { ok: true, detail: `API key accepted, balance ${shown}` }
    : { ok: false, kind: 'noCredit', detail: `API key accepted, but the balance is ${shown}` }
}
