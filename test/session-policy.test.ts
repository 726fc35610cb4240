import { afterEach, describe, expect, it } from 'vitest'
import { closingTime, sessionUntil } from '../src/access/session-policy.js'
import { admitStaff, expireSessions, revokeIdle, staffMacsOf } from '../src/access/session-jobs.js'
import { JOBS } from '../src/jobs.js'
import { visitPolicyOf } from '../src/services.js'
import { smsStatements } from '../src/db/sms.js'
import { visitStatements } from '../src/db/visits.js'
import { createPresenceTracker } from '../src/visits/presence.js'
import { FakeClock } from './fakes/clock.js'
import { FakePresence } from './fakes/presence.js'
import { challengeOf, PHONE_IP, PHONE_MAC, portalHarness } from './helpers.js'

const TZ = 'America/Mexico_City'
// 2026-03-02 is a Monday; Mexico City is UTC−6 all year.
const local = (hhmm: string, day = '2026-03-02') => Date.parse(`${day}T${hhmm}:00-06:00`)

describe('opening hours', () => {
  const hours = { mon: '09:00-14:00,16:00-19:00', sat: '10:00-24:00' }
  it('finds the closing time of the range the branch is in', () => {
    expect(closingTime(local('09:00'), hours, TZ)).toBe(local('14:00'))
    expect(closingTime(local('13:59'), hours, TZ)).toBe(local('14:00'))
    expect(closingTime(local('16:30'), hours, TZ)).toBe(local('19:00'))
    expect(closingTime(local('23:00', '2026-03-07'), hours, TZ)).toBe(local('00:00', '2026-03-08'))
  })
  it('has no closing time when the branch is closed or has no hours', () => {
    expect(closingTime(local('14:00'), hours, TZ)).toBeNull()
    expect(closingTime(local('08:59'), hours, TZ)).toBeNull()
    expect(closingTime(local('10:00', '2026-03-03'), hours, TZ)).toBeNull()
    expect(closingTime(local('10:00'), null, TZ)).toBeNull()
  })
  it('gives session.hours or the closing time, whichever comes first', () => {
    const policy = { hours: 8, openingHours: hours, timeZone: TZ }
    expect(sessionUntil(local('18:00'), policy)).toBe(local('19:00'))
    expect(sessionUntil(local('09:00'), { ...policy, hours: 1 })).toBe(local('10:00'))
    expect(sessionUntil(local('20:00'), policy)).toBe(local('20:00') + 8 * 3_600_000)
  })
})

type Harness = ReturnType<typeof portalHarness>
let h: Harness
afterEach(() => h?.close())

async function signIn() {
  const codePage = await h.post(
    '/login',
    { name: 'Ana', phone: '55 1234 5678', consent: 'yes' },
    PHONE_IP,
  )
  const challenge = challengeOf(await codePage.text())
  await h.post('/verify', { challenge, code: h.sms.lastCodeTo('+525512345678') }, PHONE_IP)
}

const reasons = () =>
  h.db
    .prepare(`SELECT action, reason FROM audit_log WHERE action LIKE 'device.%' ORDER BY id`)
    .all()

