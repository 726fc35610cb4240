import { serve, type ServerType } from '@hono/node-server'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { t } from '../src/i18n/messages.js'
import type { OsGroup } from '../src/observe/labels.js'
import type { Mac } from '../src/mac.js'
import { noMetrics, type Metrics } from '../src/observe/metrics.js'
import { challengeOf, portalHarness } from './helpers.js'

// Issue 20: GET / of a phone the portal knows nothing about is answered before the app
// (src/portal/fast-splash.ts). These tests go through a real listener, as phones do, and hold
// the fast path's answers to the app's own for the same request.

const PHONE = '3a:11:22:33:44:55' as Mac
const STAFF = '02:00:00:00:00:aa'
const ANDROID =
  'Mozilla/5.0 (Linux; Android 15; Pixel 8 Build/AP4A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0 Mobile Safari/537.36'

let h: ReturnType<typeof portalHarness>
let server: ServerType | null = null
afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r))
  server = null
  h?.close()
})

/** The portal on a real listener on 127.0.0.1, its funnel counted. */
async function listening(config: Record<string, unknown> = {}) {
  const funnel: Array<[string, OsGroup]> = []
  const metrics: Metrics = { ...noMetrics, funnel: (step, os) => void funnel.push([step, os]) }
  h = portalHarness(config, {}, { knownNeighbours: true, metrics })
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: h.app.portal.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(info.port),
    )
  })
  return { port, funnel }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request on its own connection, from `from` (a loopback address: its own neighbour entry). */
