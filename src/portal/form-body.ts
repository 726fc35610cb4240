import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'

/** The largest form body the portal reads; its forms are a few hundred bytes. */
export const MAX_FORM_BYTES = 16 * 1024

const URLENCODED = 'application/x-www-form-urlencoded'

/**
 * The posted form as plain strings (a repeated field keeps its last value; each value at most
 * 1,000 characters). Anything malformed reads as empty fields, never as a crash; a body over
 * `maxBytes` is refused with 413.
 *
 * Under @hono/node-server a urlencoded body (what the portal's forms send) is read straight from
 * Node's request stream: going through the web `Request` builds a ReadableStream, an
 * AbortSignal and a FormData for a 100-byte body, a fifth of a login's CPU time. Anything else
 * (multipart, or `app.request()` in tests) goes through Hono's parser.
 */
export async function readForm(
  c: Context,
  maxBytes = MAX_FORM_BYTES,
): Promise<Record<string, string | undefined>> {
  const declared = Number(c.req.header('content-length') ?? 0)
  if (declared > maxBytes) throw new HTTPException(413, { message: 'form too large' })
  const type = (c.req.header('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase()
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  let fields: Iterable<[string, unknown]>
  // Nobody has started reading the stream (readableFlowing still null): it is all ours.
  if (type === URLENCODED && incoming && incoming.readableFlowing === null) {
    fields = new URLSearchParams(await readText(incoming, maxBytes))
  } else {
    const body = await c.req.arrayBuffer().catch(() => new ArrayBuffer(0))
    if (body.byteLength > maxBytes) throw new HTTPException(413, { message: 'form too large' })
    // Hono's parser reads the body cached just above.
    fields = Object.entries(await c.req.parseBody().catch(() => ({})))
  }
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of fields) if (typeof v === 'string') out[k] = v.slice(0, 1000)
  return out
}

/** The whole body as UTF-8 text; 413 past `maxBytes`, an empty body if the client gives up. */
function readText(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      incoming.off('data', onData)
      incoming.off('end', onEnd)
      incoming.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        done()
        // Drain the rest so the 413 page can still be written on this connection.
        incoming.resume()
        reject(new HTTPException(413, { message: 'form too large' }))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      done()
      resolve(Buffer.concat(chunks, size).toString('utf8'))
    }
    const onError = () => {
      done()
      resolve('')
    }
    incoming.on('data', onData)
    incoming.once('end', onEnd)
    incoming.once('error', onError)
  })
}
