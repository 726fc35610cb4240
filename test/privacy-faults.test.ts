import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import type { RetentionReport } from '../src/privacy/retention.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { consoleHarness, PASSWORD } from './console-harness.js'
import { seedWeek } from './console-seed.js'
import { tempDir } from './helpers.js'
import { CLI_ARGS, ROOT } from './net-helpers.js'

const DAY = 86_400_000

describe('a clock that jumps years ahead', () => {
  let h: ReturnType<typeof consoleHarness>
  afterEach(() => h?.close())

  it('deletes nothing it would not delete a week later: the run is capped, logged and audited', async () => {
    h = consoleHarness({}, { realErasure: true }) // privacy.catchUpDays: 7 (the default)
    seedWeek(h.db)
    const admin = await h.signedIn('root', 'admin')
    // Ana asked for cancellation today: blocked, to be deleted in 180 days.
    expect((await admin.submit('/customers/1/erase', { confirm: 'yes' })).status).toBe(303)
    const first = await h.app.retention.run(h.clock.now())
    expect(first).toMatchObject({ capped: false, effectiveAt: h.clock.now(), blocked: 0 })

    // The mini-PC boots with its clock five years ahead.
    h.clock.advance({ days: 5 * 365 })
    const r = await h.app.retention.run(h.clock.now())
    expect(r).toMatchObject({
      clockAt: h.clock.now(),
      capped: true,
      effectiveAt: first.effectiveAt + 7 * DAY,
      deleted: 0,
      blocked: 0,
      visitsTallied: 0,
      macsHashed: 0,
      devicesDeleted: 0,
      auditDeleted: 0,
    })
    // Logged (one sentence, both instants) and audited.
    expect(h.logs.filter((l) => l.includes('catchUpDays'))).toEqual([
      'privacy: the clock is 1818 day(s) past what retention may catch up in one run (privacy.catchUpDays 7); retention runs as of 2026-03-09T15:00:00.000Z, not 2031-03-01T15:00:00.000Z',
    ])
    expect(
      h.db
        .prepare(`SELECT actor, reason, detail FROM audit_log WHERE action = 'retention.capped'`)
        .all(),
    ).toEqual([
      {
        actor: 'system',
        reason: 'clock-step',
        detail: JSON.stringify({ clockAt: r.clockAt, effectiveAt: r.effectiveAt }),
      },
    ])
    // Everyone seen before the jump is still there; Ana is still only blocked.
    const count = (sql: string) => h.db.prepare(sql).pluck().get() as number
    expect(count(`SELECT COUNT(*) FROM customers WHERE erased_at IS NULL`)).toBe(4)
    expect(count(`SELECT COUNT(*) FROM blocked_customers`)).toBe(1)
    expect(count(`SELECT COUNT(*) FROM visits`)).toBe(11)
    expect(count(`SELECT COUNT(*) FROM devices`)).toBe(4)
    expect((await admin.login('root', PASSWORD)).status).toBe(303)
    const list = await (await admin.get('/customers')).text()
    for (const name of ['Beto Ruiz', 'Carla Núñez', 'Dana Pérez']) expect(list).toContain(name)
    // The manager reads it in the audit log.
    expect(await (await admin.get('/audit')).text()).toContain(
      'El sistema: el reloj marca 1 mar 2031, 9:00 a.m.; la conservación se aplicó solo hasta 9 mar 2026, 9:00 a.m.',
    )

    // The clock stays ahead: each daily run catches up one more week, no more.
    for (let d = 1; d <= 3; d++) {
      h.clock.advance({ days: 1 })
      const next = await h.app.retention.run(h.clock.now())
      expect(next).toMatchObject({ capped: true, effectiveAt: r.effectiveAt + d * 7 * DAY })
      expect(next.blocked + next.deleted).toBe(0)
    }
  })

  it('caps the first run ever too, anchored on the newest activity on record', async () => {
    h = consoleHarness({}, { realErasure: true })
    seedWeek(h.db) // the newest activity: a visit last seen on 2 March 2026, 08:59 local
    h.clock.advance({ days: 3 * 365 })
    const r = await h.app.retention.run(h.clock.now())
    expect(r.capped).toBe(true)
    expect(new Date(r.effectiveAt).toISOString()).toBe('2026-03-09T14:59:00.000Z')
    expect(r.blocked + r.deleted + r.visitsTallied).toBe(0)
  })

  it('makes nothing newly due when the clock goes back', async () => {
    h = consoleHarness({}, { realErasure: true })
    seedWeek(h.db)
    const first = await h.app.retention.run(h.clock.now())
    h.clock.advance({ days: -400 })
    const r = await h.app.retention.run(h.clock.now())
    expect(r).toMatchObject({ capped: false, effectiveAt: first.effectiveAt, blocked: 0 })
  })
})