function get(
  port: number,
  o: { path?: string; method?: string; headers?: Record<string, string>; from?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        localAddress: o.from ?? '127.0.0.1',
        agent: false,
        headers: { 'user-agent': ANDROID, 'accept-language': 'es-MX,es;q=0.9', ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** The phone let through, and revoked, by the CLI's path. */
const letThrough = () =>
  h.app.access.setDeviceState({
    next: 'allowed',
    mac: PHONE,
    customerId: null,
    until: h.clock.now() + 3_600_000,
    reason: 'manual-allow',
    actor: 'cli',
  })
const revoke = () =>
  h.app.access.setDeviceState({ next: 'blocked', mac: PHONE, reason: 'revoke', actor: 'cli' })

/** The answer without the headers that differ from one response to the next. */
const comparable = (a: Answer) => {
  const { date: _date, ...headers } = a.headers
  return { status: a.status, headers, body: a.body.toString('utf8') }
}

describe("the splash page's fast path", () => {
  it("answers a phone it knows with the app's own bytes and headers, without a neighbour lookup, and counts the funnel step", async () => {
    const { port, funnel } = await listening()
    h.neighbours.set('127.0.0.1', PHONE)
    const first = await get(port)
    expect(h.neighbours.lookups).toBe(1)
    const second = await get(port)
    const third = await get(port)
    // The app answered the first; the fast path the next two (no lookup).
    expect(h.neighbours.lookups).toBe(1)
    expect(comparable(second)).toEqual(comparable(first))
    expect(comparable(third)).toEqual(comparable(first))
    expect(first.body.toString()).toContain('action="/login"')
    expect(first.headers['content-security-policy']).toContain("default-src 'none'")
    expect(funnel).toEqual([
      ['splash', 'android'],
      ['splash', 'android'],
      ['splash', 'android'],
    ])

    // Another Accept-Language is learned on its own: English from the app, then the same again.
    const en1 = await get(port, { headers: { 'accept-language': 'en-US,en;q=0.9' } })
    const en2 = await get(port, { headers: { 'accept-language': 'en-US,en;q=0.9' } })
    expect(h.neighbours.lookups).toBe(2)
    expect(comparable(en2)).toEqual(comparable(en1))
    expect(en1.body.toString()).toContain('lang="en')
    expect(en1.body.toString()).not.toEqual(first.body.toString())
  })

  it('leaves to the app a query, a cookie, HEAD, another path, a foreign Host and a phone the table does not know yet', async () => {
    const { port } = await listening()
    h.neighbours.set('127.0.0.1', PHONE).set('127.0.0.2', '3a:00:00:00:00:02')
    await get(port)
    expect(h.neighbours.lookups).toBe(1)

    const asked = await get(port, { path: '/?lang=en' })
    expect(h.neighbours.lookups).toBe(2)
    expect(String(asked.headers['set-cookie'])).toContain('bg_lang=en')
    expect(asked.body.toString()).toContain('lang="en')

    const cookie = await get(port, { headers: { cookie: 'bg_lang=en' } })
    expect(h.neighbours.lookups).toBe(3)
    expect(cookie.body.toString()).toContain('lang="en')

    const head = await get(port, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(h.neighbours.lookups).toBe(4)

    // A name pointed at the box: sent to the splash page, never served, however often.
    for (let i = 0; i < 2; i++) {
      const foreign = await get(port, { headers: { host: 'rebind.example' } })
      expect(foreign.status).toBe(302)
    }

    // The table has no entry it can give without asking: the app asks, every time.
    h.neighbours.unknown.add('127.0.0.2')
    await get(port, { from: '127.0.0.2' })
    await get(port, { from: '127.0.0.2' })
    expect(h.neighbours.lookups).toBe(6)
  })

  it("gives a phone let through, a customer's device and a staff device their own pages at once", async () => {
    const { port } = await listening({ staffMacs: [STAFF] })
    h.neighbours.set('127.0.0.1', PHONE).set('127.0.0.3', STAFF)
    expect((await get(port)).body.toString()).toContain('action="/login"')
    expect((await get(port)).body.toString()).toContain('action="/login"')

    // Let through by the CLI's path: the next GET / shows what it has, not the splash.
    await letThrough()
    const online = (await get(port)).body.toString()
    expect(online).toContain(t('es', 'online.title'))
    expect(online).not.toContain('action="/login"')
    await revoke()
    expect((await get(port)).body.toString()).toContain('action="/login"')

    // A customer's device, remembered after a login: welcome back, never the empty splash.
    const code = await (
      await h.post(
        '/login',
        { name: 'Ana Ruiz', phone: '55 1234 5678', consent: 'yes' },
        '127.0.0.1',
      )
    ).text()
    await h.post(
      '/verify',
      { challenge: challengeOf(code), code: h.sms.lastCodeTo('+525512345678') },
      '127.0.0.1',
    )
    await revoke()
    const back = (await get(port)).body.toString()
    expect(back).toContain('Ana')
    expect(back).toContain('action="/welcome-back"')

    // A staff device is let through and told so.
    const staff = await get(port, { from: '127.0.0.3' })
    expect(staff.body.toString()).toContain(t('es', 'staff.title'))
  })
})

describe("the probes' fast path", () => {
  const probe = (port: number, host: string, path: string) => get(port, { path, headers: { host } })

  it("answers a caught phone's probes with the app's redirect and counts each, without a neighbour lookup", async () => {
    const { port, funnel } = await listening()
    h.neighbours.set('127.0.0.1', PHONE)
    const first = await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')
    expect(h.neighbours.lookups).toBe(1)
    const second = await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')
    expect(h.neighbours.lookups).toBe(1)
    expect(first.status).toBe(302)
    expect(first.headers.location).toMatch(/^http:\/\/[^/]+\/$/)
    expect(first.headers['cache-control']).toBe('no-store')
    expect(comparable(second)).toEqual(comparable(first))
    expect(funnel).toEqual([
      ['probe', 'android'],
      ['probe', 'android'],
    ])
    // Any other page of a name learned foreign: the same redirect, as the app sends it.
    const page = await probe(port, 'connectivitycheck.gstatic.com', '/news/today.html')
    expect(comparable(page)).toEqual(comparable(first))
  })

  it('gives a phone let through what its OS expects, as the app does, and the redirect again once revoked', async () => {
    const { port } = await listening()
    h.neighbours.set('127.0.0.1', PHONE)
    await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')
    await probe(port, 'captive.apple.com', '/hotspot-detect.html')
    const asked = h.neighbours.lookups
    await letThrough()
    // The app's answers (a host not learned yet), then the fast path's (no lookup).
    const appAndroid = await probe(port, 'clients3.google.com', '/generate_204')
    const appApple = await probe(port, 'www.apple.com', '/library/test/success.html')
    expect(h.neighbours.lookups).toBe(asked + 2)
    const android = await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')
    const apple = await probe(port, 'captive.apple.com', '/hotspot-detect.html')
    expect(h.neighbours.lookups).toBe(asked + 2)
    expect(android.status).toBe(204)
    expect(comparable(android)).toEqual(comparable(appAndroid))
    expect(apple.status).toBe(200)
    expect(apple.body.toString()).toContain('Success')
    expect(comparable(apple)).toEqual(comparable(appApple))
    await revoke()
    expect((await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')).status).toBe(302)
  })

  it('leaves to the app a query, an encoded or dotted path, a backslash, another method and a phone the table does not know yet', async () => {
    const { port } = await listening()
    h.neighbours.set('127.0.0.1', PHONE).set('127.0.0.2', '3a:00:00:00:00:02')
    await probe(port, 'connectivitycheck.gstatic.com', '/generate_204')
    expect(h.neighbours.lookups).toBe(1)
    // The app decodes the path before it looks it up in the probe table.
    const encoded = await probe(port, 'connectivitycheck.gstatic.com', '/generate%5f204')
    expect(encoded.status).toBe(302)
    expect(h.neighbours.lookups).toBe(2)
    // … and resolves dot segments: this is the probe, for the app.
    const dotted = await probe(port, 'connectivitycheck.gstatic.com', '/./generate_204')
    expect(dotted.status).toBe(302)
    expect(h.neighbours.lookups).toBe(3)
    // A backslash is refused by the server in front of the app, never redirected.
    expect((await probe(port, 'connectivitycheck.gstatic.com', '/a\\b')).status).toBe(400)
    await probe(port, 'connectivitycheck.gstatic.com', '/generate_204?t=1')
    expect(h.neighbours.lookups).toBe(4)
    await get(port, {
      method: 'HEAD',
      path: '/generate_204',
      headers: { host: 'connectivitycheck.gstatic.com' },
    })
    expect(h.neighbours.lookups).toBe(5)
    h.neighbours.unknown.add('127.0.0.2')
    await get(port, {
      from: '127.0.0.2',
      path: '/generate_204',
      headers: { host: 'connectivitycheck.gstatic.com' },
    })
    expect(h.neighbours.lookups).toBe(6)
  })
})