describe('session jobs', () => {
  it('ends expired access through setDeviceState with reason expiry', async () => {
    h = portalHarness({ session: { hours: 1 } })
    await signIn()
    h.clock.advance({ minutes: 59 })
    expect((await expireSessions(h.app.session, h.clock.now())).changed).toEqual([])
    h.clock.advance({ minutes: 1 })
    expect((await expireSessions(h.app.session, h.clock.now())).changed).toEqual([PHONE_MAC])
    expect(h.gate.calls.at(-1)).toEqual({ verb: 'revoke', mac: PHONE_MAC })
    expect(reasons()).toEqual([
      { action: 'device.allow', reason: 'login' },
      { action: 'device.revoke', reason: 'expiry' },
    ])
    // done once: the next run finds nothing
    expect((await expireSessions(h.app.session, h.clock.now())).changed).toEqual([])
  })

  it('revokes a device with no sign of life for session.idleMinutes, and its visit closes at its last activity', async () => {
    h = portalHarness({ session: { idleMinutes: 20 } })
    const mono = new FakeClock(0)
    const presence = new FakePresence().here(PHONE_MAC)
    const tracker = createPresenceTracker({
      db: h.db,
      source: presence,
      visits: visitStatements(h.db),
      book: h.app.visits,
      policy: { ...visitPolicyOf(h.config), rememberMs: 0 },
      staffMacs: new Set(),
      monotonic: mono,
      memory: h.app.presenceMemory,
    })
    const deps = {
      tracker,
      session: h.app.session,
      sms: smsStatements(h.db),
      sync: { tick: async () => {}, stop: async () => {} },
      retention: h.app.retention,
      allowance: h.app.allowance,
      log: () => {},
    }
    const presenceJob = JOBS.find((j) => j.name === 'presence')!
    const idleJob = JOBS.find((j) => j.name === 'session-idle')!
    await signIn()
    const minute = async () => {
      for (let i = 0; i < 2; i++) {
        h.clock.advance({ seconds: 30 })
        mono.advance({ seconds: 30 })
        await presenceJob.run(deps, h.clock.now())
      }
      await idleJob.run(deps, h.clock.now())
    }
    for (let i = 0; i < 10; i++) await minute()
    const lastActive = h.clock.now()
    presence.gone(PHONE_MAC)
    const revokes = () => h.gate.calls.filter((c) => c.verb === 'revoke')
    for (let i = 0; i < 19; i++) await minute()
    expect(revokes()).toEqual([]) // never early
    for (let i = 0; i < 8 && revokes().length === 0; i++) await minute()
    expect(revokes()).toEqual([{ verb: 'revoke', mac: PHONE_MAC }])
    // within a step of the idle time (the sweep writes a present device's last seen once a step)
    expect(h.clock.now() - lastActive).toBeGreaterThanOrEqual(20 * 60_000)
    expect(h.clock.now() - lastActive).toBeLessThanOrEqual(20 * 60_000 + tracker.stepMs + 60_000)
    expect(reasons().at(-1)).toEqual({ action: 'device.revoke', reason: 'idle' })
    const visit = h.db.prepare(`SELECT ended_at FROM visits`).get()
    expect(visit).toEqual({ ended_at: lastActive })
  })

  it('never revokes for idleness when session.idleMinutes is 0', async () => {
    h = portalHarness({ session: { idleMinutes: 0 } })
    await signIn()
    h.clock.advance({ hours: 7 })
    expect((await revokeIdle(h.app.session, h.clock.now())).changed).toEqual([])
  })

  it('lets staff through at start and renews only what is running out, never revoking them for idleness', async () => {
    h = portalHarness({ staffMacs: ['AA:BB:CC:00:00:01'], session: { idleMinutes: 5 } })
    h.db
      .prepare(
        `INSERT INTO devices (mac, first_seen_at, last_seen_at, is_staff) VALUES ('aa:bb:cc:00:00:02', 0, 0, 1)`,
      )
      .run()
    const all = staffMacsOf(h.app.session)
    expect([...all]).toEqual(['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:02'])
    expect((await admitStaff(h.app.session, all, h.clock.now())).changed).toHaveLength(2)
    h.clock.advance({ hours: 11 })
    expect((await admitStaff(h.app.session, all, h.clock.now())).changed).toHaveLength(0)
    expect((await revokeIdle(h.app.session, h.clock.now())).changed).toEqual([])
    h.clock.advance({ hours: 2 })
    expect((await admitStaff(h.app.session, all, h.clock.now())).changed).toHaveLength(2)
    expect(reasons().every((r: any) => r.reason === 'staff')).toBe(true)
  })

  it('writes the config staff into the devices table for the reports, and unmarks them when the config drops them', async () => {
    h = portalHarness({ staffMacs: ['AA:BB:CC:00:00:01'] })
    h.db
      .prepare(
        `INSERT INTO devices (mac, first_seen_at, last_seen_at, is_staff) VALUES ('aa:bb:cc:00:00:02', 0, 0, 1)`,
      )
      .run()
    const staffJob = JOBS.find((j) => j.name === 'staff')!
    const deps = { session: h.app.session, log: () => {} } as unknown as Parameters<
      typeof staffJob.run
    >[0]
    await staffJob.run(deps, h.clock.now())
    const flags = () =>
      h.db.prepare(`SELECT mac, is_staff, staff_from_config FROM devices ORDER BY mac`).all()
    expect(flags()).toEqual([
      { mac: 'aa:bb:cc:00:00:01', is_staff: 1, staff_from_config: 1 },
      { mac: 'aa:bb:cc:00:00:02', is_staff: 1, staff_from_config: 0 },
    ])
    expect(h.gate.calls.map((c) => c.mac).sort()).toEqual([
      'aa:bb:cc:00:00:01',
      'aa:bb:cc:00:00:02',
    ])
    // the next start runs with a config that no longer lists the first one
    h.app.session.sessions.syncConfigStaff(new Set(['aa:bb:cc:00:00:02']), h.clock.now())
    expect(flags()).toEqual([
      { mac: 'aa:bb:cc:00:00:01', is_staff: 0, staff_from_config: 0 },
      { mac: 'aa:bb:cc:00:00:02', is_staff: 1, staff_from_config: 0 },
    ])
    h.app.session.sessions.syncConfigStaff(new Set(), h.clock.now())
    expect(flags()).toContainEqual({ mac: 'aa:bb:cc:00:00:02', is_staff: 1, staff_from_config: 0 })
  })
})
