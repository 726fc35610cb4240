import type { TwilioSmsConfig } from '../config.js'
import { RecipientUnreachableError, SmsSendError } from '../errors.js'
import { excerpt, postToProvider, type Fetch } from './provider-http.js'
import type { SmsSender } from './sender.js'

/**
 * Twilio error codes that mean the number itself cannot get an SMS: 21211 invalid 'To',
 * 21214 'To' cannot be reached, 21217 not valid, 21401 invalid number, 21407 type does not
 * support SMS, 21610 the recipient replied STOP, 21612 not reachable via SMS, 21614 not a mobile.
 */
const UNREACHABLE = new Set([21211, 21214, 21217, 21401, 21407, 21610, 21612, 21614])
/** 20429 too many requests; 14107 / 30022 sending rate limits. */
const THROTTLED = new Set([20429, 14107, 30022])

/**
 * Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, a form
 * with To, From (or MessagingServiceSid) and Body, HTTP Basic auth with the account SID and auth
 * token (or an API key SID and secret). Success is 201 with the message `sid`.
 */
export function createTwilioSender(cfg: TwilioSmsConfig, fetchImpl: Fetch = fetch): SmsSender {
  const name = cfg.name ?? 'twilio'
  const user = cfg.apiKeySid ?? cfg.accountSid
  const password = cfg.apiKeySid ? cfg.apiKeySecret : cfg.authToken
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
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
      const code = Number(answer.json?.code)
      const why = `${excerpt(answer)}`
      if (UNREACHABLE.has(code)) throw new RecipientUnreachableError(name, 'sms', why)
      if (answer.status === 429 || THROTTLED.has(code))
        throw new SmsSendError(name, why, 'rateLimited')
      if (answer.status >= 500) throw new SmsSendError(name, why, 'unavailable')
      throw new SmsSendError(name, why, 'rejected')
    },
  }
}
