import { afterEach, describe, expect, it } from 'vitest'
import { consoleHarness, csrfOf, OFFICE_IP, PASSWORD } from './console-harness.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const PAGES = [
  '/',
  '/visits',
  '/customers',
  '/customers/1',
  '/export',
  '/campaigns',
  '/campaigns/report?c=x',
  '/sync',
  '/audit',
  '/password',
]
const POSTS = [
  '/logout',
  '/password',
  '/customers/1/export',
  '/customers/1/erase',
  '/customers/1/devices/3a:11:22:33:44:55/staff',
  '/export/visits.csv',
  '/campaigns/import',
]

describe('console access', () => {
  it('shows no page without sign-in and sends the reader to the sign-in form', async () => {
    h = consoleHarness()
    const b = h.browser()
    for (const p of PAGES) {
      const res = await b.get(p)
      expect(res.status, p).toBe(303)
      expect(res.headers.get('location'), p).toBe(`/login?next=${encodeURIComponent(p)}`)
    }
  })

  it('refuses every form post without a session', async () => {
    h = consoleHarness()
    const b = h.browser()
    for (const p of POSTS) {
      const res = await b.post(p, { _csrf: 'guess' })
      expect([401, 403], p).toContain(res.status)
    }
  })

  it('signs in with a session cookie that is HttpOnly and SameSite=Strict, and records it', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const b = h.browser()
    const res = await b.login('maria', PASSWORD)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
    const cookie = b.lastSetCookies.find((c) => c.startsWith('bg_console='))!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).not.toMatch(/Secure/)
    expect((await b.get('/')).status).toBe(200)
    const actions = h.db
      .prepare(`SELECT action, subject FROM audit_log WHERE action LIKE 'console.login%'`)
      .all()
    expect(actions).toEqual([{ action: 'console.login', subject: 'maria' }])
  })

  it('marks the session cookie Secure when the console runs TLS', async () => {
    h = consoleHarness({
      console: {
        tls: { certFile: '/etc/branchgate/console.crt', keyFile: '/etc/branchgate/console.key' },
      },
    })
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const b = h.browser()
    await b.login('maria', PASSWORD)
    expect(b.lastSetCookies.find((c) => c.startsWith('bg_console='))).toMatch(/Secure/)
  })

  it('refuses a wrong password with the same answer as an unknown user, and logs both', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const wrong = await h.browser().login('maria', 'not-the-password')
    const unknown = await h.browser().login('nobody', 'not-the-password')
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    expect(await wrong.text()).toContain('Usuario o contraseña incorrectos.')
    const failed = h.db
      .prepare(
        `SELECT subject, reason FROM audit_log WHERE action = 'console.login.failed' ORDER BY id`,
      )
      .all()
    expect(failed).toEqual([
      { subject: 'maria', reason: 'wrong-password' },
      { subject: 'nobody', reason: 'unknown-user' },
    ])
  })

  it('locks a user name after five failures, even with the right password, until the window passes', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    for (let i = 0; i < 5; i++)
      expect((await h.browser(`10.0.0.${i}`).login('maria', 'wrong-password!')).status).toBe(401)
    const locked = await h.browser().login('maria', PASSWORD)
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBe(15 * 60)
    h.clock.advance({ minutes: 15, seconds: 1 })
    expect((await h.browser().login('maria', PASSWORD)).status).toBe(303)
  })

  it('locks a client address after twenty failures whatever names it tries', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    for (let i = 0; i < 20; i++) await h.browser(OFFICE_IP).login(`user${i}`, 'wrong-password!')
    expect((await h.browser(OFFICE_IP).login('maria', PASSWORD)).status).toBe(429)
    expect((await h.browser('192.168.50.11').login('maria', PASSWORD)).status).toBe(303)
  })

  it('judges no more than five guesses at one name when forty arrive at once', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    // Each guess from its own address, each with its own sign-in form, all posted together.
    const guessers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const b = h.browser(`10.1.0.${i + 1}`)
        return { b, csrf: csrfOf(await (await b.get('/login')).text()) }
      }),
    )
    const answers = await Promise.all(
      guessers.map(({ b, csrf }, i) =>
        b.post('/login', { _csrf: csrf, name: 'maria', password: `guess-number-${i}` }),
      ),
    )
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(35)
    const judged = h.db
      .prepare(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'console.login.failed'`)
      .get()
    expect(judged).toEqual({ n: 5 })
    // The right password now waits for the window too.
    expect((await h.browser().login('maria', PASSWORD)).status).toBe(429)
  })

  it('judges no more than twenty guesses from one address when forty arrive at once', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const guessers = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const b = h.browser(OFFICE_IP)
        return { b, csrf: csrfOf(await (await b.get('/login')).text()) }
      }),
    )
    const answers = await Promise.all(
      guessers.map(({ b, csrf }, i) =>
        b.post('/login', { _csrf: csrf, name: `user${i}`, password: 'wrong-password!' }),
      ),
    )
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(20)
    expect(statuses.filter((s) => s === 429)).toHaveLength(20)
    expect((await h.browser(OFFICE_IP).login('maria', PASSWORD)).status).toBe(429)
  })

  it('lets the right password in while guesses at the same name are judged, and keeps counting the later ones', async () => {
    h = consoleHarness()
    const auth = h.app.consoleAuth
    await auth.add('maria', 'manager', PASSWORD, 'test')
    // Each call counts its attempt before its first await, so the order here is the order counted.
    const first = auth.login('maria', 'guess-number-1', '10.2.0.1')
    const owner = auth.login('maria', PASSWORD, OFFICE_IP)
    const later = auth.login('maria', 'guess-number-2', '10.2.0.2')
    const settled = await Promise.allSettled([first, owner, later])
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'rejected'])
    // Her success forgets the failure before it, not the guess that came after it.
    const left = h.db.prepare(`SELECT ip FROM console_login_failures`).all()
    expect(left).toEqual([{ ip: '10.2.0.2' }])
  })

  it('counts wrong current passwords like failed sign-ins, even when they are sent all at once', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const csrf = await b.csrf()
    const change = (current: string) =>
      b.post('/password', {
        _csrf: csrf,
        current,
        next: 'otra-clave-segura-1',
        again: 'otra-clave-segura-1',
      })
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => change(`guess-number-${i}`)),
    )
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 422)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(3)
    const locked = await change(PASSWORD)
    expect(locked.status).toBe(429)
    expect(await locked.text()).toContain('Demasiados intentos fallidos.')
    expect((await h.browser('192.168.50.77').login('maria', PASSWORD)).status).toBe(429)
    h.clock.advance({ minutes: 15, seconds: 1 })
    expect((await change(PASSWORD)).status).toBe(303)
  })

  it('refuses a form post without the CSRF token, with a wrong one, or from another site', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    expect((await b.post('/logout', {})).status).toBe(403)
    expect((await b.post('/logout', { _csrf: 'x'.repeat(32) })).status).toBe(403)
    const token = await b.csrf()
    expect(
      (await b.post('/logout', { _csrf: token }, { origin: 'http://evil.example' })).status,
    ).toBe(403)
    expect((await b.get('/')).status).toBe(200)
    expect((await b.post('/logout', { _csrf: token })).status).toBe(303)
    expect((await b.get('/')).status).toBe(303)
  })

  it('refuses a sign-in post that did not come from the sign-in form', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const b = h.browser()
    expect((await b.post('/login', { name: 'maria', password: PASSWORD })).status).toBe(403)
    const page = await (await h.browser().get('/login')).text()
    expect(
      (await b.post('/login', { _csrf: csrfOf(page), name: 'maria', password: PASSWORD })).status,
    ).toBe(403)
  })

  it('keeps a sign-in form valid when a second sign-in page is opened (e.g. the favicon bounce)', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const b = h.browser()
    const form = await (await b.get('/login')).text()
    expect((await b.get('/favicon.ico')).status).toBe(204)
    await b.get('/login?next=%2Fcustomers')
    expect(
      (await b.post('/login', { _csrf: csrfOf(form), name: 'maria', password: PASSWORD })).status,
    ).toBe(303)
  })

  it('ends a session after the idle time', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    h.clock.advance({ minutes: 29 })
    expect((await b.get('/')).status).toBe(200)
    h.clock.advance({ minutes: 29 })
    expect((await b.get('/')).status).toBe(200)
    h.clock.advance({ minutes: 31 })
    expect((await b.get('/')).status).toBe(303)
  })

  it('lets managers read reports but keeps erasure, sync and the audit log for admins', async () => {
    h = consoleHarness()
    h.db
      .prepare(
        `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES (1, '+525512345678', 'Ana', 'es', 1, 1, 1)`,
      )
      .run()
    const manager = await h.signedIn('maria', 'manager')
    for (const p of ['/', '/visits', '/customers', '/customers/1', '/export', '/campaigns']) {
      expect((await manager.get(p)).status, p).toBe(200)
    }
    for (const p of ['/audit', '/sync', '/customers/1/erase'])
      expect((await manager.get(p)).status, p).toBe(403)
    expect((await manager.submit('/customers/1/erase', { confirm: 'yes' })).status).toBe(403)
    expect(h.db.prepare('SELECT name FROM customers WHERE id = 1').get()).toEqual({ name: 'Ana' })
    const nav = await (await manager.get('/')).text()
    expect(nav).not.toContain('href="/audit"')

    const admin = await h.signedIn('root', 'admin')
    for (const p of ['/audit', '/sync', '/customers/1/erase'])
      expect((await admin.get(p)).status, p).toBe(200)
    expect(await (await admin.get('/audit')).text()).toContain('console.login')
  })

  it("lets an admin mark a customer's device as staff, audited, and not a manager", async () => {
    h = consoleHarness()
    h.db
      .prepare(
        `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES (1, '+525512345678', 'Ana', 'es', 1, 1, 1)`,
      )
      .run()
    h.db
      .prepare(
        `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at) VALUES ('3a:11:22:33:44:55', 1, 1, 1)`,
      )
      .run()
    const path = '/customers/1/devices/3a:11:22:33:44:55/staff'
    const manager = await h.signedIn('maria', 'manager')
    expect((await manager.submit(path, { staff: '1' })).status).toBe(403)
    const admin = await h.signedIn('root', 'admin')
    expect((await admin.post(path, { staff: '1' })).status).toBe(403) // no CSRF token
    const isStaff = () => h.db.prepare(`SELECT is_staff FROM devices`).get()
    expect(isStaff()).toEqual({ is_staff: 0 })
    expect(await (await admin.get('/customers/1')).text()).toContain('Marcar como personal')
    const res = await admin.submit(path, { staff: '1' })
    expect(res.status).toBe(303)
    expect(isStaff()).toEqual({ is_staff: 1 })
    expect(await (await admin.get('/customers/1')).text()).toContain('Ya no es personal')
    await admin.submit(path, { staff: '0' })
    expect(isStaff()).toEqual({ is_staff: 0 })
    const audit = h.db
      .prepare(
        `SELECT action, subject, actor FROM audit_log WHERE action LIKE 'device.%' ORDER BY id`,
      )
      .all()
    expect(audit).toEqual([
      { action: 'device.staff', subject: '3a:11:22:33:44:55', actor: 'user:root' },
      { action: 'device.unstaff', subject: '3a:11:22:33:44:55', actor: 'user:root' },
    ])
    expect(
      (await admin.submit('/customers/1/devices/aa:bb:cc:dd:ee:ff/staff', { staff: '1' })).status,
    ).toBe(404)
  })

  it('makes the demo admin choose a new password before anything else', async () => {
    h = consoleHarness()
    const first = await h.app.consoleAuth.createFirstAdmin()
    expect(first?.name).toBe('admin')
    expect(await h.app.consoleAuth.createFirstAdmin()).toBeNull()
    const b = h.browser()
    const res = await b.login('admin', first!.password)
    expect(res.headers.get('location')).toBe('/password')
    expect((await b.get('/')).headers.get('location')).toBe('/password')
    const changed = await b.submit('/password', {
      current: first!.password,
      next: 'nueva-clave-123',
      again: 'nueva-clave-123',
    })
    expect(changed.status).toBe(303)
    expect((await b.get('/')).status).toBe(200)
    expect((await h.browser().login('admin', first!.password)).status).toBe(401)
  })

  it('goes back after sign-in only to a page of the console itself', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const cases: Array<[string, string]> = [
      ['//evil.example', '/'],
      ['https://evil.example/visits', '/'],
      ['/\\evil.example', '/'],
      ['\\\\evil.example', '/'],
      ['/\t/evil.example', '/'],
      ['/visits\r\nSet-Cookie: bg_console=stolen', '/'],
      ['/visits\nx', '/'],
      ['/..//evil.example', '/'],
      ['/./%2e%2e//evil.example', '/'],
      ['javascript:alert(1)', '/'],
      ['http://127.0.0.1:8081.evil.example/', '/'],
      ['/visits?range=7', '/visits?range=7'],
      ['/customers/12', '/customers/12'],
      ['http://127.0.0.1:8081/export', '/export'],
      ['/campañas', '/campa%C3%B1as'],
    ]
    for (const [next, expected] of cases) {
      h.db.prepare('DELETE FROM console_login_failures').run()
      const b = h.browser()
      const page = await b.get(`/login?next=${encodeURIComponent(next)}`)
      expect(page.status, JSON.stringify(next)).toBe(200)
      const hidden = /name="next" value="([^"]*)"/.exec(await page.text())?.[1]
      expect(hidden, JSON.stringify(next)).toBe(expected)
      const res = await b.post('/login', {
        _csrf: b.cookies.get('bg_console_login')!,
        name: 'maria',
        password: PASSWORD,
        next,
      })
      expect(res.status, JSON.stringify(next)).toBe(303)
      expect(res.headers.get('location'), JSON.stringify(next)).toBe(expected)
    }
  })

  it('never writes a protocol-relative language link, whatever path was asked for', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const res = await b.get('//evil.example/x?y=1')
    expect(res.status).toBe(404)
    const links = [...(await res.text()).matchAll(/hreflang="en"|href="([^"]*lang=en[^"]*)"/g)]
      .map((m) => m[1])
      .filter(Boolean)
    expect(links.length).toBeGreaterThan(0)
    for (const href of links) expect(href).toMatch(/^\/[^/\\]/)
  })

  it('is not reachable from the guest listener', async () => {
    h = consoleHarness()
    await h.app.consoleAuth.add('maria', 'admin', PASSWORD, 'test')
    const guest = (p: string, init: RequestInit = {}) =>
      h.app.portal.request(p, init, { incoming: { socket: { remoteAddress: '10.20.0.15' } } })
    for (const p of [
      '/login',
      '/customers',
      '/visits',
      '/export',
      '/campaigns',
      '/audit',
      '/sync',
      '/console.css',
      '/password',
    ]) {
      const res = await guest(p)
      expect(res.status, p).toBe(404)
      expect(await res.text(), p).not.toContain('_csrf')
    }
    const post = await guest('/login', {
      method: 'POST',
      body: new URLSearchParams({ name: 'maria', password: PASSWORD }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(post.headers.getSetCookie().some((c) => c.startsWith('bg_console='))).toBe(false)
    // And the portal's own pages are not on the console listener.
    expect((await h.browser().get('/api/captive')).status).not.toBe(200)
  })
})

describe('sync panel', () => {
  it('says when no CRM sync is configured', async () => {
    h = consoleHarness()
    const admin = await h.signedIn('root', 'admin')
    expect(await (await admin.get('/sync')).text()).toContain(
      'La sincronización con el CRM no está configurada.',
    )
  })

  it('shows pending and parked events with the CRM answer', async () => {
    h = consoleHarness()
    h.sync.current = {
      pending: 12,
      oldestPendingAt: h.clock.now() - 3_600_000,
      lastSuccessAt: h.clock.now() - 7_200_000,
      lastError: { at: h.clock.now() - 60_000, message: 'HTTP 503 from CRM' },
      parked: [
        {
          id: 'ev-1',
          kind: 'customer.upsert',
          createdAt: h.clock.now(),
          attempts: 8,
          lastResponse: '422 <invalid phone>',
        },
      ],
    }
    const admin = await h.signedIn('root', 'admin')
    const html = await (await admin.get('/sync')).text()
    expect(/id="sync-pending">(\d+)</.exec(html)?.[1]).toBe('12')
    expect(html).toContain('HTTP 503 from CRM')
    expect(html).toContain('422 &lt;invalid phone&gt;')
  })
})

describe('SMS provider figures', () => {
  it('shows the breaker, the daily budget and each provider with counts and latency', async () => {
    h = consoleHarness()
    h.smsStats.current = {
      breaker: {
        open: true,
        until: h.clock.now() + 20 * 60_000,
        reason: '61 codes in the last hour (limit 60)',
      },
      budget: { used: 57, limit: 400, exhausted: false, resetsAt: h.clock.now() + 3_600_000 },
      blockedPrefixes: [
        { id: 1, prefix: '+52551234', until: h.clock.now() + 60_000, reason: 'low conversion' },
      ],
      providers: [
        { provider: 'twilio', sent: 120, failed: 3, unreachable: 1, p50Ms: 412, p95Ms: 1890 },
      ],
      health: [],
    }
    const admin = await h.signedIn('root', 'admin')
    const html = await (await admin.get('/sync')).text()
    expect(html).toMatch(
      /<td>twilio<\/td><td class="num">120<\/td><td class="num">3<\/td><td class="num">1<\/td><td class="num">412 ms<\/td><td class="num">1890 ms<\/td>/,
    )
    expect(html).toContain('id="sms-breaker"')
    expect(html).toContain('61 codes in the last hour (limit 60)')
    expect(/id="sms-budget">([^<]*)</.exec(html)?.[1]).toBe('57 / 400')
    expect(html).toContain('+52551234')
  })

  it("reads the SMS feature's own figures unless told otherwise", async () => {
    h = consoleHarness({ sms: { fraud: { dailyBudget: 250 } } }, { realSmsStats: true })
    h.db
      .prepare(
        `INSERT INTO sms_attempts (at, provider, channel, outcome, latency_ms) VALUES (@at, 'http:sms.example', 'sms', 'sent', 300)`,
      )
      .run({ at: h.clock.now() - 60_000 })
    const admin = await h.signedIn('root', 'admin')
    const html = await (await admin.get('/sync')).text()
    expect(/id="sms-budget">([^<]*)</.exec(html)?.[1]).toBe('0 / 250')
    expect(html).toMatch(/<td>http:sms.example<\/td><td class="num">1<\/td>/)
    expect(html).not.toContain('id="sms-breaker"')
  })
})

describe('audit log page', () => {
  it('filters by kind of action and pages to older entries', async () => {
    h = consoleHarness()
    const insert = h.db.prepare(
      `INSERT INTO audit_log (at, actor, action, subject) VALUES (@at, 'portal', @action, @subject)`,
    )
    for (let i = 0; i < 250; i++) insert.run({ at: i, action: 'device.allow', subject: `mac-${i}` })
    const admin = await h.signedIn('root', 'admin')
    const rows = (html: string) => (html.split('<tbody>')[1]!.match(/<tr[ >]/g) ?? []).length
    const logins = await (await admin.get('/audit?action=console.')).text()
    expect(rows(logins)).toBe(2) // user added, sign-in
    expect(logins).not.toContain('device.allow')
    const first = await (await admin.get('/audit')).text()
    expect(rows(first)).toBe(200)
    const older = /href="(\/audit\?action=&amp;before=\d+)"/.exec(first)![1]!.replace('&amp;', '&')
    const second = await (await admin.get(older)).text()
    expect(rows(second)).toBe(52)
    expect(second).toContain('mac-0')
    // A LIKE wildcard in the filter is taken literally.
    expect(rows(await (await admin.get('/audit?action=%25')).text())).toBe(0)
  })
})
