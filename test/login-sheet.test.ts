import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PROBES } from '../src/portal/probes.js'
import { challengeOf, portalHarness } from './helpers.js'

// The login sheet closes itself (issue 18; docs/gateway.md, "The login sheet closes itself"):
// every OS re-checks after a page load in its sheet. The code is checked by a plain form post
// answered with a whole page (a navigation, not a script's call), and from that very instant —
// the fake clock does not move — the RFC 8908 API says captive:false and each OS's probe reads
// exactly its "online" answer, so the sheet can turn to "Done" (or close, on Android).

const PUBLIC_URL = 'http://10.99.1.1:8080'
let h: ReturnType<typeof portalHarness>
afterEach(() => h?.close())

describe('the login sheet after the code', () => {
  it('gets a whole page from a form post, then captive:false and every OS probe’s online answer at once', async () => {
    h = portalHarness({
      publicUrl: PUBLIC_URL,
      gate: { backend: 'nftables', guestInterface: 'br0' },
    })
    const host = { host: '10.99.1.1:8080' }
    const probe = (p: (typeof PROBES)[number]) =>
      h.request(p.paths[0]!, { headers: { host: p.hosts[0]! } })

    // Before: every probe is sent to the splash page (the sheet opens), the API says captive.
    for (const p of PROBES) {
      const res = await probe(p)
      expect([p.os, res.status, res.headers.get('location')]).toEqual([p.os, 302, `${PUBLIC_URL}/`])
    }
    const splash = await (await h.request('/', { headers: host })).text()
    // The pages carry no script: nothing but a navigation can move the sheet on.
    expect(splash).not.toMatch(/<script|\son\w+=/i)
    expect(splash).toMatch(/<form method="post" action="\/login"/)
    const code = await (
      await h.post(
        '/login',
        { name: 'Ana', phone: '55 1234 5678', consent: 'yes' },
        undefined,
        host,
      )
    ).text()
    expect(code).toMatch(/<form method="post" action="\/verify"/)
    const at = h.clock.now()
    const done = await h.post(
      '/verify',
      { challenge: challengeOf(code), code: h.sms.lastCodeTo('+525512345678') },
      undefined,
      host,
    )
    // A navigation: a whole HTML page, never cached, no redirect for the sheet to lose.
    expect(done.status).toBe(200)
    expect(done.headers.get('content-type')).toBe('text/html; charset=UTF-8')
    expect(done.headers.get('cache-control')).toBe('no-store')
    const welcome = await done.text()
    expect(welcome).toMatch(/^<!doctype html>/)
    expect(welcome).toContain('Puedes cerrar esta ventana y seguir navegando.')
    expect(welcome).not.toMatch(/<script/i)

    // At once (same instant): the RFC 8908 API and every probe say online.
    expect(h.clock.now()).toBe(at)
    const api = await h.request('/api/captive', { headers: host })
    expect(api.headers.get('content-type')).toBe('application/captive+json')
    expect(await api.json()).toEqual({
      captive: false,
      'user-portal-url': `${PUBLIC_URL}/`,
      'seconds-remaining': 8 * 3600,
      'can-extend-session': false,
    })
    for (const p of PROBES) {
      const res = await probe(p)
      expect([p.os, res.status, await res.text()]).toEqual([p.os, p.online.status, p.online.body])
    }
  })
})

/**
 * Each OS family's own check, as its vendor documents or ships it, written here apart from
 * src/portal/probes.ts so that a wrong answer in that table fails: the URL the OS fetches, the
 * User-Agent of its check and of its sheet, and the rule by which it decides "online".
 */
interface OsSheet {
  os: string
  /** The probe as the OS sends it (host, path, its check's User-Agent). */
  host: string
  path: string
  probeAgent: string
  /** The sheet's (or browser's) User-Agent for the pages, and the family the console counts. */
  sheetAgent: string
  family: string
  /** The OS's rule: does this answer mean the network is online? */
  online(res: { status: number; body: string; headers: Headers }): boolean
  /** Whether this OS also reads the RFC 8908 API (DHCP option 114). */
  readsApi: boolean
  /** What the user sees once online. */
  after: string
}

