import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type HttpSmsConfig } from '../src/config.js'
import { SmsSendError } from '../src/errors.js'
import { createHttpSender } from '../src/sms/http.js'
import { composeCodeText, createFailoverSender } from '../src/sms/sender.js'
import { createConsoleSender } from '../src/sms/console.js'

interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A local aggregator: answers per path, remembers every request. */
let server: Server
let base = ''
const received: Received[] = []
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      if (req.url === '/ok')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"msg-77"}')
      if (req.url === '/down') return res.writeHead(503).end('maintenance')
      if (req.url === '/slow') return // never answers
      res.writeHead(404).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

function httpConfig(extra: Record<string, unknown>): HttpSmsConfig {
  const cfg = loadConfig(JSON.stringify({ sms: { providers: [{ type: 'http', ...extra }] } }))
  return cfg.sms.providers[0] as HttpSmsConfig
}

const message = {
  to: '+525512345678',
  text: 'Tu código es 123456\n\n@portal.example #123456',
  code: '123456',
  locale: 'es' as const,
}

describe('http SMS sender', () => {
  it('posts a JSON body filled from the template, with the configured headers', async () => {
    const sender = createHttpSender(
      httpConfig({
        url: `${base}/ok`,
        headers: { authorization: 'Bearer s3cret' },
        body: { destination: '{to}', message: '{text}', meta: { otp: '{code}' } },
      }),
    )
    const sent = await sender.send(message)
    expect(sent.messageId).toBe('msg-77')
    const req = received.at(-1)!
    expect(req.method).toBe('POST')
    expect(req.headers.authorization).toBe('Bearer s3cret')
    expect(req.headers['content-type']).toBe('application/json')
    expect(JSON.parse(req.body)).toEqual({
      destination: '+525512345678',
      message: message.text,
      meta: { otp: '123456' },
    })
  })

  it('can send a form body instead', async () => {
    await createHttpSender(httpConfig({ url: `${base}/ok`, bodyFormat: 'form' })).send(message)
    const req = received.at(-1)!
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      to: '+525512345678',
      text: message.text,
    })
  })

  it('turns a non-2xx answer into an SmsSendError', async () => {
    const sender = createHttpSender(httpConfig({ url: `${base}/down` }))
    await expect(sender.send(message)).rejects.toThrow(SmsSendError)
    await expect(sender.send(message)).rejects.toThrow(/HTTP 503/)
  })

  it('gives up after its timeout instead of hanging', async () => {
    const sender = createHttpSender(httpConfig({ url: `${base}/slow`, timeoutMs: 300 }))
    // The sender's own 300 ms timeout ended it (its message says so); the server never answers.
    await expect(sender.send(message)).rejects.toThrow(/no answer within 300 ms/)
  })

  it('reports a refused connection as an SmsSendError', async () => {
    const sender = createHttpSender(httpConfig({ url: 'http://127.0.0.1:9/' }))
    await expect(sender.send(message)).rejects.toThrow(SmsSendError)
  })
})

describe('code messages', () => {
  it('end with the origin-bound line so phones can offer the code', () => {
    const text = composeCodeText({
      locale: 'es',
      branchName: 'Sucursal Centro',
      code: '042042',
      ttlMinutes: 5,
      portalHost: 'wifi.banco.mx',
    })
    expect(text).toBe(
      'Tu código para el Wi-Fi de Sucursal Centro es 042042. Vence en 5 minutos.\n\n@wifi.banco.mx #042042',
    )
    expect(
      composeCodeText({
        locale: 'en',
        branchName: 'Downtown',
        code: '1234',
        ttlMinutes: 5,
        portalHost: 'h',
      }),
    ).toMatch(/^Your Downtown Wi-Fi code is 1234\..*\n\n@h #1234$/s)
  })

  it('the console sender prints the number and the text on one line', async () => {
    const lines: string[] = []
    await createConsoleSender((l) => lines.push(l)).send(message)
    expect(lines).toEqual([
      `[sms] to=+525512345678 code=123456 text=${JSON.stringify(message.text)}`,
    ])
  })

  it('fails over to the next provider when one fails', async () => {
    const chain = createFailoverSender([
      createHttpSender(httpConfig({ url: `${base}/down` })),
      createHttpSender(httpConfig({ url: `${base}/ok` })),
    ])
    expect((await chain.send(message)).messageId).toBe('msg-77')
  })
})
