import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { presenceStepOf, visitPolicyOf } from '../src/services.js'
import { closeDb, openDb } from '../src/db/open.js'
import { visitStatements } from '../src/db/visits.js'
import { uuidv7 } from '../src/ids.js'
import { createVisitBook } from '../src/visits/book.js'
import {
  createPresenceTracker,
  phaseOf,
  SEEN_FLUSH_MS,
  seenStepMs,
  stepDue,
} from '../src/visits/presence.js'
import { createOutbox, macPolicy } from '../src/sync/outbox.js'
import { FakeClock } from './fakes/clock.js'
import { FakePresence } from './fakes/presence.js'
import { challengeOf, PHONE_IP, PHONE_MAC, portalHarness } from './helpers.js'

const MIN = 60_000
const OTHER_IP = '10.20.0.16'
const OTHER_MAC = '3a:11:22:33:44:66'
const STAFF_MAC = '3a:00:00:00:00:99'

type Harness = ReturnType<typeof portalHarness>
let h: Harness
afterEach(() => h?.close())

/** The portal on a real SQLite file, plus a tracker over a scripted presence source. */
function setup(overrides: Record<string, unknown> = {}) {
  h = portalHarness({ staffMacs: [STAFF_MAC], ...overrides })
  h.neighbours.set(OTHER_IP, OTHER_MAC)
  const mono = new FakeClock(5_000)
  const presence = new FakePresence()
  const logs: string[] = []
  const tracker = () =>
    createPresenceTracker({
      db: h.db,
      source: presence,
      visits: visitStatements(h.db),
      book: h.app.visits,
      policy: { ...visitPolicyOf(h.config), rememberMs: h.config.remember.days * 86_400_000 },
      staffMacs: new Set([STAFF_MAC]),
      monotonic: mono,
      memory: h.app.presenceMemory,
      log: (l) => logs.push(l),
    })
  let t = tracker()
  const advance = (p: { minutes?: number; seconds?: number }) => {
    h.clock.advance(p)
    mono.advance(p)
  }
  /** Sweeps every 30 s for `minutes`. */
  const run = async (minutes: number) => {
    for (let i = 0; i < minutes * 2; i++) {
      advance({ seconds: 30 })
      await t.sweep(h.clock.now())
    }
  }
  return {
    presence,
    mono,
    logs,
    advance,
    run,
    sweep: () => t.sweep(h.clock.now()),
    get stepMs() {
      return t.stepMs
    },
    /** Writes what the tracker knows, as a clean stop does. */
    flush: () => t.flush(),
    /** A clean restart: what the old tracker knew is written, a new one starts. */
    restart: () => {
      t.flush()
      t = tracker()
    },
  }
}

async function signIn(ip = PHONE_IP, phone = '55 1234 5678', e164 = '+525512345678', name = 'Ana') {
  const codePage = await h.post('/login', { name, phone, consent: 'yes' }, ip)
  const challenge = challengeOf(await codePage.text())
  const res = await h.post('/verify', { challenge, code: h.sms.lastCodeTo(e164) }, ip)
  expect(res.status).toBe(200)
}

const visits = () =>
  h.db
    .prepare(
      `SELECT customer_id, started_at, last_seen_at, ended_at, end_reason, pass_by FROM visits ORDER BY started_at`,
    )
    .all() as Array<{
    customer_id: number
    started_at: number
    last_seen_at: number
    ended_at: number | null
    end_reason: string | null
    pass_by: number
  }>

