import type { TwilioSmsConfig } from './config.js'
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
 * Twilio's error codes in an API answer (https://www.twilio.com/docs/api/errors/NNNNN), and
 * what each means for the chain. Only refusals about the number itself end it; a refusal that
 * belongs to this sender or this account moves on to the next provider. docs/sms.md has the
 * table with the reasons; test/sms-refusals.test.ts holds the two together.
 */
export const TWILIO_REFUSALS: ReadonlyMap<number, Refusal> = new Map<number, Refusal>([
  // The number itself: invalid, cannot be reached, a short code, not a mobile, a landline.
  [21211, 'number'],
  [21214, 'number'],
  [21217, 'number'],
  [21265, 'number'],
  [21614, 'number'],
  [21635, 'number'],
  // This sender for this number: the customer replied STOP to it (21610), the To/From pair
  // cannot be connected (21612), the account may not text that country (21408), the From is
  // not a sender of this account, not SMS-capable or not for this destination (21401, 21407,
  // 21606, 21659, 21661),
  // a trial account (21608), the number is our own sender (21266).
  [21610, 'senderRefused'],
  [21612, 'senderRefused'],
  [21408, 'senderRefused'],
  [21401, 'senderRefused'],
  [21407, 'senderRefused'],
  [21606, 'senderRefused'],
  [21659, 'senderRefused'],
  [21661, 'senderRefused'],
  [21608, 'senderRefused'],
  [21266, 'senderRefused'],
  // Our credentials: refused (20003), or the account SID is not found with them (20404).
  [20003, 'credentials'],
  [20404, 'credentials'],
  // The account is not active: out of funds or suspended.
  [20005, 'noCredit'],
  [10001, 'noCredit'],
  // Throttling: too many requests, send rate, queue of the From number.
  [20429, 'rateLimited'],
  [14107, 'rateLimited'],
  [21611, 'rateLimited'],
  [30022, 'rateLimited'],
])

/** What a Twilio error answer means: its code when Twilio gave a known one, else its status. */
export function twilioRefusal(a: Pick<ProviderAnswer, 'status' | 'json'>): Refusal {
  return TWILIO_REFUSALS.get(Number(a.json?.code)) ?? refusalOfStatus(a.status)
}

function authorizationOf(cfg: TwilioSmsConfig): string {
  const user = cfg.apiKeySid ?? cfg.accountSid
  const password = cfg.apiKeySid ? cfg.apiKeySecret : cfg.authToken
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/**
 * Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, a form
 * with To, From (or MessagingServiceSid) and Body, HTTP Basic auth with the account SID and auth
 * token (or an API key SID and secret). Success is 201 with the message `sid`.
 */
export function createTwilioSender(cfg: TwilioSmsConfig, fetchImpl: Fetch = fetch): SmsSender {
  const name = cfg.name ?? 'twilio'
  const authorization = authorizationOf(cfg)
  const url = new URL(
    `/2010-04-01/Accounts/${encodeURIComponent(cfg.accountSid)}/Messages.json`,
    cfg.baseUrl,
  ).href
  return {
    name,
    channel: 'sms',
    async send(m, options = {}) {
      const form = new URLSearchParams({ To: m.to, Body: m.text })
      if (cfg.messagingServiceSid) form.set('MessagingServiceSid', cfg.messagingServiceSid)
      else form.set('From', cfg.from ?? '')
      const answer = await postToProvider(
        name,
        url,
        {
          headers: {
            authorization,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: form.toString(),
        },
        cfg.timeoutMs,
        options.signal,
        fetchImpl,
      )
      if (answer.status >= 200 && answer.status < 300 && typeof answer.json?.sid === 'string') {
        return { provider: name, messageId: answer.json.sid, channel: 'sms' }
      }
      throw refusalError(name, 'sms', twilioRefusal(answer), excerpt(answer))
    },
  }
}

/**
 * Doctor's read-only check of the credentials: with the auth token, the Account resource
 * (`GET /2010-04-01/Accounts/{sid}.json`), whose `status` says whether the account is active; a
 * Standard API key may not read that resource, so with an API key one page of the message list
 * (`…/Messages.json?PageSize=1`), of which nothing is kept or shown.
 */
export async function checkTwilioAccount(
  cfg: TwilioSmsConfig,
  fetchImpl: Fetch = fetch,
  timeoutMs = 5000,
): Promise<AccountCheck> {
  const sid = encodeURIComponent(cfg.accountSid)
  const path = cfg.apiKeySid
    ? `/2010-04-01/Accounts/${sid}/Messages.json?PageSize=1`
    : `/2010-04-01/Accounts/${sid}.json`
  const a = await getFromProvider(
    cfg.name ?? 'twilio',
    new URL(path, cfg.baseUrl).href,
    { authorization: authorizationOf(cfg), accept: 'application/json' },
    timeoutMs,
    fetchImpl,
  )
  if (a.status !== 200) {
    const refusal = twilioRefusal(a)
    return { ok: false, kind: refusal === 'number' ? 'rejected' : refusal, detail: excerpt(a) }
  }
  if (cfg.apiKeySid) return { ok: true, detail: 'API key accepted' }
  const status = String(a.json?.status ?? '')
  if (status === 'active') return { ok: true, detail: 'credentials accepted, account active' }
  return {
    ok: false,
    kind: status === 'suspended' ? 'noCredit' : 'credentials',
    detail: `the account is ${status || 'in an unknown state'}`,
  }
}
