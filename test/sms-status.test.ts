import { userInfo } from 'node:os'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { smsResumeCommand, smsStatusCommand } from '../src/cli/sms-status.js'
import { closeDb, openDb } from '../src/db/open.js'
import { smsStatements } from '../src/db/sms.js'
import { ridersOf } from '../src/db/riders.js'
import { attemptRecorder, percentile, providerStats, pruneSmsRecords } from '../src/sms/metrics.js'
import { tempDir } from './helpers.js'
import { FakeClock } from './fakes/clock.js'

describe('per-provider figures', () => {
  it('writes the provider tries of one event-loop turn together, once the turn is over', async () => {
    const t = tempDir()
    const db = openDb(path.join(t.dir, 'b.db'))
    try {
      const logs: string[] = []
      const record = attemptRecorder(smsStatements(db), new FakeClock(), (l) => logs.push(l))
      record({
        provider: 'twilio',
        channel: 'sms',
        outcome: 'failed',
        latencyMs: 812.34,
        detail: 'HTTP 503',
      })
      record({ provider: 'infobip', channel: 'sms', outcome: 'sent', latencyMs: 95.06 })
      const rows = () => db.prepare('SELECT provider, outcome, latency_ms FROM sms_attempts').all()
      expect(rows()).toEqual([])
      expect(logs).toEqual(['sms: twilio failed after 812 ms: HTTP 503'])
      // A failure of a known kind says which in the log line.
      record({
        provider: 'twilio',
        channel: 'sms',
        outcome: 'failed',
        kind: 'credentials',
        latencyMs: 40,
        detail: 'HTTP 401: {"code":20003}',
      })
      expect(logs.at(-1)).toBe(
        'sms: twilio failed after 40 ms (credentials): HTTP 401: {"code":20003}',
      )
      await new Promise((r) => setImmediate(r))
      expect(rows()).toEqual([
        { provider: 'twilio', outcome: 'failed', latency_ms: 812.3 },
        { provider: 'infobip', outcome: 'sent', latency_ms: 95.1 },
        { provider: 'twilio', outcome: 'failed', latency_ms: 40 },
      ])
      // A database that refuses the write costs a log line, never the send.
      closeDb(db)
      record({ provider: 'twilio', channel: 'sms', outcome: 'sent', latencyMs: 10 })
      await new Promise((r) => setImmediate(r))
      expect(logs.at(-1)).toMatch(/^sms: could not record 1 provider tries: /)
    } finally {
      closeDb(db)
      t.remove()
    }
  })

  it('writes waiting tries in the next commit of the connection when one comes before the turn ends', async () => {
    const t = tempDir()
    const db = openDb(path.join(t.dir, 'b.db'))
    try {
      const logs: string[] = []
      const riders = ridersOf(db)
      const record = attemptRecorder(
        smsStatements(db),
        new FakeClock(),
        (l) => logs.push(l),
        setImmediate,
        riders,
      )
      const rows = () => db.prepare('SELECT provider, outcome FROM sms_attempts').all()
      record({ provider: 'twilio', channel: 'sms', outcome: 'sent', latencyMs: 95 })
      // The login's commit that records who delivered the code boards the waiting rows.
      db.transaction(() => riders.board())()
      expect(rows()).toEqual([{ provider: 'twilio', outcome: 'sent' }])
      // The turn's own flush then finds nothing left: no second copy, no empty commit.
      const changes = () => db.prepare('SELECT total_changes() AS n').get() as { n: number }
      const before = changes().n
      await new Promise((r) => setImmediate(r))
      expect(rows()).toEqual([{ provider: 'twilio', outcome: 'sent' }])
      expect(changes().n).toBe(before)
      // A rider that fails rolls back its own rows only; the commit it rode in stands.
      record({ provider: 'infobip', channel: 'sms', outcome: 'sent', latencyMs: 10 })
      db.exec('CREATE TABLE kept (n INTEGER)')
      db.exec(
        `CREATE TRIGGER refuse BEFORE INSERT ON sms_attempts BEGIN SELECT RAISE(ABORT, 'full'); END`,
      )
      db.transaction(() => {
        db.prepare('INSERT INTO kept VALUES (1)').run()
        riders.board()
      })()
      expect(db.prepare('SELECT n FROM kept').all()).toEqual([{ n: 1 }])
      expect(logs.at(-1)).toMatch(/^sms: could not record 1 provider tries: full/)
    } finally {
      closeDb(db)
      t.remove()
    }
  })

  it('takes nearest-rank percentiles', () => {
    const ms = Array.from({ length: 20 }, (_, i) => i + 1)
    expect(percentile(ms, 0.5)).toBe(10)
    expect(percentile(ms, 0.95)).toBe(19)
    expect(percentile([], 0.5)).toBeNull()
  })

  it('counts sent, failed and unreachable per provider over the window', () => {
    const t = tempDir()
    const db = openDb(path.join(t.dir, 'b.db'))
    try {
      const sms = smsStatements(db)
      const at = Date.parse('2026-03-02T15:00:00Z')
      const row = (
        provider: string,
        outcome: 'sent' | 'failed' | 'unreachable',
        latency_ms: number,
        when = at,
      ) =>
        sms.recordAttempt({ at: when, provider, channel: 'sms', outcome, latency_ms, detail: null })
      for (let i = 1; i <= 10; i++) row('twilio', 'sent', i * 100)
      row('twilio', 'failed', 5000)
      row('infobip', 'unreachable', 80)
      row('infobip', 'sent', 90, at - 2 * 86_400_000) // outside the window
      expect(providerStats(sms, at - 86_400_000)).toEqual([
        { provider: 'infobip', sent: 0, failed: 0, unreachable: 1, p50Ms: 80, p95Ms: 80 },
        { provider: 'twilio', sent: 10, failed: 1, unreachable: 0, p50Ms: 600, p95Ms: 5000 },
      ])
    } finally {
      closeDb(db)
      t.remove()
    }
  })
})

