import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { outboxStatements } from '../src/db/outbox.js'
import { smsStatements } from '../src/db/sms.js'
import type { GateWay } from '../src/gate/gate.js'
import type { Mac } from '../src/mac.js'
import { osGroupOfUserAgent, refusalReasonOf } from '../src/observe/labels.js'
import { InvalidPassError, RateLimitedError } from '../src/errors.js'
import { challengeOf } from './helpers.js'
import {
  ANDROID_UA,
  IPHONE_UA,
  WINDOWS_UA,
  metricsHarness,
  promtoolMissing,
  sample,
  samples,
} from './metrics-harness.js'

let h: ReturnType<typeof metricsHarness>
afterEach(() => h?.close())

const IP = { ana: '10.20.0.11', beto: '10.20.0.12', carla: '10.20.0.13' }
const MAC = { ana: '3a:00:00:00:00:11', beto: '3a:00:00:00:00:12', carla: '3a:00:00:00:00:13' }

function withPhones(overrides: Record<string, unknown> = {}) {
  h = metricsHarness(overrides)
  for (const who of ['ana', 'beto', 'carla'] as const) h.neighbours.set(IP[who], MAC[who])
  return h
}

/** A probe as the OS sends it: its own host name, before the device is let through. */
const probe = (host: string, path: string, ip: string, ua: string) =>
  h.request(`http://${host}${path}`, { headers: { 'user-agent': ua } }, ip)

/** POST /login then POST /verify with the code the fake SMS received. */
async function logIn(who: keyof typeof IP, ua: string, phone: string, name: string) {
  const login = await h.post('/login', { name, phone, consent: 'yes' }, IP[who], ua)
  expect(login.status).toBe(200)
  const challenge = challengeOf(await login.text())
  const code = h.sms.lastCodeTo(`+52${phone.replace(/\D/g, '')}`)
  const verify = await h.post('/verify', { challenge, code }, IP[who], ua)
  expect(verify.status).toBe(200)
  return challenge
}