describe('presence tracker on a real SQLite file', () => {
  it('closes the visit at the last activity once the customer has been gone for the idle gap', async () => {
    const s = setup()
    const arrived = h.clock.now()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(40)
    const lastActive = h.clock.now()
    s.presence.gone(PHONE_MAC)
    await s.run(14)
    expect(visits()[0]!.ended_at).toBeNull()
    await s.run(2)
    expect(visits()).toEqual([
      {
        customer_id: 1,
        started_at: arrived,
        last_seen_at: lastActive,
        ended_at: lastActive,
        end_reason: 'absent',
        pass_by: 0,
      },
    ])
    const device = h.db.prepare(`SELECT last_seen_at FROM devices WHERE mac = ?`).get(PHONE_MAC)
    // written once a step: at most a step behind, never ahead
    const seen = (device as { last_seen_at: number }).last_seen_at
    expect(lastActive - seen).toBeGreaterThanOrEqual(0)
    expect(lastActive - seen).toBeLessThan(SEEN_FLUSH_MS)
  })

  it('opens a visit at the first sign of a remembered device, before any login', async () => {
    const s = setup()
    await signIn()
    await s.run(1)
    s.presence.here(PHONE_MAC)
    await s.run(5)
    s.presence.gone(PHONE_MAC)
    await s.run(20)
    // two days later the phone joins the Wi-Fi again: access has ended, but the device is remembered
    s.advance({ minutes: 2 * 24 * 60 })
    const back = h.clock.now() + 30_000
    s.presence.here(PHONE_MAC)
    await s.run(10)
    const v = visits()
    expect(v).toHaveLength(2)
    expect(v[1]).toMatchObject({ started_at: back, ended_at: null })
  })

  it('makes one visit of two devices of the same customer', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(1) // a code can be asked again after 30 s
    await signIn(OTHER_IP)
    s.presence.here(OTHER_MAC)
    await s.run(10)
    s.presence.gone(PHONE_MAC)
    await s.run(10)
    const last = h.clock.now()
    s.presence.gone(OTHER_MAC)
    await s.run(16)
    expect(visits()).toHaveLength(1)
    expect(visits()[0]!.ended_at).toBe(last)
  })

  it('flags a pass-by', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(1)
    s.presence.gone(PHONE_MAC)
    await s.run(16)
    expect(visits()[0]).toMatchObject({ pass_by: 1 })
  })

  it('keeps staff devices out of visits and reports them for letting through', async () => {
    const s = setup()
    s.presence.here(STAFF_MAC)
    s.advance({ seconds: 30 })
    const report = await s.sweep()
    expect(report.staffSeen).toEqual([STAFF_MAC])
    expect(visits()).toEqual([])
  })

  it('keeps an open visit across a short restart', async () => {
    const s = setup()
    const arrived = h.clock.now()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(10)
    s.restart()
    s.advance({ minutes: 5 }) // down for 5 minutes
    await s.run(10)
    s.flush()
    expect(visits()).toEqual([
      expect.objectContaining({ started_at: arrived, ended_at: null, last_seen_at: h.clock.now() }),
    ])
  })

  it('closes at the last seen time, never stretched, when the server was down longer than the idle gap', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(10)
    const lastSeen = h.clock.now()
    // the process dies; reopen the very same database file as a new process would
    const file = path.join(h.config.dataDir, 'branchgate.db')
    closeDb(h.db)
    h.db = openDb(file)
    const rows = visitStatements(h.db)
    const book = createVisitBook({
      db: h.db,
      visits: rows,
      branchId: 'demo',
      policy: visitPolicyOf(h.config),
      newId: uuidv7,
      outbox: createOutbox(h.db, { branchId: 'demo', macs: macPolicy('omit', '') }),
    })
    h.clock.advance({ minutes: 60 })
    const tracker = createPresenceTracker({
      db: h.db,
      source: s.presence,
      visits: rows,
      book,
      policy: { ...visitPolicyOf(h.config), rememberMs: 30 * 86_400_000 },
      staffMacs: new Set(),
      monotonic: new FakeClock(0),
    })
    await tracker.sweep(h.clock.now())
    const v = visits()
    // The process died: what it knew but had not written (less than a step) is lost.
    expect(v[0]).toMatchObject({ end_reason: 'restart' })
    expect(lastSeen - v[0]!.ended_at!).toBeGreaterThanOrEqual(0)
    expect(lastSeen - v[0]!.ended_at!).toBeLessThan(SEEN_FLUSH_MS)
    expect(v[1]).toMatchObject({ started_at: h.clock.now(), ended_at: null })
    closeDb(h.db)
  })

  it('shifts open visits with a clock step so the dwell is neither negative nor inflated', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(10)
    // NTP steps the wall clock forward by two hours between two sweeps
    h.clock.advance({ minutes: 120 })
    await s.run(10)
    s.presence.gone(PHONE_MAC)
    await s.run(16)
    const [v, ...more] = visits()
    expect(more).toEqual([])
    expect(v!.ended_at! - v!.started_at).toBe(20 * MIN)
    expect(s.logs.join('\n')).toMatch(/clock stepped by 7200 s/)
  })

  it('leaves alone a visit a login opened on the new clock between the step and the sweep', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(5)
    h.clock.advance({ minutes: 120 }) // NTP steps the wall clock forward
    s.advance({ seconds: 10 })
    const loginAt = h.clock.now()
    await signIn(OTHER_IP, '55 8765 4321', '+525587654321', 'Beto')
    s.presence.here(OTHER_MAC)
    await s.run(2)
    s.flush()
    const beto = visits().find((v) => v.customer_id === 2)!
    expect(beto.started_at).toBe(loginAt)
    const ana = visits().find((v) => v.customer_id === 1)!
    expect(ana.ended_at).toBeNull()
    expect(ana.last_seen_at - ana.started_at).toBe(7 * MIN + 10_000)
  })

  it('survives a backward clock step without a negative duration', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(10)
    h.clock.advance({ minutes: -60 })
    await s.run(5)
    s.presence.gone(PHONE_MAC)
    await s.run(16)
    const [v, ...more] = visits()
    expect(more).toEqual([])
    expect(v!.ended_at! - v!.started_at).toBe(15 * MIN)
  })

  it('writes a whole sweep or nothing', async () => {
    const s = setup()
    await signIn()
    await signIn(OTHER_IP, '55 8765 4321', '+525587654321', 'Beto')
    s.presence.here(PHONE_MAC, OTHER_MAC)
    await s.run(2)
    const before = visits()
    // one of the two updates fails: the other must not be written either
    h.db.exec(`CREATE TRIGGER boom BEFORE UPDATE OF last_seen_at ON visits WHEN NEW.customer_id = 2
               BEGIN SELECT RAISE(ABORT, 'boom'); END`)
    s.advance({ minutes: 5 }) // both visits' last activity is due to be written
    await expect(s.sweep()).rejects.toThrow(/boom/)
    expect(visits()).toEqual(before)
  })

  it('writes an open visit and its device about once a step rather than at every sweep, and closes the visit at the exact last activity', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    let visitsWritten = 0
    let devicesWritten = 0
    for (let i = 0; i < 40; i++) {
      s.advance({ seconds: 30 })
      const r = await s.sweep()
      visitsWritten += r.written.visits
      devicesWritten += r.written.devices
    }
    // 20 minutes of sweeps every 30 s: 40 sweeps, one write per 5-minute step at most (and 1
    // more when the phase boundary falls inside the first step). Before: one every minute.
    expect(s.stepMs).toBe(SEEN_FLUSH_MS)
    expect(visitsWritten).toBeGreaterThanOrEqual(4)
    expect(visitsWritten).toBeLessThanOrEqual(5)
    expect(devicesWritten).toBeGreaterThanOrEqual(4)
    expect(devicesWritten).toBeLessThanOrEqual(5)
    const lastActive = h.clock.now()
    const stored = visits()[0]!.last_seen_at
    expect(lastActive - stored).toBeLessThan(SEEN_FLUSH_MS)
    s.presence.gone(PHONE_MAC)
    await s.run(16)
    expect(visits()[0]).toMatchObject({ ended_at: lastActive, last_seen_at: lastActive })
  })

  it('costs no write for present devices that are not due, and a tenth of them per sweep in the steady state', async () => {
    const s = setup()
    // 60 remembered customers, each with one device, all present
    const macs: string[] = []
    h.db.transaction(() => {
      for (let i = 0; i < 60; i++) {
        const mac = `3a:22:00:00:00:${i.toString(16).padStart(2, '0')}`
        const id = Number(
          h.db
            .prepare(
              `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
               VALUES (?, ?, 'es', ?, ?, ?)`,
            )
            .run(
              `+52551000${String(1000 + i)}`,
              `C${i}`,
              h.clock.now(),
              h.clock.now(),
              h.clock.now(),
            ).lastInsertRowid,
        )
        h.db
          .prepare(
            `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at) VALUES (?, ?, ?, ?, ?)`,
          )
          .run(mac, id, h.clock.now(), h.clock.now(), h.clock.now())
        macs.push(mac)
      }
    })()
    s.presence.here(...macs)
    s.advance({ seconds: 30 })
    expect((await s.sweep()).written).toMatchObject({ opened: 60 })
    const changes = h.db.prepare('SELECT total_changes() AS n')
    // Migration 016's triggers move a change count once per row written; total_changes()
    // counts those too.
    const counted = h.db.prepare('SELECT sum(n) AS n FROM change_counts')
    const perSweep: number[] = []
    for (let i = 0; i < 40; i++) {
      s.advance({ seconds: 30 })
      const before = (changes.get() as { n: number }).n
      const countedBefore = (counted.get() as { n: number }).n
      const r = await s.sweep()
      const bumps = (counted.get() as { n: number }).n - countedBefore
      const rows = (changes.get() as { n: number }).n - before - bumps
      // what the report says is what SQLite changed: nothing else is written
      expect(rows).toBe(r.written.visits + r.written.devices)
      expect(bumps).toBe(rows)
      expect(r.written).toMatchObject({ opened: 0, closed: 0, devicesGone: 0 })
      perSweep.push(rows)
    }
    const total = perSweep.reduce((a, b) => a + b, 0)
    // 120 rows (60 visits, 60 devices), each about once per 5-minute step over 20 minutes:
    // about 480 writes in all, where writing at every sweep would be 4,800
    expect(total).toBeGreaterThanOrEqual(4 * 120)
    expect(total).toBeLessThanOrEqual(5 * 120)
    expect(Math.max(...perSweep)).toBeLessThan(60)
  })

  it("writes a device's exact last seen when it leaves the neighbour table", async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    const seenOf = () =>
      (
        h.db.prepare(`SELECT last_seen_at FROM devices WHERE mac = ?`).get(PHONE_MAC) as {
          last_seen_at: number
        }
      ).last_seen_at
    // sweep until the stored last seen is left behind (known here, not yet due)
    for (let i = 0; i < 12 && seenOf() >= h.clock.now() - 30_000; i++) await s.run(0.5)
    const lastActive = h.clock.now()
    expect(seenOf()).toBeLessThan(lastActive)
    s.presence.gone(PHONE_MAC)
    await s.run(0.5) // still in the table (STALE): nothing new to write
    expect(seenOf()).toBeLessThan(lastActive)
    s.presence.forget(PHONE_MAC)
    s.advance({ seconds: 30 })
    const r = await s.sweep()
    expect(r.written).toMatchObject({ devices: 1, devicesGone: 1 })
    expect(seenOf()).toBe(lastActive)
    // gone and written: later sweeps write nothing for it
    s.advance({ seconds: 30 })
    expect((await s.sweep()).written.devices).toBe(0)
  })

  it('writes everything it knows at a clean stop', async () => {
    const s = setup()
    await signIn()
    s.presence.here(PHONE_MAC)
    // Sweep until one leaves both stored times behind.
    let lagging = false
    for (let i = 0; i < 12 && !lagging; i++) {
      s.advance({ seconds: 30 })
      const r = await s.sweep()
      lagging = r.written.visits === 0 && r.written.devices === 0
    }
    expect(lagging).toBe(true)
    expect(visits()[0]!.last_seen_at).toBeLessThan(h.clock.now())
    expect(s.flush()).toBe(2) // the visit and the device
    expect(visits()[0]!.last_seen_at).toBe(h.clock.now())
    const device = h.db.prepare(`SELECT last_seen_at FROM devices WHERE mac = ?`).get(PHONE_MAC)
    expect(device).toEqual({ last_seen_at: h.clock.now() })
  })

  it('after a crash keeps a present customer on one visit, loses less than a step, and sends visit.closed once', async () => {
    const s = setup()
    const arrived = h.clock.now()
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(12)
    const lastActive = h.clock.now()
    // the process dies without a flush; a new one opens the same file 2 minutes later
    const file = path.join(h.config.dataDir, 'branchgate.db')
    closeDb(h.db)
    h.db = openDb(file)
    const stored = visits()[0]!
    expect(lastActive - stored.last_seen_at).toBeGreaterThanOrEqual(0)
    expect(lastActive - stored.last_seen_at).toBeLessThan(SEEN_FLUSH_MS)
    const device = h.db
      .prepare(`SELECT last_seen_at FROM devices WHERE mac = ?`)
      .get(PHONE_MAC) as {
      last_seen_at: number
    }
    expect(lastActive - device.last_seen_at).toBeGreaterThanOrEqual(0)
    expect(lastActive - device.last_seen_at).toBeLessThan(SEEN_FLUSH_MS)
    const rows = visitStatements(h.db)
    const outbox = createOutbox(h.db, { branchId: 'demo', macs: macPolicy('omit', '') })
    const book = createVisitBook({
      db: h.db,
      visits: rows,
      branchId: 'demo',
      policy: visitPolicyOf(h.config),
      newId: uuidv7,
      outbox,
    })
    const tracker = createPresenceTracker({
      db: h.db,
      source: s.presence,
      visits: rows,
      book,
      policy: { ...visitPolicyOf(h.config), rememberMs: 30 * 86_400_000 },
      staffMacs: new Set(),
      monotonic: s.mono, // moves with the wall clock: no clock step
    })
    s.advance({ minutes: 2 })
    for (let i = 0; i < 10; i++) {
      s.advance({ seconds: 30 })
      await tracker.sweep(h.clock.now())
    }
    // still the one visit, from the first arrival
    expect(visits()).toHaveLength(1)
    expect(visits()[0]).toMatchObject({ started_at: arrived, ended_at: null })
    const left = h.clock.now()
    s.presence.gone(PHONE_MAC)
    for (let i = 0; i < 40; i++) {
      s.advance({ seconds: 30 })
      await tracker.sweep(h.clock.now())
    }
    expect(visits()[0]).toMatchObject({ ended_at: left, end_reason: 'absent' })
    const closedEvents = h.db
      .prepare(`SELECT count(*) AS n FROM outbox_events WHERE type = 'visit.closed'`)
      .get() as { n: number }
    expect(closedEvents.n).toBe(1)
    closeDb(h.db)
  })

  it('lets stored times lag by a third of the idle gap or of "here now" when those are short', () => {
    expect(seenStepMs({ idleMs: 15 * MIN })).toBe(5 * MIN)
    expect(seenStepMs({ idleMs: 60 * MIN })).toBe(SEEN_FLUSH_MS)
    expect(seenStepMs({ idleMs: 3 * MIN })).toBe(MIN)
    h = portalHarness({ console: { hereNowMinutes: 3 } })
    expect(presenceStepOf(h.config)).toBe(MIN)
    h.close()
    h = portalHarness({ visits: { idleMinutes: 30, minMinutes: 2 } })
    expect(presenceStepOf(h.config)).toBe(5 * MIN)
  })
})

