import { afterEach, describe, expect, it } from 'vitest'
import { findProbe, hostOf, PROBES } from '../src/portal/probes.js'
import { PHONE_MAC, challengeOf, portalHarness } from './helpers.js'

let h: ReturnType<typeof portalHarness>
afterEach(() => h?.close())

const PUBLIC_URL = 'http://10.99.1.1:8080'
const nftables = {
  publicUrl: PUBLIC_URL,
  gate: { backend: 'nftables', guestInterface: 'br-guest' },
}

const probe = (url: string) => {
  const u = new URL(url)
  return h.request(u.pathname, { headers: { host: u.host } })
}

async function logIn() {
  const host = { host: '10.99.1.1:8080' }
  const started = await h.post(
    '/login',
    { name: 'Ana', phone: '55 1234 5678', consent: 'yes' },
    undefined,
    host,
  )
  const html = await started.text()
  const code = h.sms.sent.at(-1)!.code
  const done = await h.post('/verify', { challenge: challengeOf(html), code }, undefined, host)
  expect(done.status).toBe(200)
}

/** Each OS's probe, and exactly what it must read once the device is online. */
const EXPECTED: Array<[string, number, string | null]> = [
  [
    'http://captive.apple.com/hotspot-detect.html',
    200,
    '<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>',
  ],
  [
    'http://www.apple.com/library/test/success.html',
    200,
    '<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>',
  ],
  ['http://connectivitycheck.gstatic.com/generate_204', 204, ''],
  ['http://www.google.com/gen_204', 204, ''],
  ['http://clients3.google.com/generate_204', 204, ''],
  ['http://www.gstatic.com/generate_204', 204, ''],
  ['http://www.msftconnecttest.com/connecttest.txt', 200, 'Microsoft Connect Test'],
  ['http://www.msftncsi.com/ncsi.txt', 200, 'Microsoft NCSI'],
  [
    'http://detectportal.firefox.com/canonical.html',
    200,
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
  ],
  ['http://detectportal.firefox.com/success.txt', 200, 'success\n'],
  ['http://nmcheck.gnome.org/check_network_status.txt', 200, 'NetworkManager is online\n'],
]

describe('captive-portal detection', () => {
  it('sends every OS probe to the splash page before login', async () => {
    h = portalHarness(nftables)
    for (const [url] of EXPECTED) {
      const res = await probe(url)
      expect(res.status, url).toBe(302)
      expect(res.headers.get('location'), url).toBe(`${PUBLIC_URL}/`)
      expect(res.headers.get('cache-control'), url).toBe('no-store')
    }
  })

  it('answers each probe exactly as its OS expects once the device is let through', async () => {
    h = portalHarness(nftables)
    await logIn()
    for (const [url, status, body] of EXPECTED) {
      const res = await probe(url)
      expect(res.status, url).toBe(status)
      expect(await res.text(), url).toBe(body)
    }
  })

  it('catches the device again once its access is revoked', async () => {
    h = portalHarness(nftables)
    await logIn()
    expect((await probe('http://captive.apple.com/hotspot-detect.html')).status).toBe(200)
    await h.app.access.setDeviceState({
      next: 'blocked',
      mac: PHONE_MAC as any,
      reason: 'revoke',
      actor: 'cli',
    })
    expect((await probe('http://captive.apple.com/hotspot-detect.html')).status).toBe(302)
  })

  it('sends plain HTTP for any other site (redirected by nftables) to the splash page', async () => {
    h = portalHarness(nftables)
    const res = await probe('http://10.99.2.2/some/page?x=1')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(`${PUBLIC_URL}/`)
    const own = await probe(`${PUBLIC_URL}/`)
    expect(own.status).toBe(200)
    expect(await own.text()).toContain('<form method="post" action="/login"')
  })

  it('serves its loopback names in the dry-run demo and still catches probes there', async () => {
    h = portalHarness({ publicUrl: 'http://localhost:8080' })
    expect((await probe('http://127.0.0.1:8080/')).status).toBe(200)
    expect((await probe('http://captive.apple.com/hotspot-detect.html')).status).toBe(302)
  })

  it('with PORT set and no publicUrl, sends guests to the port the portal really listens on', async () => {
    h = portalHarness({}, { PORT: '9090' })
    const before = await probe('http://captive.apple.com/hotspot-detect.html')
    expect(before.status).toBe(302)
    expect(before.headers.get('location')).toBe('http://localhost:9090/')
    expect(await (await h.request('/api/captive')).json()).toEqual({
      captive: true,
      'user-portal-url': 'http://localhost:9090/',
    })
    // The origin-bound line names a host, never a port (the WICG format has no port).
    const html = await (
      await h.post('/login', { name: 'Ana', phone: '55 1234 5678', consent: 'yes' })
    ).text()
    const sms = h.sms.sent.at(-1)!
    expect(sms.text).toMatch(new RegExp(`\\n@localhost #${sms.code}$`))
    expect(sms.text).not.toContain('8080')
    // The splash page itself, asked for by the name guests were sent to, is served, not redirected.
    expect((await h.request('/', { headers: { host: 'localhost:9090' } })).status).toBe(200)
    expect(challengeOf(html)).toBeTruthy()
  })

  it('finds probes by host and path only', () => {
    expect(hostOf('Captive.Apple.com:80')).toBe('captive.apple.com')
    expect(hostOf('captive.apple.com.')).toBe('captive.apple.com')
    expect(hostOf('[::1]:8080')).toBe('[::1]')
    expect(findProbe('captive.apple.com', '/hotspot-detect.html')?.os).toBe('iOS/macOS')
    expect(findProbe('captive.apple.com', '/other')).toBeNull()
    expect(findProbe('evil.example', '/generate_204')).toBeNull()
    // Every host and path of the table is found again, as the probe it belongs to.
    for (const p of PROBES)
      for (const host of p.hosts)
        for (const pathname of p.paths) expect(findProbe(host, pathname)?.paths).toBe(p.paths)
    expect(PROBES.map((p) => [p.os, p.hosts.length])).toEqual([
      ['iOS/macOS', 7],
      ['Android/ChromeOS/Chrome', 8],
      ['Windows', 2],
      ['Windows (legacy)', 1],
      ['Firefox', 1],
      ['Firefox', 1],
      ['GNOME/NetworkManager', 1],
      ['Ubuntu', 1],
    ])
  })
})
