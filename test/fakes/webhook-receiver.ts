import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyWebhook } from '../../src/sync/webhook.js'

/**
 * A CRM webhook endpoint on loopback that does what the docs tell receivers to do: verify the
 * Standard Webhooks signature, then de-duplicate by event id. It counts every delivery of every
 * event, so tests can tell "exactly once after de-dup" from "sent twice".
 */
export type ReceiverMode =
  | { kind: 'ok' }
  /** Answer this status (e.g. 503, 400) with an optional Retry-After. */
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  /** Accept the request and never answer (the sender's timeout must fire). */
  | { kind: 'hang' }

export interface ReceivedEvent {
  id: string
  type: string
  data: any
}

export class WebhookReceiver {
  mode: ReceiverMode = { kind: 'ok' }
  /** Called with each request before it is answered; may take its time (e.g. kill the sender). */
  beforeAnswer:
    | ((info: { requestNo: number; batchId: string; eventIds: string[] }) => Promise<void> | void)
    | null = null
  /** Events refused with 400 when present in a batch (to test parking and splitting). */
  poison = new Set<string>()
  requests = 0
  /** TCP connections accepted (a sender that keeps its connection alive opens one). */
  connections = 0
  badSignatures = 0
  /** Deliveries per event id (> 1: sent again, de-duplicated here). */
  readonly deliveries = new Map<string, number>()
  /** Events in the order they were first accepted. */
  readonly accepted: ReceivedEvent[] = []
  readonly batchIds: string[] = []
  readonly headers: Array<Record<string, string | string[] | undefined>> = []
  keepHeaders = false
  /** Date.now() of the first and last accepted batch. */
  firstAcceptedAt: number | null = null
  lastAcceptedAt: number | null = null
  private server: Server | null = null
  private hanging = new Set<ServerResponse>()

  constructor(
    readonly secrets: string[],
    public port = 0,
    /** Any address of 127.0.0.0/8: a random one of its own lets a test hold "nothing listens here". */
    readonly host = '127.0.0.1',
  ) {}

  get url() {
    return `http://${this.host}:${this.port}/crm/hook`
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res))
    server.on('connection', () => this.connections++)
    // Node's own default (5 s). At 1 s the server announces `Keep-Alive: timeout=1`, and Node's
    // Agent keeps such a socket for that minus a second, i.e. not at all: every batch paid a
    // new TCP connection on both sides (issue 20, found in the sync's profile).
    server.keepAliveTimeout = 5000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, this.host, () => resolve())
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
    return this
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    for (const r of this.hanging) r.destroy()
    this.hanging.clear()
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  duplicates(): number {
    let n = 0
    for (const c of this.deliveries.values()) n += c - 1
    return n
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const requestNo = ++this.requests
    if (this.keepHeaders) this.headers.push(req.headers)
    const mode = this.mode
    if (mode.kind === 'hang') {
      this.hanging.add(res)
      res.on('close', () => this.hanging.delete(res))
      return
    }
    if (mode.kind === 'status') {
      res.writeHead(mode.status, mode.retryAfter ? { 'retry-after': mode.retryAfter } : {})
      res.end(mode.body ?? '')
      return
    }
    const ok = verifyWebhook({
      headers: {
        id: header(req, 'webhook-id'),
        timestamp: header(req, 'webhook-timestamp'),
        signature: header(req, 'webhook-signature'),
      },
      body,
      secrets: this.secrets,
      nowSeconds: Math.floor(Date.now() / 1000),
    })
    if (!ok) {
      this.badSignatures++
      res.writeHead(401).end('bad signature')
      return
    }
    const parsed = JSON.parse(body) as { data: { batchId: string; events: ReceivedEvent[] } }
    const events = parsed.data.events
    if (events.some((e) => this.poison.has(e.id))) {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'poisoned event' }))
      return
    }
    // Counted on arrival: if the sender dies before reading our answer, it sends these again.
    this.batchIds.push(parsed.data.batchId)
    this.firstAcceptedAt ??= Date.now()
    this.lastAcceptedAt = Date.now()
    for (const e of events) {
      const n = this.deliveries.get(e.id) ?? 0
      this.deliveries.set(e.id, n + 1)
      if (n === 0) this.accepted.push(e)
    }
    if (this.beforeAnswer) {
      await this.beforeAnswer({
        requestNo,
        batchId: parsed.data.batchId,
        eventIds: events.map((e) => e.id),
      })
    }
    if (!res.destroyed)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name]
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
}

/**
 * A loopback address of 127.0.0.0/8 that nothing else uses: a port on it is refused until a
 * receiver listens there, and no other process can take it meanwhile (unlike a "free" port on
 * 127.0.0.1, which the kernel may hand to anyone).
 */
export function privateLoopback(): string {
  const b = randomBytes(3)
  return `127.${1 + (b[0]! % 250)}.${b[1]}.${1 + (b[2]! % 250)}`
}
