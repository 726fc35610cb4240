import { SmsSendError } from '../errors.js'

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
export async function postToProvider(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
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
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.any(signals),
      redirect: 'error',
    })
    text = await res.text()
  } catch (err) {
    const e = err as Error
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new SmsSendError(provider, `no answer within ${timeoutMs} ms`, 'timeout')
    }
    throw new SmsSendError(provider, `network: ${e.message}`, 'unavailable')
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