const CHROME_DESKTOP =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.32 Safari/537.36'
/** Android and ChromeOS (AOSP NetworkMonitor): 204, or a 200 with no content, is validated. */
const validated204 = (r: { status: number; body: string }) =>
  r.status === 204 || (r.status === 200 && r.body === '')
/** Apple's Captive Network Assistant: the "Success" page. */
const appleSuccess = (r: { status: number; body: string }) =>
  r.status === 200 &&
  /<TITLE>Success<\/TITLE>/i.test(r.body) &&
  /<BODY>Success<\/BODY>/i.test(r.body)

const OS_SHEETS: OsSheet[] = [
  {
    os: 'iOS',
    host: 'captive.apple.com',
    path: '/hotspot-detect.html',
    probeAgent: 'CaptiveNetworkSupport-481.0.1 wispr',
    sheetAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
    family: 'ios',
    online: appleSuccess,
    readsApi: true,
    after: 'Done',
  },
  {
    os: 'macOS',
    host: 'captive.apple.com',
    path: '/hotspot-detect.html',
    probeAgent: 'CaptiveNetworkSupport-481.0.1 wispr',
    sheetAgent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
    family: 'macos',
    online: appleSuccess,
    readsApi: true,
    after: 'Done',
  },
  {
    os: 'Android',
    host: 'connectivitycheck.gstatic.com',
    path: '/generate_204',
    probeAgent: CHROME_DESKTOP, // NetworkMonitor's default probe User-Agent
    sheetAgent:
      'Mozilla/5.0 (Linux; Android 15; Pixel 8 Build/AP4A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0 Mobile Safari/537.36',
    family: 'android',
    online: validated204,
    readsApi: true,
    after: 'the sheet closes',
  },
  {
    os: 'Android (fallback probe)',
    host: 'www.google.com',
    path: '/gen_204',
    probeAgent: CHROME_DESKTOP,
    sheetAgent:
      'Mozilla/5.0 (Linux; Android 14; SM-A546B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0 Mobile Safari/537.36',
    family: 'android',
    online: validated204,
    readsApi: true,
    after: 'the sheet closes',
  },
  {
    os: 'ChromeOS',
    host: 'clients3.google.com',
    path: '/generate_204',
    probeAgent: CHROME_DESKTOP,
    sheetAgent:
      'Mozilla/5.0 (X11; CrOS x86_64 15917.71.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
    family: 'chromeos',
    online: validated204,
    readsApi: false,
    after: 'the sign-in window closes',
  },
  {
    os: 'Windows 10/11',
    host: 'www.msftconnecttest.com',
    path: '/connecttest.txt',
    probeAgent: 'Microsoft NCSI',
    sheetAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0',
    family: 'windows',
    online: (r) => r.status === 200 && r.body === 'Microsoft Connect Test',
    readsApi: false,
    after: 'the network icon turns online',
  },
  {
    os: 'Windows (before 10)',
    host: 'www.msftncsi.com',
    path: '/ncsi.txt',
    probeAgent: 'Microsoft NCSI',
    sheetAgent: 'Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0',
    family: 'windows',
    online: (r) => r.status === 200 && r.body === 'Microsoft NCSI',
    readsApi: false,
    after: 'the network icon turns online',
  },
  {
    os: 'Firefox',
    host: 'detectportal.firefox.com',
    path: '/canonical.html',
    probeAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    sheetAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    family: 'linux',
    // captivedetect.canonicalContent, compared whole.
    online: (r) =>
      r.status === 200 &&
      r.body ===
        '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    readsApi: false,
    after: 'the "log in to this network" bar goes away',
  },
  {
    os: 'GNOME (NetworkManager)',
    host: 'nmcheck.gnome.org',
    path: '/check_network_status.txt',
    probeAgent: 'NetworkManager/1.46.0',
    sheetAgent:
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 Epiphany/46',
    family: 'linux',
    // NetworkManager: the X-NetworkManager-Status header, or a body that starts with the response.
    online: (r) =>
      r.status === 200 &&
      (r.headers.get('x-networkmanager-status') === 'online' ||
        r.body.startsWith('NetworkManager is online')),
    readsApi: false,
    after: 'connectivity turns to full',
  },
  {
    os: 'Ubuntu (NetworkManager)',
    // Ubuntu's connectivity URI ends its host with a dot and sets no response: 204 expected.
    host: 'connectivity-check.ubuntu.com.',
    path: '/',
    probeAgent: 'NetworkManager/1.46.0',
    sheetAgent: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    family: 'linux',
    online: (r) => r.status === 204,
    readsApi: false,
    after: 'connectivity turns to full',
  },
]

