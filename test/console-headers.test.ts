import { afterEach, describe, expect, it } from 'vitest'
import { consoleHarness } from './console-harness.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

describe('console response headers', () => {
  it('sends every page, error pages too, unframeable, uncached, unsniffed, with its CSP', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'admin')
    const pages = ['/login', '/', '/customers', '/audit', '/no-such-page']
    for (const p of pages) {
      const res = await (p === '/login' ? h.browser() : b).get(p)
      expect(res.headers.get('content-type'), p).toMatch(/^text\/html/)
      expect(res.headers.get('content-security-policy'), p).toBe(CSP)
      expect(res.headers.get('x-frame-options'), p).toBe('DENY')
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff')
      // same-origin, not no-referrer: the browser then sends Origin on the console's own posts.
      expect(res.headers.get('referrer-policy'), p).toBe('same-origin')
      expect(res.headers.get('cache-control'), p).toBe('no-store')
    }
  })

  it('sends the style sheet, a download and the health check uncached and unsniffed', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'admin')
    const responses = {
      css: await b.get('/console.css'),
      health: await b.get('/healthz'),
      csv: await b.submit('/export/visits.csv', { from: '2026-03-01', to: '2026-03-02' }),
    }
    for (const [what, res] of Object.entries(responses)) {
      expect(res.status, what).toBe(200)
      expect(res.headers.get('x-content-type-options'), what).toBe('nosniff')
      expect(res.headers.get('referrer-policy'), what).toBe('same-origin')
      expect(res.headers.get('cache-control'), what).toBe('no-store')
    }
  })

  it('never pins the console to https (Strict-Transport-Security), TLS or not', async () => {
    for (const tls of [false, true]) {
      h = consoleHarness(
        tls
          ? {
              console: {
                tls: { certFile: '/etc/branchgate/console.crt', keyFile: '/etc/branchgate/c.key' },
              },
            }
          : {},
      )
      const res = await h.browser().get('/login')
      expect(res.status).toBe(200)
      expect(res.headers.get('strict-transport-security'), `tls ${tls}`).toBeNull()
      await h.close()
    }
  })
})

describe('console form posts', () => {
  it('takes a post with the right token from the same origin, or with neither Origin nor Sec-Fetch-Site', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'admin')
    const sameOrigin = await b.post(
      '/customers/1/erase',
      { _csrf: await b.csrf() },
      { origin: b.origin, 'sec-fetch-site': 'same-origin' },
    )
    expect(sameOrigin.status).toBe(404) // past the checks: there is no customer 1
    const bare = await b.post('/customers/1/erase', { _csrf: await b.csrf() })
    expect(bare.status).toBe(404)
  })

  it('refuses a post from another site even with the right token', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'admin')
    const cases: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: `http://127.0.0.1:${h.config.listen.admin.port + 1}` },
      { 'sec-fetch-site': 'cross-site' },
      { origin: b.origin, 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of cases) {
      const res = await b.post('/customers/1/erase', { _csrf: await b.csrf() }, headers)
      expect(res.status, JSON.stringify(headers)).toBe(403)
    }
  })
})
