import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cli } from '../src/cli.js'
import { closeDb, openDb } from '../src/db/open.js'
import { visitStatements } from '../src/db/visits.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { visitPolicyOf } from '../src/services.js'
import { createPresenceRows, standingAt } from '../src/visits/presence-rows.js'
import { createPresenceTracker, phaseOf } from '../src/visits/presence.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakePresence } from './fakes/presence.js'
import { FakeSms } from './fakes/sms.js'
import { challengeOf, PHONE_IP, PHONE_MAC, portalHarness, tempDb, wireApp } from './helpers.js'

/**
 * The presence sweep keeps the open visits and the tracked devices in memory between sweeps
 * (issue 20, point 2). Other processes write the same file: each test changes something through
 * another connection (the CLI, the console's services) and checks that the very next sweep acts
 * on it, as it would had it read the rows again.
 */

const MIN = 60_000
type Harness = ReturnType<typeof portalHarness>
let h: Harness
const cleanups: Array<() => void> = []
afterEach(() => {
  cleanups.splice(0).forEach((f) => f())
  h?.close()
})

function setup(overrides: Record<string, unknown> = {}) {
  h = portalHarness(overrides)
  const mono = new FakeClock(5_000)
  const presence = new FakePresence()
  const tracker = createPresenceTracker({
    db: h.db,
    source: presence,
    visits: visitStatements(h.db),
    book: h.app.visits,
    policy: { ...visitPolicyOf(h.config), rememberMs: h.config.remember.days * 86_400_000 },
    staffMacs: new Set(),
    monotonic: mono,
    memory: h.app.presenceMemory,
  })
  const sweep = () => {
    h.clock.advance({ seconds: 30 })
    mono.advance({ seconds: 30 })
    return tracker.sweep(h.clock.now())
  }
  const run = async (minutes: number) => {
    for (let i = 0; i < minutes * 2; i++) await sweep()
  }
  return { presence, tracker, sweep, run }
}

/** The same database file through another connection, with the services wired on it. */
function otherConnection() {
  const db = openDb(path.join(h.config.dataDir, 'branchgate.db'))
  const services = wireApp({
    config: h.config,
    db,
    gate: createDryRunGate(h.clock),
    sms: new FakeSms(),
    neighbours: new FakeNeighbours(),
    clock: h.clock,
    secret: h.secret,
    log: () => {},
  })
  cleanups.push(() => closeDb(db))
  return { db, services }
}

async function signIn() {
  const codePage = await h.post('/login', { name: 'Ana', phone: '55 1234 5678', consent: 'yes' })
  const challenge = challengeOf(await codePage.text())
  const res = await h.post('/verify', { challenge, code: h.sms.lastCodeTo('+525512345678') })
  expect(res.status).toBe(200)
}

const visits = () =>
  h.db
    .prepare(
      `SELECT id, customer_id, started_at, last_seen_at, ended_at FROM visits ORDER BY started_at`,
    )
    .all() as Array<{
    id: string
    customer_id: number | null
    started_at: number
    last_seen_at: number
    ended_at: number | null
  }>