describe('GET /metrics', () => {
  it('counts the funnel of real logins per OS family, with exact figures', async () => {
    withPhones()
    // Ana, on an iPhone: the sheet's probe, the splash page, a code, a wrong try, the right one.
    expect(
      (
        await probe(
          'captive.apple.com',
          '/hotspot-detect.html',
          IP.ana,
          'CaptiveNetworkSupport-481 wispr',
        )
      ).status,
    ).toBe(302)
    await h.request('/', { headers: { 'user-agent': IPHONE_UA } }, IP.ana)
    const login = await h.post(
      '/login',
      { name: 'Ana López', phone: '55 1234 5678', consent: 'yes' },
      IP.ana,
      IPHONE_UA,
    )
    const challenge = challengeOf(await login.text())
    const wrong = await h.post('/verify', { challenge, code: '000000' }, IP.ana, IPHONE_UA)
    expect(wrong.status).toBe(422)
    const code = h.sms.lastCodeTo('+525512345678')
    expect((await h.post('/verify', { challenge, code }, IP.ana, IPHONE_UA)).status).toBe(200)
    // Beto, on Android: two probes, the splash page, a number mistyped, then the right one.
    await probe(
      'connectivitycheck.gstatic.com',
      '/generate_204',
      IP.beto,
      'Dalvik/2.1.0 (Linux; U; Android 14)',
    )
    await probe('www.google.com', '/gen_204', IP.beto, ANDROID_UA)
    await h.request('/', { headers: { 'user-agent': ANDROID_UA } }, IP.beto)
    const typo = await h.post(
      '/login',
      { name: 'Beto', phone: '123', consent: 'yes' },
      IP.beto,
      ANDROID_UA,
    )
    expect(typo.status).toBe(422)
    await logIn('beto', ANDROID_UA, '55 8765 4321', 'Beto')
    // Ana comes back later: the splash page greets her, one tap lets her through.
    h.clock.advance({ hours: 2 })
    await h.request('/', { headers: { 'user-agent': IPHONE_UA } }, IP.ana)
    expect((await h.post('/welcome-back', {}, IP.ana, IPHONE_UA)).status).toBe(200)
    // Carla, on Windows: the provider is down.
    await h.request('/', { headers: { 'user-agent': WINDOWS_UA } }, IP.carla)
    h.sms.failing = true
    const down = await h.post(
      '/login',
      { name: 'Carla', phone: '55 1111 2222', consent: 'yes' },
      IP.carla,
      WINDOWS_UA,
    )
    expect(down.status).toBe(502)
    // After login, a probe gets its "online" answer: not a captive probe any more.
    await probe('captive.apple.com', '/hotspot-detect.html', IP.ana, IPHONE_UA)

    const { status, text, type } = await h.scrape()
    expect(status).toBe(200)
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/)
    const funnel = (step: string, os: string) =>
      sample(text, 'branchgate_funnel_total', { step, os })
    const expected: Record<string, Record<string, number>> = {
      probe: { ios_macos: 1, android: 2, windows: 0, other: 0 },
      splash: { ios_macos: 2, android: 1, windows: 1, other: 0 },
      code_requested: { ios_macos: 1, android: 2, windows: 1, other: 0 },
      code_sent: { ios_macos: 1, android: 1, windows: 0, other: 0 },
      verified: { ios_macos: 1, android: 1, windows: 0, other: 0 },
      welcome_back: { ios_macos: 1, android: 0, windows: 0, other: 0 },
      let_through: { ios_macos: 2, android: 1, windows: 0, other: 0 },
    }
    for (const [step, byOs] of Object.entries(expected))
      for (const [os, n] of Object.entries(byOs)) expect(funnel(step, os), `${step} ${os}`).toBe(n)
    const refused = (reason: string, os: string) =>
      sample(text, 'branchgate_refusals_total', { reason, os })
    expect(refused('code_wrong', 'ios_macos')).toBe(1)
    expect(refused('invalid_phone', 'android')).toBe(1)
    expect(refused('provider_failure', 'windows')).toBe(1)
    expect(
      samples(text)
        .filter((s) => s.name === 'branchgate_refusals_total')
        .reduce((a, s) => a + s.value, 0),
    ).toBe(3)
    expect(sample(text, 'branchgate_codes_sent_total', { provider: 'fake', channel: 'sms' })).toBe(
      2,
    )
    // Latencies: every POST /login and /verify, refused or not; each firewall change.
    expect(sample(text, 'branchgate_portal_request_seconds_count', { route: 'login' })).toBe(4)
    expect(sample(text, 'branchgate_portal_request_seconds_count', { route: 'verify' })).toBe(3)
    expect(sample(text, 'branchgate_firewall_change_seconds_count', { change: 'allow' })).toBe(3)
    // State: three devices let through by the database, two open visits, a day's codes.
    expect(sample(text, 'branchgate_devices_allowed', { source: 'database' })).toBe(2)
    expect(sample(text, 'branchgate_visits_open')).toBe(2)
    expect(sample(text, 'branchgate_sms_budget_used')).toBe(2)
    expect(sample(text, 'branchgate_sms_budget_left')).toBe(398)
    expect(sample(text, 'branchgate_outbox_events', { status: 'pending' })).toBeGreaterThan(0)
    const build = samples(text).find((s) => s.name === 'branchgate_build_info')!
    expect(build.labels).toMatchObject({ branch: 'demo', node: process.version })
    expect(build.labels.config_hash).toMatch(/^[0-9a-f]{12}$/)
  })

  it('carries no personal data, and as many series after 40 logins as after 2', async () => {
    withPhones()
    const uas = [
      IPHONE_UA,
      ANDROID_UA,
      WINDOWS_UA,
      'curl/8.5',
      'Weird/1.0 (+52 55 9999 0000; 3a:ff:ff:ff:ff:ff)',
    ]
    const phones: string[] = []
    const names: string[] = []
    const macs: string[] = []
    const ips: string[] = []
    const run = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const ip = `10.20.1.${i + 1}`
        const mac = `3a:00:00:00:01:${(i + 16).toString(16).padStart(2, '0')}`
        h.neighbours.set(ip, mac)
        // No runs of zeros: 20000000 turned up inside a timing histogram's sum (0.020000000…).
        const phone = `55${String(73859261 + i * 7919).slice(0, 8)}`
        const name = `Cliente Número${i}`
        phones.push(phone)
        names.push(name)
        macs.push(mac)
        ips.push(ip)
        const ua = uas[i % uas.length]!
        await probe('captive.apple.com', '/hotspot-detect.html', ip, ua)
        await h.request('/', { headers: { 'user-agent': ua } }, ip)
        // Every other customer mistypes the code first.
        const login = await h.post('/login', { name, phone, consent: 'yes' }, ip, ua)
        const challenge = challengeOf(await login.text())
        if (i % 2) await h.post('/verify', { challenge, code: '000000' }, ip, ua)
        const code = h.sms.lastCodeTo(`+52${phone}`)
        expect((await h.post('/verify', { challenge, code }, ip, ua)).status).toBe(200)
      }
    }
    await run(0, 2)
    const few = (await h.scrape()).text
    await run(2, 40)
    const many = (await h.scrape()).text
    const seriesOf = (t: string) => samples(t).map((s) => `${s.name}${JSON.stringify(s.labels)}`)
    expect(seriesOf(many)).toEqual(seriesOf(few))
    expect(sample(many, 'branchgate_funnel_total', { step: 'verified', os: 'other' })).toBe(16)
    for (const text of [few, many]) {
      for (const p of phones) {
        expect(text).not.toContain(p)
        expect(text).not.toContain(p.slice(-8))
      }
      for (const n of names) expect(text).not.toContain(n)
      for (const m of macs) {
        expect(text).not.toContain(m)
        expect(text).not.toContain(m.replace(/:/g, ''))
      }
      for (const ip of ips) expect(text).not.toContain(ip)
      // No label value looks like a MAC, an address, a phone number or a User-Agent.
      for (const s of samples(text))
        for (const [k, v] of Object.entries(s.labels)) {
          expect(v).not.toMatch(/([0-9a-f]{2}[:-]){5}[0-9a-f]{2}/i)
          // The configuration fingerprint is a hex digest (of a random temporary folder here):
          // it may hold a run of digits by chance, so it is held to its own shape instead.
          if (k === 'config_hash') {
            expect(v).toMatch(/^[0-9a-f]{12}$/)
            continue
          }
          expect(v).not.toMatch(/\d+\.\d+\.\d+\.\d+/)
          expect(v).not.toMatch(/\d{6,}/)
          expect(v).not.toMatch(/Mozilla|curl|Weird/)
        }
    }
  })

  it('is served on the admin side only, and wants the bearer token when one is set', async () => {
    h = metricsHarness({ metrics: { token: 'scrape-token-0123456789' } })
    // The portal knows no /metrics: it is a page like any other unknown one.
    const onPortal = await h.request('/metrics')
    expect(onPortal.status).toBe(404)
    expect(await onPortal.text()).not.toContain('branchgate_funnel_total')
    expect((await h.request('/readyz')).status).toBe(404)
    const none = await h.scrape()
    expect(none.status).toBe(401)
    expect(none.text).not.toContain('branchgate_')
    expect((await h.scrape({ authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401)
    const ok = await h.scrape({ authorization: 'Bearer scrape-token-0123456789' })
    expect(ok.status).toBe(200)
    expect(ok.text).toContain('branchgate_funnel_total')
    // A name the console does not answer to (DNS rebinding) gets nothing either.
    const foreign = await h.app.admin.request('http://evil.example:8081/metrics', {
      headers: { authorization: 'Bearer scrape-token-0123456789' },
    })
    expect(foreign.status).toBe(421)
    // The console's own pages are as they were: no token asked, the sign-in page.
    const consolePage = await h.app.admin.request('http://127.0.0.1:8081/login')
    expect(consolePage.status).toBe(200)
    expect(consolePage.headers.get('www-authenticate')).toBeNull()
    expect(await consolePage.text()).toContain('<form')
  })

  it('says when the firewall and the database disagree, from the firewall check', async () => {
    withPhones()
    await logIn('ana', IPHONE_UA, '55 1234 5678', 'Ana')
    await logIn('beto', ANDROID_UA, '55 8765 4321', 'Beto')
    // Someone flushed one element by hand, and a stranger was added behind branchgate's back.
    await h.gate.revoke(MAC.ana as Mac)
    await h.gate.letThrough('3a:99:99:99:99:99' as Mac, h.clock.now() + 3_600_000)
    let text = (await h.scrape()).text
    expect(sample(text, 'branchgate_firewall_check_timestamp_seconds')).toBe(0)
    await h.observer.firewallCheck.run(h.clock.now())
    text = (await h.scrape()).text
    expect(sample(text, 'branchgate_devices_allowed', { source: 'database' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed', { source: 'firewall' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed_mismatch', { kind: 'missing' })).toBe(1)
    expect(sample(text, 'branchgate_devices_allowed_mismatch', { kind: 'stray' })).toBe(1)
    expect(sample(text, 'branchgate_firewall_check_timestamp_seconds')).toBe(h.clock.now() / 1000)
  })

  it("says which way the firewall's changes are made, once the gate has chosen one", async () => {
    withPhones()
    // The dry-run gate has no choice to make: no series.
    expect((await h.scrape()).text).not.toContain('branchgate_firewall_session_info{')
    let way: GateWay | null = null
    h.gate.way = () => way
    expect((await h.scrape()).text).not.toContain('branchgate_firewall_session_info{')
    way = 'helper'
    let text = (await h.scrape()).text
    expect(sample(text, 'branchgate_firewall_session_info', { way: 'helper' })).toBe(1)
    // One series at a time: a way given up is not left behind.
    way = 'in-process'
    text = (await h.scrape()).text
    expect(sample(text, 'branchgate_firewall_session_info', { way: 'in-process' })).toBe(1)
    expect(sample(text, 'branchgate_firewall_session_info', { way: 'helper' })).toBeUndefined()
  })

  it("says whether the portal's map of the neighbour table answers, and counts what it could not", async () => {
    withPhones()
    // No watch (the harness's portal asks its fake directly): no series.
    expect((await h.scrape()).text).not.toContain('branchgate_neighbour_watch_live{')
    h.watch.state = { way: 'netlink', live: true, entries: 12, directLookups: 3, losses: 0 }
    let text = (await h.scrape()).text
    expect(sample(text, 'branchgate_neighbour_watch_live', { way: 'netlink' })).toBe(1)
    expect(sample(text, 'branchgate_neighbour_watch_entries')).toBe(12)
    expect(sample(text, 'branchgate_neighbour_direct_lookups_total')).toBe(3)
    expect(sample(text, 'branchgate_neighbour_changes_lost_total')).toBe(0)
    // Changes lost: not live until the table is read again; the counters carry on.
    h.watch.state = { way: 'netlink', live: false, entries: 12, directLookups: 7, losses: 1 }
    text = (await h.scrape()).text
    expect(sample(text, 'branchgate_neighbour_watch_live', { way: 'netlink' })).toBe(0)
    expect(sample(text, 'branchgate_neighbour_direct_lookups_total')).toBe(7)
    expect(sample(text, 'branchgate_neighbour_changes_lost_total')).toBe(1)
    // Through ip where the socket cannot be had: one series, the way it has.
    h.watch.state = { way: 'ip', live: true, entries: 12, directLookups: 7, losses: 1 }
    text = (await h.scrape()).text
    expect(sample(text, 'branchgate_neighbour_watch_live', { way: 'ip' })).toBe(1)
    expect(sample(text, 'branchgate_neighbour_watch_live', { way: 'netlink' })).toBeUndefined()
  })

  it('reports the SMS defences and providers: breaker, budget, blocked prefixes, last error', async () => {
    withPhones({ sms: { fraud: { dailyBudget: 3 } } })
    await logIn('ana', IPHONE_UA, '55 1234 5678', 'Ana')
    const sms = smsStatements(h.db)
    const now = h.clock.now()
    sms.hold({ scope: 'branch', key: '', reason: 'test', now, until: now + 60_000 })
    sms.hold({ scope: 'prefix', key: '+52551234', reason: 'test', now, until: now + 60_000 })
    sms.recordAttempts([
      {
        at: now,
        provider: 'console',
        channel: 'sms',
        outcome: 'failed',
        latency_ms: 5,
        detail: 'x',
        kind: 'credentials',
      },
    ])
    const text = (await h.scrape()).text
    expect(sample(text, 'branchgate_sms_breaker_open')).toBe(1)
    expect(sample(text, 'branchgate_sms_blocked_prefixes')).toBe(1)
    expect(sample(text, 'branchgate_sms_budget_limit')).toBe(3)
    expect(sample(text, 'branchgate_sms_budget_left')).toBe(2)
    expect(sample(text, 'branchgate_sms_provider_failing', { provider: 'console' })).toBe(1)
    expect(
      sample(text, 'branchgate_sms_provider_last_error_timestamp_seconds', {
        provider: 'console',
        kind: 'credentials',
      }),
    ).toBe(now / 1000)
  })

  it('reports the outbox: pending, parked, the age of the oldest and the last success', async () => {
    withPhones({
      sync: {
        adapter: {
          type: 'webhook',
          url: 'http://127.0.0.1:9/x',
          secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
        },
      },
    })
    await logIn('ana', IPHONE_UA, '55 1234 5678', 'Ana')
    h.clock.advance({ minutes: 90 })
    const o = outboxStatements(h.db)
    o.park(1, 'refused', null, h.clock.now())
    o.succeeded(h.clock.now() - 60_000)
    const text = (await h.scrape()).text
    expect(sample(text, 'branchgate_sync_configured')).toBe(1)
    expect(sample(text, 'branchgate_outbox_events', { status: 'parked' })).toBe(1)
    expect(sample(text, 'branchgate_outbox_oldest_pending_age_seconds')).toBe(90 * 60)
    expect(sample(text, 'branchgate_sync_last_success_timestamp_seconds')).toBe(
      (h.clock.now() - 60_000) / 1000,
    )
  })

  it.skipIf(promtoolMissing() !== null)(
    'passes `promtool check metrics` after real logins (skips without promtool)',
    async () => {
      withPhones()
      await logIn('ana', IPHONE_UA, '55 1234 5678', 'Ana')
      const { text } = await h.scrape()
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
      expect(r.stdout + r.stderr).toBe('')
      expect(r.status).toBe(0)
    },
  )
})

describe('GET /readyz', () => {
  it('is ready on a fresh branch, and says what is degraded when something is', async () => {
    withPhones({
      gate: { backend: 'nftables', guestInterface: 'br-guest' },
      sync: {
        adapter: {
          type: 'webhook',
          url: 'http://127.0.0.1:9/x',
          secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
        },
      },
    })
    const ready = await h.app.admin.request('http://127.0.0.1:8081/readyz')
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      branch: 'demo',
      checks: {
        database: { ok: true },
        gate: { ok: true, detail: 'not compared with the database yet' },
        providers: { ok: true },
        sync: { ok: true },
      },
    })
    await logIn('ana', IPHONE_UA, '55 1234 5678', 'Ana')
    await h.gate.revoke(MAC.ana as Mac)
    await h.observer.firewallCheck.run(h.clock.now())
    const now = h.clock.now()
    smsStatements(h.db).hold({
      scope: 'branch',
      key: '',
      reason: 'test',
      now,
      until: now + 5 * 3_600_000,
    })
    h.clock.advance({ hours: 2 })
    const res = await h.app.admin.request('http://127.0.0.1:8081/readyz')
    expect(res.status).toBe(503)
    const body = (await res.json()) as any
    expect(body.status).toBe('degraded')
    expect(body.checks.database.ok).toBe(true)
    expect(body.checks.gate).toEqual({
      ok: false,
      detail:
        'firewall and database disagree: 1 device(s) let through by the database are missing from the set, 0 in the set have no access on record',
    })
    expect(body.checks.providers.ok).toBe(false)
    expect(body.checks.providers.detail).toContain('circuit breaker')
    expect(body.checks.sync.ok).toBe(false)
    expect(body.checks.sync.detail).toMatch(
      /^behind: the oldest of \d+ pending event\(s\) is 120 min old$/,
    )
  })
})