describe('keeping the SMS records small', () => {
  it('forgets provider tries and ended holds after 90 days, keeps the rest', () => {
    const t = tempDir()
    const db = openDb(path.join(t.dir, 'b.db'))
    try {
      const sms = smsStatements(db)
      const now = Date.parse('2026-06-01T00:00:00Z')
      const day = 86_400_000
      for (const at of [now - 91 * day, now - 89 * day]) {
        sms.recordAttempt({
          at,
          provider: 'twilio',
          channel: 'sms',
          outcome: 'sent',
          latency_ms: 1,
          detail: null,
        })
        sms.hold({ scope: 'prefix', key: '+52551234', reason: 'x', now: at, until: at + 3_600_000 })
      }
      expect(pruneSmsRecords(sms, now)).toBe(2)
      expect(sms.attemptsSince(0)).toHaveLength(1)
      expect(db.prepare('SELECT count(*) AS n FROM sms_holds').get()).toEqual({ n: 1 })
    } finally {
      closeDb(db)
      t.remove()
    }
  })
})

describe('branchgate sms-status', () => {
  it('prints the breaker, the budget and each provider', async () => {
    const t = tempDir()
    const file = path.join(t.dir, 'config.json')
    writeFileSync(file, JSON.stringify({ dataDir: t.dir, sms: { fraud: { dailyBudget: 50 } } }))
    const clock = new FakeClock()
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    smsStatements(db).recordAttempt({
      at: clock.now(),
      provider: 'console',
      channel: 'sms',
      outcome: 'sent',
      latency_ms: 3,
      detail: null,
    })
    closeDb(db)
    const lines: string[] = []
    try {
      const code = await smsStatusCommand(clock).run(['--config', file], {}, (l: string) =>
        lines.push(l),
      )
      expect(code).toBe(0)
      expect(lines).toEqual([
        'sms providers: console',
        'sms sending: on',
        expect.stringMatching(/^sms today: 0 of 50 codes; resets 2026-03-03 00:00$/),
        'sms console, last 24 h: 1 sent, 0 failed, 0 unreachable; p50 3 ms, p95 3 ms',
        'sms console: no error on record',
      ])
    } finally {
      t.remove()
    }
  })

  it('refuses to create a database for a config that was never served', async () => {
    const t = tempDir()
    const file = path.join(t.dir, 'config.json')
    writeFileSync(file, JSON.stringify({ dataDir: path.join(t.dir, 'nothing') }))
    try {
      expect(await smsStatusCommand().run(['--config', file], {})).toBe(2)
    } finally {
      t.remove()
    }
  })
})

describe('branchgate sms-resume', () => {
  it('ends the breaker pause early and records who did it', async () => {
    const t = tempDir()
    const file = path.join(t.dir, 'config.json')
    writeFileSync(file, JSON.stringify({ dataDir: t.dir }))
    const clock = new FakeClock()
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    const sms = smsStatements(db)
    sms.hold({
      scope: 'branch',
      key: '',
      reason: 'test',
      now: clock.now(),
      until: clock.now() + 1_800_000,
    })
    sms.hold({
      scope: 'prefix',
      key: '+52551234',
      reason: 'test',
      now: clock.now(),
      until: clock.now() + 1_800_000,
    })
    closeDb(db)
    const lines: string[] = []
    const out = (l: string) => lines.push(l)
    try {
      expect(await smsResumeCommand(clock).run(['--config', file], {}, out)).toBe(0)
      expect(await smsResumeCommand(clock).run(['--config', file], {}, out)).toBe(0)
      expect(
        await smsResumeCommand(clock).run(['--prefix', '+52551234', '--config', file], {}, out),
      ).toBe(0)
      expect(lines).toEqual([
        'sms sending resumed',
        'sms sending is not paused',
        'prefix +52551234 unblocked',
      ])
      const check = openDb(path.join(t.dir, 'branchgate.db'))
      expect(smsStatements(check).activeHolds(clock.now())).toEqual([])
      expect(check.prepare(`SELECT actor, action FROM audit_log`).all()).toEqual([
        { actor: `cli:${userInfo().username}`, action: 'sms.hold.lift' },
        { actor: `cli:${userInfo().username}`, action: 'sms.hold.lift' },
      ])
      // Counting restarts from the lift, not from the hold's planned end.
      expect(smsStatements(check).lastHoldEnd('branch', '', clock.now())).toBe(clock.now())
      closeDb(check)
    } finally {
      t.remove()
    }
  })
})