describe('the presence sweep keeps its rows in memory', () => {
  it('reads the open visits and tracked devices once while nothing else writes, and again after a login', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(20)
    // 40 sweeps, with their own writes (a step's worth each): read once, at the first
    expect(s.tracker.reads).toEqual({ visits: 1, devices: 1 })
    // a login again in this same process, 10 s later, writes a device, an authorization and
    // the visit's last activity
    h.clock.advance({ seconds: 10 })
    await signIn()
    const r = await s.sweep()
    expect(r.reread).toEqual({ visits: true, devices: true })
    expect(s.tracker.reads).toEqual({ visits: 2, devices: 2 })
  })

  it('sees a customer erased through another connection at the next sweep', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(3)
    const lastActive = h.clock.now()
    // the console, in its own connection, erases the customer at a rights request
    const other = otherConnection()
    expect(
      await other.services.erasure.block(1, { actor: 'console:admin', reason: 'request' }),
    ).toBe(true)
    // the phone stays on the Wi-Fi: its device is gone, so it no longer extends the visit
    const next = await s.sweep()
    expect(next.reread.devices).toBe(true)
    expect(next.touched).toBe(0)
    await s.run(16)
    expect(visits()).toEqual([
      expect.objectContaining({ customer_id: 1, ended_at: lastActive, last_seen_at: lastActive }),
    ])
    // and once deleted for good, no sweep brings any of it back
    other.services.erasure.deleteBlocked(1, h.clock.now())
    await s.run(2)
    expect(visits()).toEqual([])
  })

  it('opens a new visit at the next sweep when another connection closed the open one', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(3)
    const [open] = visits()
    const other = otherConnection()
    other.db.transaction(() =>
      other.services.visits.closeVisit({
        id: open!.id,
        customerId: 1,
        startedAt: open!.started_at,
        endedAt: h.clock.now(),
        passBy: false,
        reason: 'absent',
      }),
    )()
    const next = await s.sweep()
    expect(next.reread.visits).toBe(true)
    expect(next.opened).toBe(1)
    const [closed, reopened] = visits()
    expect(closed).toMatchObject({ id: open!.id, ended_at: expect.any(Number) })
    expect(reopened).toMatchObject({ customer_id: 1, started_at: h.clock.now(), ended_at: null })
  })

  it('stops counting a device revoked by the CLI at the next sweep', async () => {
    // remember.days 0: a device counts only while it is let through
    const s = setup({ remember: { days: 0 } })
    const config = path.join(h.config.dataDir, 'branchgate.json')
    writeFileSync(config, JSON.stringify({ dataDir: h.config.dataDir, remember: { days: 0 } }))
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(3)
    const lastActive = h.clock.now()
    expect(
      await cli(['revoke', PHONE_MAC, '--config', config], {}, { out: () => {}, err: () => {} }),
    ).toBe(0)
    const next = await s.sweep()
    expect(next.reread.devices).toBe(true)
    expect(next.touched).toBe(0)
    await s.run(16)
    expect(visits()).toEqual([expect.objectContaining({ ended_at: lastActive })])
  })

  it('plans with a last activity another connection wrote', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(3)
    s.presence.gone(PHONE_MAC)
    await s.run(5)
    // a welcome back handled by another process five minutes after the phone went quiet
    const other = otherConnection()
    const backAt = h.clock.now()
    other.db.transaction(() => other.services.visits.arrive(1, backAt))()
    const next = await s.sweep()
    expect(next.reread.visits).toBe(true)
    await s.run(14)
    // 15 minutes idle counted from the later activity: still open
    expect(visits()[0]!.ended_at).toBeNull()
    await s.run(2)
    expect(visits()).toEqual([expect.objectContaining({ ended_at: backAt, last_seen_at: backAt })])
  })

  it('reads everything again after a sweep that failed', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(1)
    const reads = { ...s.tracker.reads }
    h.db.exec(`CREATE TRIGGER boom BEFORE UPDATE OF last_seen_at ON visits
               BEGIN SELECT RAISE(ABORT, 'boom'); END`)
    h.clock.advance({ minutes: 5 }) // the visit's last activity is due
    await expect(s.sweep()).rejects.toThrow(/boom/)
    h.db.exec(`DROP TRIGGER boom`)
    const r = await s.sweep()
    expect(r.reread).toEqual({ visits: true, devices: true })
    expect(s.tracker.reads).toEqual({ visits: reads.visits + 1, devices: reads.devices + 1 })
    expect(visits()).toEqual([expect.objectContaining({ ended_at: null })])
  })
})

