import { afterEach, describe, expect, it } from 'vitest'
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
