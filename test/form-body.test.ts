import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readForm } from '../src/portal/form-body.js'

// One tiny app that answers with the form it read, served for real (the Node-stream path) and
// called through app.request() (the web Request path): both must read the same.
const app = new Hono()
app.post('/form', async (c) => c.json(await readForm(c, 64)))
app.onError((err, c) => c.text(err.message, err instanceof HTTPException ? err.status : 500))

let server: ServerType
let port: number

beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      port = info.port
      resolve()
    })
  })
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

/** A raw POST over a socket: the body in `chunks`, with or without a Content-Length. */
function post(
  body: string[],
  headers: Record<string, string | number>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/form', method: 'POST', headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode!, text }))
      },
    )
    req.on('error', reject)
    for (const chunk of body) req.write(chunk)
    req.end()
  })
}

const FORM = 'application/x-www-form-urlencoded'

describe('readForm', () => {
  const cases: [string, string, Record<string, string>][] = [
    ['plain fields', 'name=Ana+Mar%C3%ADa&phone=55+1234', { name: 'Ana María', phone: '55 1234' }],
    ['a repeated field keeps its last value', 'a=1&a=2', { a: '2' }],
    ['broken percent-encoding reads as it is', 'a=%E0%A4%A&b=%zz', { a: '\ufffd%A', b: '%zz' }],
    ['an empty body', '', {}],
  ]
  for (const [what, body, expected] of cases) {
    it(`${what}, over real HTTP and through app.request()`, async () => {
      const real = await post([body], {
        'content-type': FORM,
        'content-length': Buffer.byteLength(body),
      })
      expect(real.status).toBe(200)
      expect(JSON.parse(real.text)).toEqual(expected)
      const local = await app.request('/form', {
        method: 'POST',
        headers: { 'content-type': FORM },
        body,
      })
      expect(await local.json()).toEqual(expected)
    })
  }

  it('reads a body that arrives in pieces, without a Content-Length', async () => {
    const res = await post(['name=A', 'na&pho', 'ne=55'], { 'content-type': FORM })
    expect(JSON.parse(res.text)).toEqual({ name: 'Ana', phone: '55' })
  })

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const big = `a=${'x'.repeat(100)}`
    const declared = await post([big], { 'content-type': FORM, 'content-length': big.length })
    expect(declared.status).toBe(413)
    const streamed = await post([big.slice(0, 50), big.slice(50)], { 'content-type': FORM })
    expect(streamed.status).toBe(413)
    const local = await app.request('/form', {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: big,
    })
    expect(local.status).toBe(413)
  })

  it('reads multipart through Hono, and other types as no fields', async () => {
    const fd = new FormData()
    fd.set('name', 'Ana')
    const roomy = new Hono()
    roomy.post('/', async (c) => c.json(await readForm(c)))
    const multipart = await roomy.request('/', { method: 'POST', body: fd })
    expect(await multipart.json()).toEqual({ name: 'Ana' })
    const json = await post(['{"name":"Ana"}'], {
      'content-type': 'application/json',
      'content-length': 14,
    })
    expect(JSON.parse(json.text)).toEqual({})
  })

  it('cuts every value to 1,000 characters', async () => {
    const wide = new Hono()
    wide.post('/', async (c) => c.json(await readForm(c)))
    const res = await wide.request('/', {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: `a=${'x'.repeat(5000)}`,
    })
    expect(((await res.json()) as { a: string }).a).toHaveLength(1000)
  })
})