describe('the sweep writes open visits by rowid', () => {
  it('writes each visit to its own row when the rows were renumbered since they were read', () => {
    const t = tempDb()
    cleanups.push(t.close)
    const rows = visitStatements(t.db)
    t.db
      .prepare(
        `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
         VALUES (1, '+525500000001', 'A', 'es', 0, 0, 0), (2, '+525500000002', 'B', 'es', 0, 0, 0),
                (3, '+525500000003', 'C', 'es', 0, 0, 0)`,
      )
      .run()
    for (const [id, customerId] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      rows.insert({ id, customerId, branchId: 'x', startedAt: 1000, lastSeenAt: 1000 })
    const before = rows.openAll()
    // Renumbered as a VACUUM may do to a table without an INTEGER PRIMARY KEY: a goes, b and c
    // swap rowids, so b's old rowid is now c's.
    t.db.exec(`DELETE FROM visits WHERE id = 'a';
      UPDATE visits SET rowid = 100 WHERE id = 'b';
      UPDATE visits SET rowid = 2 WHERE id = 'c';
      UPDATE visits SET rowid = 3 WHERE id = 'b';`)
    expect(before.slice(1).map((v) => v[4])).toEqual([2, 3])
    const stale = before.slice(1).map(([id, , , , rowid]) => ({ id, rowid, lastSeenAt: 5000 }))
    stale[0]!.lastSeenAt = 4000
    expect(rows.touchKnown(stale)).toBe(2)
    expect(rows.openAll().map(([id, , , at]) => [id, at])).toEqual([
      ['b', 4000],
      ['c', 5000],
    ])
  })
})

describe('the change counts (migration 016)', () => {
  it('move when a customer row goes and the foreign keys set their device and open visit to nobody', () => {
    const t = tempDb()
    cleanups.push(() => t.close())
    t.db.exec(`
      INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
      VALUES (1, '+525500000001', 'A', 'es', 0, 0, 0);
      INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at)
      VALUES ('3a:00:00:00:00:01', 1, 0, 0, 0);
      INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at) VALUES ('v1', 1, 'b', 0, 0);
    `)
    const statements = visitStatements(t.db)
    const [visitsBefore, devicesBefore] = statements.changeCounts()
    // as an administrator's sqlite3 shell might: no branchgate code involved
    t.db.exec(`DELETE FROM customers WHERE id = 1`)
    const [visitsAfter, devicesAfter] = statements.changeCounts()
    expect(visitsAfter).toBeGreaterThan(visitsBefore)
    expect(devicesAfter).toBeGreaterThan(devicesBefore)
    // a closed visit's change moves nothing: the sweep never reads closed visits
    t.db.exec(`UPDATE visits SET ended_at = 1`)
    const [closedAt] = statements.changeCounts()
    t.db.exec(`UPDATE visits SET end_reason = 'absent'`)
    expect(statements.changeCounts()[0]).toBe(closedAt)
  })
})

describe('which devices count, from memory', () => {
  it('answers at every later time as the tracked query would, without reading again', () => {
    const t = tempDb()
    const db = t.db
    cleanups.push(() => t.close())
    const T0 = Date.parse('2026-03-02T15:00:00Z')
    const DAY = 86_400_000
    const remember = 30 * DAY
    db.exec(`
      INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
      VALUES (1, '+525500000001', 'A', 'es', 0, 0, 0), (2, '+525500000002', 'B', 'es', 0, 0, 0);
      INSERT INTO passes (id, locator, secret_hmac, name, minutes, issued_by, issued_at, redeem_by)
      VALUES (7, '107', 'x', 'Pass', 60, 'admin', 0, ${T0 + DAY}), (8, '108', 'y', 'Pass 2', 60, 'admin', 0, ${T0 + DAY});
    `)
    const device = db.prepare(
      `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, is_staff, verified_at) VALUES (?, ?, 0, ?, ?, ?)`,
    )
    const auth = db.prepare(
      `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason, pass_id, ended_at) VALUES (?, ?, 0, ?, 'login', ?, ?)`,
    )
    // remembered, its verification falls out of remember.days in 2 hours; let through for 3
    device.run('3a:00:00:00:00:01', 1, T0, 0, T0 - remember + 2 * 60 * MIN)
    auth.run('3a:00:00:00:00:01', 1, T0 + 3 * 60 * MIN, null, null)
    // verified long ago, counts while let through (until T0 + 30 min)
    device.run('3a:00:00:00:00:02', 2, T0, 0, T0 - 90 * DAY)
    auth.run('3a:00:00:00:00:02', 2, T0 + 30 * MIN, null, null)
    // staff, no customer
    device.run('3a:00:00:00:00:03', null, T0, 1, null)
    // on staff passes, ending at T0 + 20 min and T0 + 50 min
    device.run('3a:00:00:00:00:04', null, T0, 0, null)
    auth.run('3a:00:00:00:00:04', null, T0 + 20 * MIN, 7, null)
    device.run('3a:00:00:00:00:08', null, T0, 0, null)
    auth.run('3a:00:00:00:00:08', null, T0 + 50 * MIN, 8, null)
    // an access that already ended, and one that ran out without being ended yet
    device.run('3a:00:00:00:00:05', 2, T0, 0, T0 - 90 * DAY)
    auth.run('3a:00:00:00:00:05', 2, T0 + 60 * MIN, null, T0 - MIN)
    device.run('3a:00:00:00:00:06', 2, T0, 0, T0 - 90 * DAY)
    auth.run('3a:00:00:00:00:06', 2, T0 - MIN, null, null)
    // unknown to anyone
    device.run('3a:00:00:00:00:07', null, T0, 0, null)

    const statements = visitStatements(db)
    // The sweep's query before its memory (issue 20), the answer at one time: the oracle.
    const trackedSql = db
      .prepare(
        `SELECT d.mac, coalesce(d.customer_id, -p.pass_id) AS customer_id, d.is_staff, d.last_seen_at,
            ((d.customer_id IS NOT NULL AND (d.verified_at >= @rememberSince OR EXISTS (
               SELECT 1 FROM authorizations a
               WHERE a.mac = d.mac AND a.ended_at IS NULL AND a.ends_at > @now)))
             OR (d.customer_id IS NULL AND p.pass_id IS NOT NULL)) AS counts
     FROM devices d
     LEFT JOIN authorizations p ON p.mac = d.mac AND p.ended_at IS NULL AND p.ends_at > @now
       AND p.pass_id IS NOT NULL
     WHERE d.is_staff = 1
        OR (d.customer_id IS NOT NULL AND d.verified_at >= @rememberSince)
        OR d.mac IN (SELECT mac FROM authorizations WHERE ended_at IS NULL AND ends_at > @now)`,
      )
      .raw()
    const times = [0, 10, 20, 25, 30, 45, 50, 60, 119, 120, 121, 150, 179, 181, 24 * 60]
    const check = (horizonMs: number) => {
      const rows = createPresenceRows({ visits: statements, phaseOf, horizonMs })
      for (const minutes of times) {
        const now = T0 + minutes * MIN
        const fromSql = (
          trackedSql.all({ now, rememberSince: now - remember }) as Array<
            [string, number | null, 0 | 1, number, 0 | 1]
          >
        )
          .map(([mac, visitor, isStaff, , counts]) => `${mac} ${visitor} ${isStaff} ${counts}`)
          .sort()
        rows.refresh(now, now - remember, new Map())
        const fromMemory = [...rows.devices.values()]
          .map((d) => ({ d, s: standingAt(d, now, now - remember) }))
          .filter(({ s }) => s.tracked)
          .map(({ d, s }) => `${d.mac} ${s.visitor} ${d.isStaff ? 1 : 0} ${s.counts ? 1 : 0}`)
          .sort()
        expect({ minutes, horizonMs, devices: fromMemory }).toEqual({
          minutes,
          horizonMs,
          devices: fromSql,
        })
      }
      return rows.reads
    }
    // Read once, answered from memory for a day; and with a 15-minute horizon, read again as
    // it passes, with the authorizations of devices that stay remembered past it left unread.
    expect(check(2 * DAY)).toEqual({ visits: 1, devices: 1 })
    expect(check(15 * MIN).devices).toBe(8)
  })
})
