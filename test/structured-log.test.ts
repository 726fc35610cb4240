import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { closeDb, openDb } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { expireSessions } from '../src/access/session-jobs.js'
import { createLog, eventLine, logEvent, logKey, macTag, redact } from '../src/log.js'
import type { Mac } from '../src/mac.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakeSms } from './fakes/sms.js'
import { challengeOf, tempDir, wireApp } from './helpers.js'

const KEY = Buffer.alloc(32, 3)
const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

describe('the log', () => {
  it('is plain text by default: the time and the line, with MACs hashed and numbers masked', () => {
    const lines: string[] = []
    const log = createLog({
      format: 'text',
      branch: 'mx-001',
      key: KEY,
      write: (l) => lines.push(l),
      now: () => Date.parse('2026-03-02T15:00:00Z'),
    })
    log('gate: allowed 3A-11-22-33-44-55 (login) failed: nft said no')
    log('sms: sending to +525512345678 failed')
    log.event('code.sent', { phone: '+52…78', mac: '3a:11:22:33:44:55', provider: 'twilio' })
    const tag = macTag(KEY, '3a:11:22:33:44:55')
    expect(tag).toMatch(/^mac~[0-9a-f]{10}$/)
    expect(lines).toEqual([
      `2026-03-02T15:00:00.000Z gate: allowed ${tag} (login) failed: nft said no`,
      '2026-03-02T15:00:00.000Z sms: sending to +52…78 failed',
      `2026-03-02T15:00:00.000Z code.sent phone=+52…78 mac=${tag} provider=twilio`,
    ])
  })

  it('is one JSON object per line when configured: time, level, event, branch and the fields', () => {
    const lines: string[] = []
    const log = createLog({
      format: 'json',
      branch: 'mx-001',
      key: KEY,
      write: (l) => lines.push(l),
    })
    log('sms: ALERT circuit breaker open: 61 codes in an hour')
    log('walled garden: cannot resolve x.example (ENOTFOUND)')
    log('portal  on http://localhost:8080')
    log.event('device.let_through', { mac: '3a:11:22:33:44:55', reason: 'login' })
    const parsed = lines.map((l) => JSON.parse(l))
    expect(parsed.map((p) => [p.level, p.event, p.branch])).toEqual([
      ['error', 'log', 'mx-001'],
      ['warn', 'log', 'mx-001'],
      ['info', 'log', 'mx-001'],
      ['info', 'device.let_through', 'mx-001'],
    ])
    expect(parsed[0].msg).toBe('sms: ALERT circuit breaker open: 61 codes in an hour')
    expect(parsed[3]).toMatchObject({ mac: macTag(KEY, '3a:11:22:33:44:55'), reason: 'login' })
    expect(new Date(parsed[3].time).toISOString()).toBe(parsed[3].time)
  })

  it('hashes a MAC the same way every time under one key, differently under another', () => {
    expect(macTag(KEY, '3A:11:22:33:44:55')).toBe(macTag(KEY, '3a-11-22-33-44-55'))
    expect(macTag(KEY, '3a:11:22:33:44:55')).not.toBe(
      macTag(Buffer.alloc(32, 4), '3a:11:22:33:44:55'),
    )
    expect(redact('ips 10.0.0.1 and fe80::1 stay; 2026-03-02T15:00:00Z stays', KEY)).toBe(
      'ips 10.0.0.1 and fe80::1 stay; 2026-03-02T15:00:00Z stays',
    )
  })

  it('gives a MAC the same tag every time, in events and lines, before and after many others', () => {
    const lines: string[] = []
    const log = createLog({ format: 'text', branch: 'b', key: KEY, write: (l) => lines.push(l) })
    const mac = '3a:11:22:33:44:55'
    const want = macTag(KEY, mac)
    log.event('a', { mac })
    log(`device ${mac} seen`)
    // More devices than the log keeps tags for: the first one's is made again, the same.
    for (let i = 0; i < 1100; i++)
      log.event('b', {
        mac: `3a:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      })
    log.event('c', { mac, otherMac: mac.toUpperCase() })
    expect(lines[0]).toContain(`a mac=${want}`)
    expect(lines[1]).toContain(`device ${want} seen`)
    expect(lines.at(-1)).toContain(`c mac=${want} otherMac=${want}`)
    expect(lines[2]).toContain(`mac=${macTag(KEY, '3a:00:00:00:00:00')}`)
    expect(new Set(lines.slice(2, -1).map((l) => /mac=(\S+)/.exec(l)![1])).size).toBe(1100)
  })

  it('takes events from call sites that were handed a plain line function (tests)', () => {
    const lines: string[] = []
    logEvent((l) => lines.push(l), 'sync.run', {
      delivered: 3,
      adapter: 'webhook',
      note: 'two words',
    })
    expect(lines).toEqual(['sync.run delivered=3 adapter=webhook note="two words"'])
    expect(eventLine('x', { a: null, b: undefined, c: true })).toBe('x a=null c=true')
  })
})

describe('the log of whole flows', () => {
  it('never holds a code, a full number, a name or a MAC', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const config = loadConfig(JSON.stringify({ dataDir: t.dir, log: { format: 'json' } }))
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    cleanups.push(() => closeDb(db))
    const clock = new FakeClock()
    const lines: string[] = []
    const secret = Buffer.alloc(32, 7)
    const log = createLog({
      format: 'json',
      branch: config.branch.id,
      key: logKey(secret),
      write: (l) => lines.push(l),
      now: () => clock.now(),
    })
    const sms = new FakeSms()
    const phones = [
      {
        ip: '10.20.0.21',
        mac: '3a:44:55:66:77:01',
        name: 'Ana Sofía Pérez',
        phone: '55 1234 5678',
      },
      {
        ip: '10.20.0.22',
        mac: '3a:44:55:66:77:02',
        name: 'Bernardo Ruiz',
        phone: '+52 1 55 8765 4321',
      },
      { ip: '10.20.0.23', mac: '3a:44:55:66:77:03', name: 'Carla Núñez', phone: '(55) 1111-2222' },
    ]
    const neighbours = new FakeNeighbours()
    for (const p of phones) neighbours.set(p.ip, p.mac)
    // The service's dry-run gate logs each change it would make: MACs in those lines too.
    const app = wireApp({
      config,
      db,
      gate: createDryRunGate(clock, log),
      sms,
      neighbours,
      clock,
      secret,
      log,
    })
    const post = (p: string, fields: Record<string, string>, ip: string) =>
      app.portal.request(
        p,
        {
          method: 'POST',
          body: new URLSearchParams(fields).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        { incoming: { socket: { remoteAddress: ip } } },
      )
    const codes: string[] = []
    // Ana: a wrong code, a resend, the right code; later, welcome back.
    const [ana, beto, carla] = phones as [
      (typeof phones)[0],
      (typeof phones)[0],
      (typeof phones)[0],
    ]
    let res = await post('/login', { name: ana.name, phone: ana.phone, consent: 'yes' }, ana.ip)
    const ch = challengeOf(await res.text())
    codes.push(sms.lastCodeTo('+525512345678'))
    await post('/verify', { challenge: ch, code: '000000' }, ana.ip)
    clock.advance({ seconds: 31 })
    res = await post('/resend', { challenge: ch }, ana.ip)
    const ch2 = challengeOf(await res.text())
    codes.push(sms.lastCodeTo('+525512345678'))
    expect((await post('/verify', { challenge: ch2, code: codes.at(-1)! }, ana.ip)).status).toBe(
      200,
    )
    clock.advance({ hours: 1 })
    expect((await post('/welcome-back', {}, ana.ip)).status).toBe(200)
    // Beto: through at once. Carla: the provider is down.
    res = await post('/login', { name: beto.name, phone: beto.phone, consent: 'yes' }, beto.ip)
    codes.push(sms.lastCodeTo('+525587654321'))
    await post(
      '/verify',
      { challenge: challengeOf(await res.text()), code: codes.at(-1)! },
      beto.ip,
    )
    sms.failing = true
    expect(
      (await post('/login', { name: carla.name, phone: carla.phone, consent: 'yes' }, carla.ip))
        .status,
    ).toBe(502)
    // A manager revokes Beto; the sessions run out.
    await app.access.setDeviceState({
      next: 'blocked',
      mac: beto.mac as Mac,
      reason: 'revoke',
      actor: 'console',
    })
    clock.advance({ hours: 12 })
    await expireSessions(app.session, clock.now())

    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['code.sent', 'device.let_through', 'log']),
    )
    expect(events.filter((e) => e.event === 'code.sent')).toHaveLength(3)
    expect(events.find((e) => e.event === 'code.sent')).toMatchObject({
      phone: '+52…78',
      provider: 'fake',
      channel: 'sms',
      mac: macTag(logKey(secret), ana.mac),
    })
    const all = lines.join('\n')
    expect(all).toContain('sms: sending to +52…22 failed') // the failure, masked
    expect(all).toMatch(/would revoke mac~[0-9a-f]{10}/)
    for (const code of codes) expect(all).not.toMatch(new RegExp(`(?<!\\d)${code}(?!\\d)`))
    for (const p of phones) {
      const digits = p.phone.replace(/\D/g, '').slice(-10)
      expect(all).not.toContain(digits)
      expect(all).not.toContain(digits.slice(2)) // the local number alone
      for (const word of p.name.split(' ')) expect(all).not.toContain(word)
      expect(all.toLowerCase()).not.toContain(p.mac)
      expect(all.toLowerCase()).not.toContain(p.mac.replace(/:/g, ''))
      expect(all.toLowerCase()).not.toContain(p.mac.replace(/:/g, '-'))
    }
  })
})
