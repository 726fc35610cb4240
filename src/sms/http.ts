import type { HttpSmsConfig } from './config.js'
import { SmsSendError } from '../errors.js'
import { excerpt, refusalOfStatus } from './provider-http.js'
import type { SmsMessage, SmsSender } from './sender.js'

type Fetch = typeof fetch

/** Fills {to}, {text} and {code} in every string of a template value. */
export function fillTemplate(value: unknown, m: SmsMessage): unknown {
  if (typeof value === 'string') {
    return value.replace(/\{(to|text|code)\}/g, (_, k: 'to' | 'text' | 'code') => m[k])
  }
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, m))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillTemplate(v, m)]))
  }
  return value
}

/**
 * A generic HTTP aggregator: POSTs the message as JSON or a form, with configurable headers.
 * Any non-2xx answer, network error or timeout is an SmsSendError; it never hangs.
 */
export function createHttpSender(cfg: HttpSmsConfig, fetchImpl: Fetch = fetch): SmsSender {
  const name = `http:${new URL(cfg.url).host}`
  return {
    name,
    channel: 'sms',
    async send(m, options = {}) {
      const headers = fillTemplate(cfg.headers, m) as Record<string, string>
      const fields = fillTemplate(cfg.body, m) as Record<string, unknown>
      let body: string
      if (cfg.bodyFormat === 'json') {
        body = JSON.stringify(fields)
        headers['content-type'] ??= 'application/json'
      } else {
        const pairs = Object.entries(fields).map(([k, v]): [string, string] => [
          k,
          typeof v === 'string' ? v : JSON.stringify(v),
        ])
        body = new URLSearchParams(pairs).toString()
        headers['content-type'] ??= 'application/x-www-form-urlencoded'
      }
      let res: Response
      try {
        res = await fetchImpl(cfg.url, {
          method: cfg.method,
          headers,
          body,
          signal: options.signal
            ? AbortSignal.any([AbortSignal.timeout(cfg.timeoutMs), options.signal])
            : AbortSignal.timeout(cfg.timeoutMs),
          redirect: 'error',
        })
      } catch (err) {
        const e = err as Error
        const late = e.name === 'TimeoutError' || e.name === 'AbortError'
        throw new SmsSendError(
          name,
          late ? `no answer within ${cfg.timeoutMs} ms` : e.message,
          late ? 'timeout' : 'unavailable',
        )
      }
      const text = await res.text().catch(() => '')
      if (!res.ok) {
        // The answer may echo the number: excerpt() keeps only its last two digits.
        const why = excerpt({ status: res.status, text, json: null })
        throw new SmsSendError(name, why, refusalOfStatus(res.status))
      }
      let messageId: string | undefined
      try {
        const json = JSON.parse(text) as Record<string, unknown>
        const id = json.id ?? json.messageId ?? json.message_id
        if (typeof id === 'string' || typeof id === 'number') messageId = String(id)
      } catch {
        // a plain-text answer is fine
      }
      return messageId === undefined ? { provider: name } : { provider: name, messageId }
    },
  }
}
