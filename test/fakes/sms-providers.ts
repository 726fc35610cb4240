import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * How the fake answers the next sends of one provider. `{ error }` answers with that documented
 * error: a Twilio or WhatsApp error code, an Infobip status name (REJECTED_SENDER…) or request
 * error (UNAUTHORIZED, TOO_MANY_REQUESTS), or `HTTP nnn` for a bare status.
 */
export type FakeMode =
  'ok' | 'invalidNumber' | 'rateLimited' | 'down' | 'hang' | { error: number | string }
export type FakeProvider = 'twilio' | 'infobip' | 'whatsapp'

export interface ReceivedRequest {
  provider: FakeProvider
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** Form fields (Twilio) or the parsed JSON body (Infobip, WhatsApp). */
  body: any
}

/** Credentials the fake expects; requests with anything else get the provider's auth error. */
export const FAKE_CREDENTIALS = {
  twilio: {
    accountSid: 'AC' + 'a1'.repeat(16),
    authToken: 'tw-token-123',
    apiKeySid: 'SK' + 'b2'.repeat(16),
    apiKeySecret: 'key-secret',
  },
  infobip: { apiKey: 'ib-key-456' },
  whatsapp: {
    phoneNumberId: '106540352242922',
    accessToken: 'EAAG-wa-token-789',
    apiVersion: 'v21.0',
  },
}

/**
 * One local HTTP server standing in for Twilio, Infobip and the WhatsApp Cloud API. It checks
 * the documented request (method, path, auth header, required body fields) and answers with the
 * provider's documented success and error bodies. Tests set `mode[provider]`. It also serves the
 * read-only calls doctor makes (Twilio's account, Infobip's balance, the WhatsApp phone-number
 * ID), answering `account` with the right credentials and the auth error with wrong ones.
 */
