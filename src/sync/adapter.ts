import http from 'node:http'
import https from 'node:https'
/**
 * The door to the CRM. A sync run hands an adapter one batch of events in order; the adapter
 * says what the CRM acknowledged. The run alone decides what is marked delivered, retried or
 * parked.
 */

/** One outbox event as it goes on the wire. */
export interface WireEvent {
  seq: number
  id: string
  type: string
  schemaVersion: number
  branchId: string
  /** Epoch ms (UTC). */
  occurredAt: number
  /** Tries so far (local, never sent): the per-event backoff grows with it. */
  attempts: number
  /** Local ordering key (never sent): events of one subject reach the CRM in order. */
  subject: string | null
  /** The stored payload (JSON text), sent as it is. */
  data: string
  /** The event's envelope as JSON text: `{"id":…,"type":…,…,"data":…}`. */
  json: string
}

export interface Batch {
  /** Derived from the event ids: the same events give the same id on every retry. */
  id: string
  branchId: string
  events: WireEvent[]
}

/** What the CRM said about one event when it answered per event. */
export type EventResult =
  | { id: string; result: 'delivered' }
  | { id: string; result: 'retry'; error: string }
  | { id: string; result: 'park'; error: string; response: string | null }

export type BatchOutcome =
  /** Acknowledged. Without `events` every event is delivered; with it, each listed one as said. */
  | { kind: 'acked'; events?: EventResult[] }
  /** Network error, timeout, 5xx, 429…: the whole batch is retried later. */
  | { kind: 'transient'; error: string; retryAfterMs: number | null }
  /** A 4xx that is about the events themselves: they are parked (or split, to find the bad one). */
  | { kind: 'rejected'; status: number; error: string; response: string | null }

export interface CrmAdapter {
  /** 'webhook', 'salesforce'…, shown in the status. */
  readonly name: string
  deliver(batch: Batch): Promise<BatchOutcome>
}

/**
 * 4xx answers that concern the request's content: the affected events are parked. Every other
 * 4xx (401/403/404/407/408/425/429…) means the endpoint or its credentials are wrong or busy;
 * parking the whole backlog for that would need a manual re-queue after every misconfiguration,
 * so those are retried with backoff and shown as the last error instead.
 */
const CONTENT_REJECTIONS = new Set([400, 409, 410, 413, 415, 422])

export function isContentRejection(status: number): boolean {
  return CONTENT_REJECTIONS.has(status)
}

/** Retry-After as milliseconds from `now` (delta-seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

/** A short description of a failed request (refused, reset…), without URLs' secrets or headers. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `timed out after ${timeoutMs} ms`
  const code = e?.code ?? e?.cause?.code
  if (code) return `network error ${code}`
  return `network error: ${e?.cause?.message ?? e?.message ?? String(err)}`
}

/** The first bytes of a response body, kept for parked events and the log. */
export function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 4 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 4 }),
}

/**
 * One HTTP exchange with a deadline covering connect, send and the whole answer. node:http
 * rather than fetch: a sync of a week's backlog sends thousands of requests, and this keeps the
 * process small (no WASM parser, no stream machinery per request).
 */
export function httpCall(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | Buffer },
  timeoutMs: number,
  now: () => number,
): Promise<
  | { ok: true; status: number; body: string; retryAfterMs: number | null }
  | { ok: false; error: string }
> {
  return new Promise((resolve) => {
    const u = new URL(url)
    const secure = u.protocol === 'https:'
    const body =
      init.body === undefined || Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body)
    let settled = false
    const finish = (r: Awaited<ReturnType<typeof httpCall>>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
    }
    const req = (secure ? https : http).request(
      u,
      {
        method: init.method,
        headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: secure ? agents.https : agents.http,
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          // Only the start of an answer is ever kept; a huge body must not fill memory.
          if (size < 1_000_000) chunks.push(c)
          size += c.length
        })
        res.on('end', () => {
          const header = res.headers['retry-after']
          finish({
            ok: true,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfterMs: retryAfterMs(
              Array.isArray(header) ? (header[0] ?? null) : (header ?? null),
              now(),
            ),
          })
        })
        res.on('error', (err) => finish({ ok: false, error: describeFetchError(err, timeoutMs) }))
      },
    )
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timed out after ${timeoutMs} ms` })
      req.destroy()
    }, timeoutMs)
    req.on('error', (err) => finish({ ok: false, error: describeFetchError(err, timeoutMs) }))
    req.end(body)
  })
}

/** Maps an HTTP answer for a whole batch to an outcome. */
export function outcomeOfStatus(
  status: number,
  body: string,
  retryAfter: number | null,
  what: string,
): BatchOutcome {
  if (status >= 200 && status < 300) return { kind: 'acked' }
  if (isContentRejection(status)) {
    return { kind: 'rejected', status, error: `${what} answered ${status}`, response: clip(body) }
  }
  return {
    kind: 'transient',
    error: `${what} answered ${status}${body ? `: ${clip(body, 200)}` : ''}`,
    retryAfterMs: retryAfter,
  }
}
