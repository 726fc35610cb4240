import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local stand-in for a Salesforce org, strict about the documented request shapes:
 * - `POST /services/oauth2/token`, form-encoded, grant_type=client_credentials + client id/secret
 *   → `{ access_token, instance_url, token_type: 'Bearer', … }`, or 400 `invalid_client`.
 * - `PATCH /services/data/vXX.X/composite/sobjects/{object}/{externalIdField}` with
 *   `Authorization: Bearer …` and `{ allOrNone, records: [{ attributes: { type }, … }] }`:
 *   at most 200 records, all of the URI's type, each with the external id and no Id. Answers 200
 *   with one UpsertResult per record, in order; 401 `INVALID_SESSION_ID` for an unknown token;
 *   400 for a malformed request.
 */
export class FakeSalesforce {
  clientId = 'fake-client-id'
  clientSecret = 'fake-client-secret'
  /** Records by object, then by external id. */
  readonly records = new Map<string, Map<string, Record<string, unknown>>>()
  readonly calls: Array<{ method: string; path: string; body: any; status: number }> = []
  /** Per-record failures to inject: (object, record) → error code, or null to accept. */
  failRecord: (object: string, record: Record<string, unknown>) => string | null = () => null
  /** Fields that must be present when a record is created, per object. */
  requiredOnCreate: Record<string, string[]> = { Contact: ['LastName'] }
  /** Answers the next data calls with this status (e.g. 503, or 429 with Retry-After). */
  unavailable: { status: number; retryAfter?: string; calls: number } | null = null
  tokensIssued = 0
  private tokens = new Set<string>()
  private server: Server | null = null
  port = 0

  get url() {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res))
    // The client closes idle connections itself (undici, 4 s); a server that also times them out
    // races it on a busy machine and the client writes into a socket being closed (ECONNRESET).
    // Real providers would only cost a failover there; in tests it was a flaky 502.
    server.keepAliveTimeout = 0
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    this.port = (server.address() as AddressInfo).port
    this.server = server
    return this
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((r) => s.close(() => r()))
  }

  /** Every issued token stops working (a session timeout). */
  expireTokens() {
    this.tokens.clear()
  }

  private send(
    res: ServerResponse,
    call: { method: string; path: string; body: any },
    status: number,
    body: unknown,
  ) {
    this.calls.push({ ...call, status })
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', this.url)
    const call = { method: req.method ?? '', path: url.pathname, body: raw as any }

    if (url.pathname === '/services/oauth2/token') {
      if (
        req.method !== 'POST' ||
        !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')
      ) {
        return this.send(res, call, 400, {
          error: 'invalid_request',
          error_description: 'must be a form POST',
        })
      }
      const form = new URLSearchParams(raw)
      call.body = Object.fromEntries(
        [...form].map(([k, v]) => [k, k === 'client_secret' ? '***' : v]),
      )
      if (form.get('grant_type') !== 'client_credentials') {
        return this.send(res, call, 400, {
          error: 'unsupported_grant_type',
          error_description: 'grant type not supported',
        })
      }
      if (
        form.get('client_id') !== this.clientId ||
        form.get('client_secret') !== this.clientSecret
      ) {
        return this.send(res, call, 400, {
          error: 'invalid_client',
          error_description: 'invalid client credentials',
        })
      }
      const token = `00DFAKE!token${++this.tokensIssued}`
      this.tokens.add(token)
      return this.send(res, call, 200, {
        access_token: token,
        signature: 'c2lnbmF0dXJl',
        token_format: 'opaque',
        instance_url: this.url,
        id: `${this.url}/id/00DFAKE/005FAKE`,
        token_type: 'Bearer',
        issued_at: String(Date.now()),
      })
    }

    const m =
      /^\/services\/data\/v(\d+\.\d)\/composite\/sobjects\/([A-Za-z0-9_]+)\/([A-Za-z0-9_]+)$/.exec(
        url.pathname,
      )
    if (!m)
      return this.send(res, call, 404, [
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ])
    const [, version, object, extField] = m as unknown as [string, string, string, string]
    const auth = String(req.headers.authorization ?? '')
    if (!auth.startsWith('Bearer ') || !this.tokens.has(auth.slice(7))) {
      return this.send(res, call, 401, [
        { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
      ])
    }
    if (this.unavailable && this.unavailable.calls > 0) {
      this.unavailable.calls--
      this.calls.push({ ...call, status: this.unavailable.status })
      res.writeHead(this.unavailable.status, {
        'content-type': 'application/json',
        ...(this.unavailable.retryAfter ? { 'retry-after': this.unavailable.retryAfter } : {}),
      })
      res.end(JSON.stringify([{ errorCode: 'SERVER_UNAVAILABLE', message: 'try later' }]))
      return
    }
    if (req.method !== 'PATCH')
      return this.send(res, call, 405, [{ errorCode: 'METHOD_NOT_ALLOWED', message: req.method }])
    if (Number(version) < 46)
      return this.send(res, call, 400, [
        { errorCode: 'INVALID_VERSION', message: 'upsert needs v46.0+' },
      ])
    let body: { allOrNone?: unknown; records?: Array<Record<string, any>> }
    try {
      body = JSON.parse(raw)
    } catch {
      return this.send(res, call, 400, [
        { errorCode: 'JSON_PARSER_ERROR', message: 'malformed JSON' },
      ])
    }
    call.body = body
    const malformed = (message: string) =>
      this.send(res, call, 400, [{ errorCode: 'INVALID_FIELD', message }])
    if (typeof body.allOrNone !== 'boolean') return malformed('allOrNone must be a boolean')
    if (!Array.isArray(body.records) || body.records.length === 0)
      return malformed('records must be a non-empty list')
    if (body.records.length > 200) {
      return this.send(res, call, 400, [
        {
          errorCode: 'EXCEEDED_ID_LIMIT',
          message: 'record limit reached. cannot submit more than 200 records into this call',
        },
      ])
    }
    for (const r of body.records) {
      if (r.attributes?.type !== object)
        return malformed(`every record must have attributes.type = ${object}`)
      if ('Id' in r || 'id' in r) return malformed('Id must not be set: upsert by external id only')
      if (typeof r[extField] !== 'string' || r[extField] === '')
        return malformed(`${extField} is required`)
    }
    const seen = new Map<string, number>()
    for (const r of body.records) seen.set(r[extField], (seen.get(r[extField]) ?? 0) + 1)
    const table = this.records.get(object) ?? this.records.set(object, new Map()).get(object)!
    const results = body.records.map((r) => {
      const key = r[extField] as string
      const fail = (statusCode: string, message: string) => ({
        id: null,
        success: false,
        errors: [{ statusCode, message, fields: [] }],
      })
      if (seen.get(key)! > 1)
        return fail('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${key}`)
      const injected = this.failRecord(object, r)
      if (injected) return fail(injected, `injected ${injected}`)
      const { attributes: _a, ...fields } = r
      const existing = table.get(key)
      if (!existing) {
        const missing = (this.requiredOnCreate[object] ?? []).filter((f) => fields[f] === undefined)
        if (missing.length)
          return fail(
            'REQUIRED_FIELD_MISSING',
            `Required fields are missing: [${missing.join(', ')}]`,
          )
      }
      table.set(key, { ...(existing ?? {}), ...fields })
      return { id: `a0${table.size}`, success: true, errors: [], created: !existing }
    })
    return this.send(res, call, 200, results)
  }
}
