import { RecipientUnreachableError, SmsSendError, type SmsFailureKind } from '../errors.js'

export type Fetch = typeof fetch

/** A provider's answer: status and the body, parsed as JSON when it is JSON. */
export interface ProviderAnswer {
  status: number
  json: any
  text: string
}

/**
 * POSTs to a provider and reads the whole answer. A network error or no answer within
 * `timeoutMs` (or when `signal` aborts) is an SmsSendError, so the chain moves on; any HTTP
 * status is returned for the provider's own mapping. Never follows redirects.
 */
export function postToProvider(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
  signal: AbortSignal | undefined,
  fetchImpl: Fetch,
): Promise<ProviderAnswer> {
  return askProvider(provider, url, { method: 'POST', ...init }, timeoutMs, signal, fetchImpl)
}

/**
 * A read-only, authenticated GET (doctor's credential checks), with the same time limit, error
 * mapping and no redirects as postToProvider.
 */
export function getFromProvider(
  provider: string,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  fetchImpl: Fetch,
): Promise<ProviderAnswer> {
  return askProvider(provider, url, { method: 'GET', headers }, timeoutMs, undefined, fetchImpl)
}

async function askProvider(
  provider: string,
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  timeoutMs: number,
  signal: AbortSignal | undefined,
  fetchImpl: Fetch,
): Promise<ProviderAnswer> {
  const signals = [AbortSignal.timeout(timeoutMs)]
  if (signal) signals.push(signal)
  let res: Response
  let text: string
  try {
    res = await fetchImpl(url, {
      ...init,
      signal: AbortSignal.any(signals),
      redirect: 'error',
    })
    text = await res.text()
  } catch (err) {
    const e = err as Error
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new SmsSendError(provider, `no answer within ${timeoutMs} ms`, 'timeout')
    }
    // fetch says only "fetch failed"; the cause names it (ECONNREFUSED, ENOTFOUND…).
    const why = (e.cause as Error | undefined)?.message ?? e.message
    throw new SmsSendError(provider, `network: ${why}`, 'unavailable')
  }
  let json: any = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    // not JSON: mapped on the status alone
  }
  return { status: res.status, json, text }
}

/**
 * The first 200 characters of an answer, for logs and the per-try record (never the request:
 * it holds the code). Providers echo the number back; only its last two digits are kept.
 */
export function excerpt(a: ProviderAnswer): string {
  const text = a.text.replace(/\s+/g, ' ').replace(/\+?\d{7,}(\d{2})/g, '…$1')
  return `HTTP ${a.status}: ${text.slice(0, 200)}`
}

/** What doctor's authenticated read-only call to a provider found. */
export type AccountCheck =
  { ok: true; detail: string } | { ok: false; kind: SmsFailureKind; detail: string }

/**
 * What a provider's refusal means for the chain: 'number' — this number cannot get the message
 * from anyone, the chain ends and the customer is told to use another number — or the kind of a
 * provider-side failure, and the next provider is tried. Each provider's table is in docs/sms.md.
 */
export type Refusal = 'number' | SmsFailureKind

/** The kind of a refusal the provider gave no known code for, from its HTTP status alone. */
export function refusalOfStatus(status: number): SmsFailureKind {
  if (status === 401 || status === 403) return 'credentials'
  if (status === 429) return 'rateLimited'
  if (status >= 500) return 'unavailable'
  return 'rejected'
}

/** The error a refusal is thrown as. */
export function refusalError(
  provider: string,
  channel: 'sms' | 'whatsapp',
  refusal: Refusal,
  why: string,
): RecipientUnreachableError | SmsSendError {
  return refusal === 'number'
    ? new RecipientUnreachableError(provider, channel, why)
    : new SmsSendError(provider, why, refusal)
}