describe('writing on a step', () => {
  it('spreads rows that fell due together over the following sweeps, each written once per step', () => {
    const keys = Array.from(
      { length: 1000 },
      (_, i) => `0190a1b2-0000-7000-8000-${String(i).padStart(12, '0')}`,
    )
    const stored = new Map(keys.map((k) => [k, 0]))
    const perSweep: number[] = []
    for (let sweep = 1; sweep <= 20; sweep++) {
      const at = sweep * 30_000
      let n = 0
      for (const k of keys) {
        if (stepDue(stored.get(k)!, at, 60_000, phaseOf(k))) {
          stored.set(k, at)
          n++
        }
        // never more than a step behind
        expect(at - stored.get(k)!).toBeLessThan(60_000)
      }
      perSweep.push(n)
    }
    // about half of the rows per 30-second sweep with a 60-second step, never all of them
    for (const n of perSweep) {
      expect(n).toBeGreaterThan(400)
      expect(n).toBeLessThan(600)
    }
    expect(stepDue(5, 5, 60_000, 0.5)).toBe(false)
    expect(stepDue(5, 4, 60_000, 0.5)).toBe(false)
  })
})

describe('a login decides with the exact last activity the tracker keeps', () => {
  const stored = () => visits()[0]!.last_seen_at

  /** Signs in, then stays until the stored last activity lags the real one by over 2 minutes. */
  async function presentWithStoredTimeBehind(s: ReturnType<typeof setup>) {
    await signIn()
    s.presence.here(PHONE_MAC)
    await s.run(6)
    // Stored once a step, on the visit's own phase (its id is partly random): wait for the lag.
    for (let i = 0; i < 20 && h.clock.now() - stored() <= 2.5 * MIN; i++) await s.run(0.5)
    const lastActive = h.clock.now()
    expect(lastActive - stored()).toBeGreaterThan(2.5 * MIN)
    expect(lastActive - stored()).toBeLessThan(s.stepMs)
    s.presence.gone(PHONE_MAC)
    return lastActive
  }

  it('keeps one visit, extended, for a customer last active idle - 2 min ago whose stored time is a step behind', async () => {
    const s = setup()
    const arrived = h.clock.now()
    const lastActive = await presentWithStoredTimeBehind(s)
    await s.run(13) // idle is 15 min: 13 min after the last activity, 15.5+ after the stored one
    expect(h.clock.now() - lastActive).toBe(13 * MIN)
    expect(visits()).toHaveLength(1)
    await signIn(PHONE_IP, '55 1234 5678', '+525512345678', 'Ana')
    expect(visits()).toEqual([
      expect.objectContaining({ started_at: arrived, last_seen_at: h.clock.now(), ended_at: null }),
    ])
  })

  it('opens a new visit for a customer last active idle + 1 min ago, closing the old one at that exact time', async () => {
    const s = setup()
    const lastActive = await presentWithStoredTimeBehind(s)
    // No sweep in between (a slow one): the login's own decision closes the old visit.
    s.advance({ minutes: 16 })
    await signIn(PHONE_IP, '55 1234 5678', '+525512345678', 'Ana')
    const v = visits()
    expect(v).toHaveLength(2)
    expect(v[0]).toMatchObject({ last_seen_at: lastActive, ended_at: lastActive })
    expect(v[1]).toMatchObject({ started_at: h.clock.now(), ended_at: null })
  })
})