/**
 * A retention run in a real child process (test/retention-child.ts), killed with SIGKILL inside
 * the transaction of one customer: every customer must be whole (untouched, blocked or deleted),
 * and the next run must finish the rest, each CRM event written exactly once.
 */
describe('a retention run killed with SIGKILL', () => {
  const dir = tempDir('branchgate-retention-kill-')
  // The child compiled once, like dist/ (a third of tsx's start-up per run). It lives inside the
  // checkout so that it finds better-sqlite3 and the installation's migrations as dist/ does.
  const bundle = path.join(
    ROOT,
    'node_modules/.cache/branchgate-test',
    `retention-child-${process.pid}.mjs`,
  )
  beforeAll(async () => {
    mkdirSync(path.dirname(bundle), { recursive: true })
    await build({
      absWorkingDir: ROOT,
      entryPoints: ['test/retention-child.ts'],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['better-sqlite3'],
      banner: {
        js: "import { createRequire as __bgRequire } from 'node:module'; const require = __bgRequire(import.meta.url);",
      },
      logLevel: 'warning',
    })
  })
  afterAll(() => {
    rmSync(bundle, { force: true })
    dir.remove()
  })

  const T1 = Date.parse('2026-03-02T15:00:00Z')
  const MONTH = 30 * DAY
  const DUE = 300 // customers not seen for 25 months
  const ACTIVE = 20 // customers seen last month
  const phoneOf = (id: number) => `+5255${String(10_000_000 + id)}`
  const macOf = (id: number) =>
    `3a:00:00:00:${String(Math.floor(id / 100)).padStart(2, '0')}:${String(id % 100).padStart(2, '0')}`

  function seed(db: Db) {
    const customer = db.prepare(
      `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
       VALUES (@id, @phone, @name, 'es', @at, @at, @at)`,
    )
    const device = db.prepare(
      `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at) VALUES (@mac, @id, @at, @at, @at)`,
    )
    const consent = db.prepare(
      `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
       VALUES (@id, '2026-01', '["service","marketing"]', @at, 'demo', @mac, 'es')`,
    )
    const visit = db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
       VALUES (@vid, @id, 'demo', @start, @start + 1200000, @start + 1200000, 'left')`,
    )
    const send = db.prepare(
      `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by)
       VALUES ('marzo', @phone, @at, @at, 'test')`,
    )
    db.transaction(() => {
      for (let id = 1; id <= DUE + ACTIVE; id++) {
        const at = id <= DUE ? T1 - 25 * MONTH - id * 60_000 : T1 - MONTH
        const p = { id, phone: phoneOf(id), name: `Cliente ${id}`, mac: macOf(id), at }
        customer.run(p)
        device.run(p)
        consent.run(p)
        send.run(p)
        visit.run({ vid: `v${id}a`, id, start: at - 7 * DAY })
        visit.run({ vid: `v${id}b`, id, start: at - 1_200_000 })
      }
    })()
  }

  type State = 'untouched' | 'blocked' | 'deleted'
  /** Each customer's state, or the test fails naming one that is half of something. */
  function states(db: Db): Map<number, State> {
    const per = (sql: string) => {
      const rows = db.prepare(sql).all() as Array<{ k: number | string; n: number }>
      return new Map(rows.map((r) => [r.k, r.n]))
    }
    const customers = new Map(
      (
        db.prepare(`SELECT id, name, erased_at FROM customers`).all() as Array<{
          id: number
          name: string
          erased_at: number | null
        }>
      ).map((r) => [r.id, r]),
    )
    const blocked = per(`SELECT customer_id AS k, COUNT(*) AS n FROM blocked_customers GROUP BY k`)
    const devices = per(`SELECT customer_id AS k, COUNT(*) AS n FROM devices GROUP BY k`)
    const consents = per(`SELECT customer_id AS k, COUNT(*) AS n FROM consents GROUP BY k`)
    const sends = per(`SELECT phone_e164 AS k, COUNT(*) AS n FROM campaign_sends GROUP BY k`)
    const visits = per(`SELECT customer_id AS k, COUNT(*) AS n FROM visits GROUP BY k`)
    const out = new Map<number, State>()
    for (let id = 1; id <= DUE + ACTIVE; id++) {
      const row = customers.get(id)
      const parts = {
        customer: row === undefined ? 'none' : row.erased_at === null ? 'live' : 'anonymous',
        blocked: blocked.get(id) ?? 0,
        devices: devices.get(id) ?? 0,
        consents: consents.get(id) ?? 0,
        sends: sends.get(phoneOf(id)) ?? 0,
        visits: visits.get(id) ?? 0,
        name: row?.name ?? null,
      }
      const is = (want: typeof parts) => JSON.stringify(parts) === JSON.stringify(want)
      // The active customers' devices go with raw device data (90 days) by the deletion run.
      const live = {
        devices: id <= DUE ? 1 : parts.devices,
        consents: 1,
        sends: 1,
        visits: 2,
        name: `Cliente ${id}`,
      }
      const gone = { devices: 0, consents: 0, sends: 0 }
      if (is({ customer: 'live', blocked: 0, ...live })) out.set(id, 'untouched')
      else if (is({ customer: 'anonymous', blocked: 1, ...gone, visits: 2, name: '' }))
        out.set(id, 'blocked')
      else if (is({ customer: 'none', blocked: 0, ...gone, visits: 0, name: null }))
        out.set(id, 'deleted')
      else expect.fail(`customer ${id} is half done: ${JSON.stringify(parts)}`)
    }
    return out
  }

  const tally = (m: Map<number, State>) => {
    const t = { untouched: 0, blocked: 0, deleted: 0 }
    for (const s of m.values()) t[s]++
    return t
  }

  /** Per customer number, the privacy events the outbox holds for it. */
  function events(db: Db, type: string): Map<string, number> {
    const rows = db
      .prepare(`SELECT payload FROM outbox_events WHERE type = ?`)
      .pluck()
      .all(type) as string[]
    const out = new Map<string, number>()
    for (const p of rows) {
      const phone = (JSON.parse(p) as { phone: string }).phone
      out.set(phone, (out.get(phone) ?? 0) + 1)
    }
    return out
  }

  /** Runs retention in a child as of `now`; with `stall`, kills it where it stalls. */
  async function child(
    file: string,
    config: string,
    now: number,
    stall?: string,
  ): Promise<{ lines: string[]; signal: NodeJS.Signals | null; code: number | null }> {
    const args = [bundle]
    args.push('--db', file, '--config', config, '--now', String(now))
    if (stall) args.push('--stall', stall)
    const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const errors: string[] = []
    c.stderr.on('data', (d) => errors.push(String(d)))
    const exited = new Promise<{ signal: NodeJS.Signals | null; code: number | null }>((r) =>
      c.once('exit', (code, signal) => r({ code, signal })),
    )
    const lines: string[] = []
    for await (const line of createInterface({ input: c.stdout })) {
      lines.push(line)
      // The child waits inside the transaction for this: the kill lands before its commit.
      if (line.startsWith('stalled ')) c.kill('SIGKILL')
    }
    const end = await exited
    if (!stall && end.code !== 0) expect.fail(`retention child failed:\n${errors.join('')}`)
    return { lines, ...end }
  }

  it('leaves every customer untouched, blocked or deleted, and the next run finishes the rest with each CRM event once', async () => {
    const file = path.join(dir.dir, 'branchgate.db')
    const config = path.join(dir.dir, 'branchgate.json')
    // Visits kept 36 months here, so the deletion (not visit retention) is what tallies them.
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: dir.dir,
        privacy: { catchUpDays: 365, retention: { visitsMonths: 36 } },
      }),
    )
    const db = openDb(file)
    try {
      seed(db)

      // Blocking: killed inside the 120th customer's transaction.
      const killed = await child(file, config, T1, 'blocked:120')
      expect(killed.signal).toBe('SIGKILL')
      const stalled = Number(killed.lines.at(-1)!.split(' ')[2])
      expect(killed.lines.filter((l) => l.startsWith('blocked '))).toHaveLength(119)
      let s = states(db)
      expect(tally(s)).toEqual({ untouched: DUE + ACTIVE - 119, blocked: 119, deleted: 0 })
      expect(s.get(stalled)).toBe('untouched')
      let blockedEvents = events(db, 'customer.blocked')
      expect(blockedEvents.size).toBe(119)
      expect(blockedEvents.has(phoneOf(stalled))).toBe(false)

      // The next run blocks the rest, and nobody twice.
      const resumed = await child(file, config, T1)
      const report = JSON.parse(resumed.lines.at(-1)!.slice('done '.length)) as RetentionReport
      expect(report).toMatchObject({ blocked: DUE - 119, deleted: 0, capped: false })
      s = states(db)
      expect(tally(s)).toEqual({ untouched: ACTIVE, blocked: DUE, deleted: 0 })
      for (let id = DUE + 1; id <= DUE + ACTIVE; id++) expect(s.get(id)).toBe('untouched')
      blockedEvents = events(db, 'customer.blocked')
      expect(blockedEvents.size).toBe(DUE)
      expect([...blockedEvents.values()].every((n) => n === 1)).toBe(true)

      // Deletion, 181 days later: killed inside the 100th customer's transaction.
      const T2 = T1 + 181 * DAY
      const killed2 = await child(file, config, T2, 'deleted:100')
      expect(killed2.signal).toBe('SIGKILL')
      const stalled2 = Number(killed2.lines.at(-1)!.split(' ')[2])
      s = states(db)
      expect(tally(s)).toEqual({ untouched: ACTIVE, blocked: DUE - 99, deleted: 99 })
      expect(s.get(stalled2)).toBe('blocked')
      const talliedVisits = () =>
        db.prepare(`SELECT COALESCE(SUM(visits), 0) FROM visit_tallies`).pluck().get() as number
      expect(talliedVisits()).toBe(2 * 99)
      expect(events(db, 'customer.deleted').size).toBe(99)

      const resumed2 = await child(file, config, T2)
      const report2 = JSON.parse(resumed2.lines.at(-1)!.slice('done '.length)) as RetentionReport
      expect(report2).toMatchObject({ deleted: DUE - 99, blocked: 0 })
      s = states(db)
      expect(tally(s)).toEqual({ untouched: ACTIVE, blocked: 0, deleted: DUE })
      // Every visit of a deleted customer is counted once in the tallies, none twice.
      expect(talliedVisits()).toBe(2 * DUE)
      const deletedEvents = events(db, 'customer.deleted')
      expect(deletedEvents.size).toBe(DUE)
      expect([...deletedEvents.values()].every((n) => n === 1)).toBe(true)
      expect(events(db, 'customer.blocked').size).toBe(DUE)
      // Nothing else about them was left to send.
      expect(
        db
          .prepare(
            `SELECT COUNT(*) FROM outbox_events WHERE type NOT IN ('customer.blocked', 'customer.deleted')`,
          )
          .pluck()
          .get(),
      ).toBe(0)
    } finally {
      closeDb(db)
    }
  }, 600_000) // a hang guard only: five real processes, each many times slower on a busy machine
})

describe('privacy settings an operator gets wrong', () => {
  const problemsOf = (text: string): string[] => {
    try {
      loadConfig(text, {})
    } catch (err) {
      if (err instanceof ConfigError) return err.problems
      throw err
    }
    return []
  }

  it('answers each wrong privacy key with one sentence naming the key, its bounds and what was given', () => {
    expect(problemsOf('{"privacy":{"catchUpDays":0}}')).toEqual([
      'privacy.catchUpDays must be between 1 and 365, got 0',
    ])
    expect(problemsOf('{"privacy":{"retention":{"rawDeviceDays":1}}}')).toEqual([
      'privacy.retention.rawDeviceDays must be between 2 and 3650, got 1',
    ])
    expect(problemsOf('{"privacy":{"blockingDays":"180"}}')).toEqual([
      'privacy.blockingDays: expected number, received string, got "180"',
    ])
    expect(problemsOf('{"privacy":{"retention":{"visitMonths":12}}}')).toEqual([
      'privacy.retention: unknown key(s) visitMonths',
    ])
    expect(problemsOf('{"privacy":{"retention":{"customersInactiveMonths":1.5}}}')).toEqual([
      'privacy.retention.customersInactiveMonths: must be a whole number, got 1.5',
    ])
    expect(problemsOf('{"privacy":{"noticeVersion":"","controller":""}}')).toEqual([
      'privacy.noticeVersion: must not be empty, got ""',
      'privacy.controller: must not be empty, got ""',
    ])
    expect(problemsOf(`{"privacy":{"noticeVersion":"${'v'.repeat(41)}"}}`)).toEqual([
      `privacy.noticeVersion: must be at most 40 characters long, got "${'v'.repeat(41)}"`,
    ])
    expect(problemsOf('{"privacy":{"noticeUrl":"ftp://example.com/aviso"}}')).toEqual([
      'privacy.noticeUrl must be a web address starting with http:// or https://, got "ftp://example.com/aviso"',
    ])
    expect(problemsOf('{"privacy":{"fullNotice":{"fr":"Avis"}}}')).toEqual([
      'privacy.fullNotice: unknown key(s) fr',
    ])
    expect(
      problemsOf(
        '{"privacy":{"fullNotice":{"es":"Aviso."},"fullNoticeFiles":{"es":"/etc/branchgate/aviso.txt"}}}',
      ),
    ).toEqual([
      'privacy.fullNotice.es and privacy.fullNoticeFiles.es are both set: keep one (the text or the file)',
    ])
    // One language of the full notice may be given alone (the other is built from the config).
    expect(problemsOf('{"privacy":{"fullNotice":{"es":"Aviso completo."}}}')).toEqual([])
    expect(
      problemsOf('{"privacy":{"fullNoticeFiles":{"en":"/etc/branchgate/notice-en.txt"}}}'),
    ).toEqual([])
  })

  it('refuses to start, in one sentence, when a notice file named in privacy.fullNoticeFiles cannot be read', async () => {
    const dir = tempDir('branchgate-notice-')
    try {
      const config = path.join(dir.dir, 'branchgate.json')
      const missing = path.join(dir.dir, 'aviso-es.txt')
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: path.join(dir.dir, 'data'),
          privacy: { fullNoticeFiles: { es: missing } },
        }),
      )
      // A child process, as the service runs (test/server-process.test.ts proves such a refusal
      // opens no port and starts no thread).
      const run = spawnSync(process.execPath, [...CLI_ARGS, 'serve', '--config', config], {
        encoding: 'utf8',
      })
      expect(run.status).toBe(2)
      // One sentence as the last line (the gate's start-up lines come before it), no stack trace.
      expect(run.stderr.trim().split('\n').at(-1)).toBe(
        `branchgate: privacy.fullNoticeFiles.es: cannot read the privacy notice ${missing}: ENOENT`,
      )
      expect(run.stderr).not.toMatch(/^\s+at /m)
    } finally {
      dir.remove()
    }
  })
})