describe('each OS family’s check, before and after the code', () => {
  // One branch for every OS: each its own device and number.
  let sheets: ReturnType<typeof portalHarness>
  let n = 0
  beforeAll(() => {
    sheets = portalHarness({
      publicUrl: PUBLIC_URL,
      gate: { backend: 'nftables', guestInterface: 'br0' },
    })
  })
  afterAll(() => sheets?.close())

  it.each(OS_SHEETS)(
    '$os: the probe opens the sheet, the code comes by a navigation, and the same probe then reads online ($after)',
    async (os) => {
      n++
      const ip = `10.99.1.${50 + n}`
      sheets.neighbours.set(ip, `3a:b0:00:00:00:${(0x20 + n).toString(16)}`)
      const number = { typed: `55 1234 56${10 + n}`, e164: `+5255123456${10 + n}` }
      const portal = { host: '10.99.1.1:8080', 'user-agent': os.sheetAgent }
      const check = async () => {
        const res = await sheets.request(
          os.path,
          { headers: { host: os.host, 'user-agent': os.probeAgent }, redirect: 'manual' },
          ip,
        )
        return { status: res.status, headers: res.headers, body: await res.text() }
      }
      const api = async () =>
        (await (await sheets.request('/api/captive', { headers: portal }, ip)).json()) as {
          captive: boolean
        }

      // Joining: the OS's own rule says "not online", and the answer leads to the splash page.
      const before = await check()
      expect(os.online(before)).toBe(false)
      expect([before.status, before.headers.get('location')]).toEqual([302, `${PUBLIC_URL}/`])
      if (os.readsApi) expect((await api()).captive).toBe(true)

      // The sheet (or browser) opens the splash page and the customer signs in.
      const splash = await sheets.request('/', { headers: portal }, ip)
      expect(splash.status).toBe(200)
      const code = await (
        await sheets.post(
          '/login',
          { name: 'Inés Prieto', phone: number.typed, consent: 'yes' },
          ip,
          portal,
        )
      ).text()
      const welcome = await sheets.post(
        '/verify',
        { challenge: challengeOf(code), code: sheets.sms.lastCodeTo(number.e164) },
        ip,
        portal,
      )
      // A navigation: a whole page, from which every OS checks again.
      expect(welcome.status).toBe(200)
      expect(await welcome.text()).toMatch(/^<!doctype html>[\s\S]*Puedes cerrar esta ventana/)

      // The same instant: the OS's own rule now says "online".
      const after = await check()
      expect(os.online(after), JSON.stringify({ status: after.status, body: after.body })).toBe(
        true,
      )
      if (os.readsApi) expect((await api()).captive).toBe(false)
      // The arrival counted under the sheet's OS family.
      expect(
        sheets.db
          .prepare(`SELECT os_family FROM device_arrivals ORDER BY id DESC LIMIT 1`)
          .pluck()
          .get(),
      ).toBe(os.family)
    },
  )

  it('sends Windows’ browser, opened at msftconnecttest.com/redirect, to the splash page', async () => {
    const ip = '10.99.1.99'
    sheets.neighbours.set(ip, '3a:b0:00:00:00:99')
    const res = await sheets.request(
      '/redirect',
      { headers: { host: 'www.msftconnecttest.com' }, redirect: 'manual' },
      ip,
    )
    expect([res.status, res.headers.get('location')]).toEqual([302, `${PUBLIC_URL}/`])
  })
})