export class FakeProviders {
  readonly received: ReceivedRequest[] = []
  readonly mode: Record<FakeProvider, FakeMode> = { twilio: 'ok', infobip: 'ok', whatsapp: 'ok' }
  /** What the read-only calls find: Twilio's account status, Infobip's balance. */
  readonly account = { twilio: 'active', infobipBalance: 47.79134 }
  base = ''
  private server: Server | null = null
  private seq = 0

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = ''
      req.setEncoding('utf8')
      req.on('data', (d) => (raw += d))
      req.on('end', () => this.answer(req.method ?? '', req.url ?? '', req.headers, raw, res))
    })
    // The client closes idle connections itself (undici, 4 s); a server that also times them out
    // races it on a busy machine and the client writes into a socket being closed (ECONNRESET).
    // Real providers would only cost a failover there; in tests it was a flaky 502.
    this.server.keepAliveTimeout = 0
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop(): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>((r) => this.server!.close(() => r()))
  }

  reset(): void {
    this.received.length = 0
    this.mode.twilio = this.mode.infobip = this.mode.whatsapp = 'ok'
    this.account.twilio = 'active'
    this.account.infobipBalance = 47.79134
  }

  last(provider: FakeProvider): ReceivedRequest {
    const r = [...this.received].reverse().find((x) => x.provider === provider)
    if (!r) throw new Error(`no request reached the fake ${provider}`)
    return r
  }

  private answer(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    raw: string,
    res: ServerResponse,
  ) {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path)
    const whatsapp = /^\/(v\d+\.\d+)\/(\d+)\/messages$/.exec(path)
    if (method === 'GET') return this.readOnly(path, headers, json)
    if (method !== 'POST') return json(405, { error: 'method not allowed' })
    if (twilio) return this.twilio(twilio[1]!, headers, raw, json, res)
    if (path === '/sms/2/text/advanced') return this.infobip(headers, raw, json, res)
    if (whatsapp) return this.whatsapp(whatsapp[1]!, whatsapp[2]!, headers, raw, json, res)
    return json(404, { error: 'not found' })
  }

  /**
   * The read-only calls doctor makes: Twilio's Account resource (auth token only: a Standard API
   * key may not read it) and one page of its messages, Infobip's balance, the WhatsApp
   * phone-number ID. Recorded in `received` like the sends.
   */
  private readOnly(url: string, headers: IncomingHttpHeaders, json: Json) {
    const path = url.split('?')[0]!
    const account = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(path)
    const messages = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path)
    const phone = /^\/(v\d+\.\d+)\/(\d+)$/.exec(path)
    const provider: FakeProvider =
      account || messages ? 'twilio' : path === '/account/1/balance' ? 'infobip' : 'whatsapp'
    this.received.push({ provider, method: 'GET', path: url, headers, body: null })
    const c = FAKE_CREDENTIALS
    if (account) {
      const sid = account[1]!
      const basic = `Basic ${Buffer.from(`${c.twilio.accountSid}:${c.twilio.authToken}`).toString('base64')}`
      if (headers.authorization !== basic) return json(401, TWILIO_AUTH_ERROR)
      if (sid !== c.twilio.accountSid) {
        return json(404, {
          code: 20404,
          message: `The requested resource /2010-04-01/Accounts/${sid}.json was not found`,
          more_info: 'https://www.twilio.com/docs/errors/20404',
          status: 404,
        })
      }
      return json(200, {
        sid,
        friendly_name: 'Banco Demo',
        status: this.account.twilio,
        type: 'Full',
        uri: `/2010-04-01/Accounts/${sid}.json`,
      })
    }
    if (messages) {
      if (!twilioAuthorized(headers, messages[1]!)) return json(401, TWILIO_AUTH_ERROR)
      return json(200, { messages: [], page: 0, page_size: 1, first_page_uri: url })
    }
    if (provider === 'infobip') {
      if (headers.authorization !== `App ${c.infobip.apiKey}`) {
        return json(401, {
          requestError: {
            serviceException: { messageId: 'UNAUTHORIZED', text: 'Invalid login details' },
          },
        })
      }
      return json(200, { balance: this.account.infobipBalance, currency: 'EUR' })
    }
    if (phone) {
      if (headers.authorization !== `Bearer ${c.whatsapp.accessToken}`) {
        return json(401, {
          error: {
            message: 'Invalid OAuth access token - Cannot parse access token',
            type: 'OAuthException',
            code: 190,
            fbtrace_id: 'AbCdEf123',
          },
        })
      }
      if (phone[2] !== c.whatsapp.phoneNumberId) {
        return json(400, {
          error: {
            message: `Unsupported get request. Object with ID '${phone[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
            type: 'GraphMethodException',
            code: 100,
            error_subcode: 33,
            fbtrace_id: 'AbCdEf123',
          },
        })
      }
      return json(200, {
        verified_name: 'Banco Demo',
        display_phone_number: '+52 55 5000 0000',
        quality_rating: 'GREEN',
        id: phone[2],
      })
    }
    return json(404, { error: 'not found' })
  }

  private twilio(
    sid: string,
    headers: IncomingHttpHeaders,
    raw: string,
    json: Json,
    res: ServerResponse,
  ) {
    const body = Object.fromEntries(new URLSearchParams(raw))
    this.received.push({
      provider: 'twilio',
      method: 'POST',
      path: `/2010-04-01/Accounts/${sid}/Messages.json`,
      headers,
      body,
    })
    if (!twilioAuthorized(headers, sid)) return json(401, TWILIO_AUTH_ERROR)
    if (
      !String(headers['content-type']).startsWith('application/x-www-form-urlencoded') ||
      !body.To ||
      !body.Body ||
      !(body.From || body.MessagingServiceSid)
    ) {
      return json(400, {
        code: 21604,
        message: "A 'To' phone number is required.",
        more_info: 'https://www.twilio.com/docs/errors/21604',
        status: 400,
      })
    }
    const mode = this.mode.twilio
    if (typeof mode === 'object') {
      const code = Number(mode.error)
      const status = code === 20003 ? 401 : code === 20404 ? 404 : code === 20429 ? 429 : 400
      return json(status, {
        code,
        message: `Twilio error ${code} for ${body.To}`,
        more_info: `https://www.twilio.com/docs/errors/${code}`,
        status,
      })
    }
    switch (mode) {
      case 'hang':
        return
      case 'down':
        return res
          .writeHead(503, { 'content-type': 'text/html' })
          .end('<html>Service Unavailable</html>')
      case 'rateLimited':
        return json(429, {
          code: 20429,
          message: 'Too Many Requests',
          more_info: 'https://www.twilio.com/docs/errors/20429',
          status: 429,
        })
      case 'invalidNumber':
        return json(400, {
          code: 21211,
          message: `The 'To' number ${body.To} is not a valid phone number.`,
          more_info: 'https://www.twilio.com/docs/errors/21211',
          status: 400,
        })
      case 'ok':
        return json(201, {
          account_sid: sid,
          api_version: '2010-04-01',
          body: body.Body,
          from: body.From ?? null,
          messaging_service_sid: body.MessagingServiceSid ?? null,
          num_segments: '1',
          sid: `SM${String(++this.seq).padStart(32, '0')}`,
          status: 'queued',
          to: body.To,
          uri: `/2010-04-01/Accounts/${sid}/Messages/SM${String(this.seq).padStart(32, '0')}.json`,
        })
    }
  }

  private infobip(headers: IncomingHttpHeaders, raw: string, json: Json, res: ServerResponse) {
    const body = safeJson(raw)
    this.received.push({
      provider: 'infobip',
      method: 'POST',
      path: '/sms/2/text/advanced',
      headers,
      body,
    })
    if (headers.authorization !== `App ${FAKE_CREDENTIALS.infobip.apiKey}`) {
      return json(401, {
        requestError: {
          serviceException: { messageId: 'UNAUTHORIZED', text: 'Invalid login details' },
        },
      })
    }
    const m = body?.messages?.[0]
    const to = m?.destinations?.[0]?.to
    if (!String(headers['content-type']).startsWith('application/json') || !to || !m.text) {
      return json(400, {
        requestError: { serviceException: { messageId: 'BAD_REQUEST', text: 'Bad request' } },
      })
    }
    const messageId = `ib-${++this.seq}`
    const mode = this.mode.infobip
    if (typeof mode === 'object') {
      const error = String(mode.error)
      const http = /^HTTP (\d{3})$/.exec(error)
      if (http) {
        return json(Number(http[1]), {
          requestError: { serviceException: { text: `HTTP ${http[1]}` } },
        })
      }
      const requestErrors: Record<string, number> = { UNAUTHORIZED: 401, TOO_MANY_REQUESTS: 429 }
      if (requestErrors[error]) {
        return json(requestErrors[error], {
          requestError: { serviceException: { messageId: error, text: error } },
        })
      }
      const undeliverable = error.startsWith('UNDELIVERABLE_')
      return json(200, {
        bulkId: `bulk-${this.seq}`,
        messages: [
          {
            to,
            status: {
              groupId: undeliverable ? 2 : 5,
              groupName: undeliverable ? 'UNDELIVERABLE' : 'REJECTED',
              id: 99,
              name: error,
              description: error,
            },
            messageId,
          },
        ],
      })
    }
    switch (mode) {
      case 'hang':
        return
      case 'down':
        return json(500, {
          requestError: {
            serviceException: { messageId: 'GENERAL_ERROR', text: 'Something went wrong' },
          },
        })
      case 'rateLimited':
        return json(429, {
          requestError: {
            serviceException: { messageId: 'TOO_MANY_REQUESTS', text: 'Too many requests' },
          },
        })
      case 'invalidNumber':
        return json(200, {
          bulkId: `bulk-${this.seq}`,
          messages: [
            {
              to,
              status: {
                groupId: 5,
                groupName: 'REJECTED',
                id: 52,
                name: 'REJECTED_DESTINATION',
                description: 'Invalid destination address.',
              },
              messageId,
            },
          ],
        })
      case 'ok':
        return json(200, {
          bulkId: `bulk-${this.seq}`,
          messages: [
            {
              to,
              status: {
                groupId: 1,
                groupName: 'PENDING',
                id: 26,
                name: 'PENDING_ACCEPTED',
                description: 'Message sent to next instance',
              },
              messageId,
            },
          ],
        })
    }
  }

  private whatsapp(
    version: string,
    phoneId: string,
    headers: IncomingHttpHeaders,
    raw: string,
    json: Json,
    res: ServerResponse,
  ) {
    const body = safeJson(raw)
    this.received.push({
      provider: 'whatsapp',
      method: 'POST',
      path: `/${version}/${phoneId}/messages`,
      headers,
      body,
    })
    const c = FAKE_CREDENTIALS.whatsapp
    const fbError = (status: number, code: number, message: string, type = 'OAuthException') =>
      json(status, {
        error: {
          message,
          type,
          code,
          error_data: { messaging_product: 'whatsapp', details: message },
          fbtrace_id: 'AbCdEf123',
        },
      })
    if (headers.authorization !== `Bearer ${c.accessToken}` || phoneId !== c.phoneNumberId) {
      return fbError(401, 190, 'Invalid OAuth access token - Cannot parse access token')
    }
    if (
      body?.messaging_product !== 'whatsapp' ||
      !body.to ||
      body.type !== 'template' ||
      !body.template?.name ||
      !body.template?.language?.code
    ) {
      return fbError(400, 100, '(#100) Invalid parameter')
    }
    const mode = this.mode.whatsapp
    if (typeof mode === 'object') {
      const code = Number(mode.error)
      const status = code === 190 || code === 0 ? 401 : code === 131000 ? 500 : 400
      return fbError(status, code, `(#${code}) WhatsApp error ${code}`)
    }
    switch (mode) {
      case 'hang':
        return
      case 'down':
        return fbError(500, 131000, 'Something went wrong')
      case 'rateLimited':
        return fbError(400, 130429, '(#130429) Rate limit hit')
      case 'invalidNumber':
        return fbError(400, 131026, '(#131026) Message Undeliverable.')
      case 'ok':
        return json(200, {
          messaging_product: 'whatsapp',
          contacts: [{ input: body.to, wa_id: String(body.to).replace(/^\+/, '') }],
          messages: [{ id: `wamid.HBgL${++this.seq}` }],
        })
    }
  }
}

type Json = (status: number, body: unknown) => void

const TWILIO_AUTH_ERROR = {
  code: 20003,
  message: 'Authenticate',
  more_info: 'https://www.twilio.com/docs/errors/20003',
  status: 401,
}

/** The auth token or the API key of FAKE_CREDENTIALS, for that account. */
function twilioAuthorized(headers: IncomingHttpHeaders, sid: string): boolean {
  const c = FAKE_CREDENTIALS.twilio
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
  return (
    sid === c.accountSid &&
    (headers.authorization === basic(c.accountSid, c.authToken) ||
      headers.authorization === basic(c.apiKeySid, c.apiKeySecret))
  )
}

function safeJson(raw: string): any {
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}