describe('label sets', () => {
  it('maps User-Agents to four families and nothing else', () => {
    expect(osGroupOfUserAgent(IPHONE_UA)).toBe('ios_macos')
    expect(osGroupOfUserAgent('CaptiveNetworkSupport-481.80.1 wispr')).toBe('ios_macos')
    expect(osGroupOfUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)')).toBe('ios_macos')
    expect(osGroupOfUserAgent(ANDROID_UA)).toBe('android')
    expect(osGroupOfUserAgent('Mozilla/5.0 (X11; CrOS x86_64 15633.69.0)')).toBe('android')
    expect(osGroupOfUserAgent(WINDOWS_UA)).toBe('windows')
    expect(osGroupOfUserAgent('Microsoft NCSI')).toBe('windows')
    expect(osGroupOfUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Firefox/125.0')).toBe(
      'other',
    )
    expect(osGroupOfUserAgent(undefined)).toBe('other')
  })

  it('gives every error the portal answers with a reason from the closed set', () => {
    expect(refusalReasonOf(new Error('boom'))).toBe('error')
  })
})

describe('issue 17 tiers in the metrics', () => {
  it('counts access without a code and on a staff pass apart from let_through', async () => {
    withPhones({ sms: { mode: 'paused' } })
    const form = { name: 'Ana', phone: '55 1234 5678', consent: 'yes' }
    expect((await h.post('/without-code', form, IP.ana, IPHONE_UA)).status).toBe(200)
    const pass = h.services.passes.issue({ actor: 'user:maria' })
    expect((await h.post('/pass', { pass: pass.code }, IP.beto, ANDROID_UA)).status).toBe(200)
    const { text } = await h.scrape()
    const funnel = (step: string, os: string) =>
      sample(text, 'branchgate_funnel_total', { step, os })
    expect(funnel('let_through_unverified', 'ios_macos')).toBe(1)
    expect(funnel('let_through_pass', 'android')).toBe(1)
    expect(funnel('let_through', 'ios_macos')).toBe(0)
    expect(funnel('let_through', 'android')).toBe(0)
    // Their refusals have reasons of their own, never 'error'.
    expect(refusalReasonOf(new InvalidPassError())).toBe('pass_wrong')
    expect(refusalReasonOf(new RateLimitedError('pass', 3600))).toBe('limit_pass')
    expect(refusalReasonOf(new RateLimitedError('passBranch', 3600))).toBe('limit_pass_branch')
    const wrong = await h.post('/pass', { pass: '12345678' }, IP.carla, WINDOWS_UA)
    expect(wrong.status).toBe(422)
    const after = (await h.scrape()).text
    expect(
      sample(after, 'branchgate_refusals_total', { reason: 'pass_wrong', os: 'windows' }),
    ).toBe(1)
  })
})
