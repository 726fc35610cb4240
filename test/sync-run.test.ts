import { createHmac } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig, type SyncConfig } from '../src/config.js'
import type { Db } from '../src/db/open.js'
import type { Batch, CrmAdapter } from '../src/sync/adapter.js'
import { backoffMs, batchIdOf, createSyncRunner } from '../src/sync/run.js'
import { parkedEvents, syncStatus } from '../src/sync/status.js'
import { createWebhookAdapter } from '../src/sync/webhook.js'
import { FakeClock } from './fakes/clock.js'
import { seedEvents } from './fakes/outbox-seed.js'
import { privateLoopback, WebhookReceiver } from './fakes/webhook-receiver.js'
import { tempDb } from './helpers.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

function syncConfig(over: Record<string, unknown> = {}, url = 'http://127.0.0.1:9/x'): SyncConfig {
  return loadConfig(
    JSON.stringify({ sync: { adapter: { type: 'webhook', url, secrets: [SECRET] }, ...over } }),
  ).sync
}

let t: ReturnType<typeof tempDb>
let receiver: WebhookReceiver
let clock: FakeClock
let logs: string[]
beforeEach(async () => {
  t = tempDb()
  receiver = await new WebhookReceiver([SECRET]).start()
  // The receiver checks timestamps against the real time.
  clock = new FakeClock(Date.now())
  logs = []
})
afterEach(async () => {
  await receiver.stop()
  t.close()
})

function runnerFor(
  db: Db,
  over: Record<string, unknown> = {},
  extra: {
    random?: () => number
    isAlive?: (pid: number) => boolean
    adapter?: CrmAdapter
    redactKey?: Buffer
  } = {},
) {
  const config = syncConfig(over, receiver.url)
  const adapter =
    extra.adapter ??
    createWebhookAdapter(config.adapter as any, { clock, timeoutMs: config.timeoutMs })
  return createSyncRunner({
    db,
    adapter,
    clock,
    config,
    branchId: 'b1',
    log: (l) => logs.push(l),
    random: extra.random ?? (() => 0.5),
    isAlive: extra.isAlive,
    ...(extra.redactKey ? { redactKey: extra.redactKey } : {}),
  })
}

const statusOf = (db: Db) =>
  db.prepare(`SELECT status, COUNT(*) AS n FROM outbox_events GROUP BY status`).all()

describe('a sync run', () => {
  it('sends every pending event in order, in batches of at most the configured count, and marks them delivered', async () => {
    const written = seedEvents(t.db, { count: 450, customers: 7 })
    const r = await runnerFor(t.db).run()
    expect(r).toMatchObject({ status: 'done', delivered: 450, batches: 3 })
    expect(receiver.accepted.map((e) => e.id)).toEqual(written.map((w) => w.id))
    expect(receiver.duplicates()).toBe(0)
    expect(receiver.badSignatures).toBe(0)
    expect(statusOf(t.db)).toEqual([{ status: 'delivered', n: 450 }])
    expect(syncStatus(t.db, clock.now())).toMatchObject({
      pending: 0,
      parked: 0,
      lastSuccessAt: clock.now(),
      lastError: null,
    })
  })

  it('sends the batches of a run over one kept-alive connection', async () => {
    seedEvents(t.db, { count: 600, customers: 7 })
    expect(await runnerFor(t.db).run()).toMatchObject({ status: 'done', batches: 3 })
    expect(receiver.requests).toBe(3)
    // Was one connection per batch: the receiver announced `Keep-Alive: timeout=1`, which Node's
    // Agent takes as "do not reuse" (issue 20: a connect per batch in the sync's profile).
    expect(receiver.connections).toBe(1)
  })

  it('keeps each request under the byte limit', async () => {
    seedEvents(t.db, { count: 60, customers: 3, nameBytes: 1000 })
    receiver.keepHeaders = true
    const r = await runnerFor(t.db, { batchMaxBytes: 8 * 1024 }).run()
    expect(r.status).toBe('done')
    expect(receiver.requests).toBeGreaterThan(6)
    expect(receiver.accepted).toHaveLength(60)
    const sizes = receiver.headers.map((h) => Number(h['content-length']))
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8 * 1024)
    // Full, not timid: each request (but the last) carries as much as fits.
    expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThan(8 * 1024 - 1200)
  })

  it('retries a failed batch with the same batch id (webhook-id) and event ids', async () => {
    const written = seedEvents(t.db, { count: 5, customers: 2 })
    receiver.keepHeaders = true
    receiver.mode = { kind: 'status', status: 503 }
    const first = await runnerFor(t.db).run()
    expect(first).toMatchObject({ status: 'failed', error: 'webhook answered 503' })
    receiver.mode = { kind: 'ok' }
    const second = await runnerFor(t.db).run({ force: true })
    expect(second).toMatchObject({ status: 'done', delivered: 5 })
    const ids = receiver.headers.map((h) => h['webhook-id'])
    expect(ids[0]).toBe(ids[1])
    expect(ids[0]).toBe(batchIdOf(written.map((w) => w.id)))
  })

  it('backs off after a transient failure, honours Retry-After, and the schedule waits while the CLI may force', async () => {
    seedEvents(t.db, { count: 3, customers: 1 })
    receiver.mode = { kind: 'status', status: 429, retryAfter: '120' }
    const runner = runnerFor(t.db)
    const r = await runner.run()
    expect(r).toMatchObject({ status: 'failed', nextAttemptAt: clock.now() + 120_000 })
    expect(syncStatus(t.db, clock.now())).toMatchObject({
      pending: 3,
      lastError: 'webhook answered 429',
      nextAttemptAt: clock.now() + 120_000,
    })
    expect(t.db.prepare(`SELECT attempts FROM outbox_events`).all()).toEqual([
      { attempts: 1 },
      { attempts: 1 },
      { attempts: 1 },
    ])
    receiver.mode = { kind: 'ok' }
    clock.advance({ seconds: 119 })
    expect(await runner.run()).toMatchObject({ status: 'backing-off' })
    clock.advance({ seconds: 1 })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 3 })
  })

  it('grows the backoff window exponentially with full jitter, up to the cap', () => {
    const top = () => 0.999999
    expect(backoffMs(0, 1000, 1_800_000, top)).toBe(999)
    expect(backoffMs(3, 1000, 1_800_000, top)).toBe(7999)
    expect(backoffMs(30, 1000, 1_800_000, top)).toBe(1_799_998)
    expect(backoffMs(5, 1000, 1_800_000, () => 0)).toBe(0)
  })

  it('uses consecutive failures for the global backoff and resets after a success', async () => {
    seedEvents(t.db, { count: 1, customers: 1 })
    receiver.mode = { kind: 'status', status: 500 }
    const runner = runnerFor(t.db, { backoffBaseMs: 1000 }, { random: () => 0.999 })
    const waits: number[] = []
    for (let i = 0; i < 4; i++) {
      const r = await runner.run({ force: true })
      if (r.status !== 'failed') throw new Error(r.status)
      waits.push(r.nextAttemptAt - clock.now())
    }
    expect(waits).toEqual([999, 1998, 3996, 7992])
    receiver.mode = { kind: 'ok' }
    await runner.run({ force: true })
    expect(syncStatus(t.db, clock.now()).nextAttemptAt).toBeNull()
  })

  it('gives up on a request after the timeout and retries later', async () => {
    seedEvents(t.db, { count: 2, customers: 1 })
    receiver.mode = { kind: 'hang' }
    const r = await runnerFor(t.db, { timeoutMs: 150 }).run()
    expect(r).toMatchObject({ status: 'failed', error: 'webhook: timed out after 150 ms' })
  })

  it('says connection refused when the CRM is down', async () => {
    seedEvents(t.db, { count: 2, customers: 1 })
    // An address of 127.0.0.0/8 nothing listens on: refused, and no other process can take it.
    // Port 1, not 8080: a service another test runs on 0.0.0.0:8080 took the connection once and
    // never answered (the run then timed out instead of being refused).
    const config = syncConfig({}, `http://${privateLoopback()}:1/hook`)
    const runner = createSyncRunner({
      db: t.db,
      // The refusal comes at once; the timeout only guards a hang (1 s fired first once under load).
      adapter: createWebhookAdapter(config.adapter as any, { clock, timeoutMs: 60_000 }),
      clock,
      config,
      branchId: 'b1',
      log: () => {},
    })
    expect(await runner.run()).toMatchObject({
      status: 'failed',
      error: 'webhook: network error ECONNREFUSED',
    })
  })

  it('parks only the events the CRM refuses, keeps its answer, and does not block the events behind them', async () => {
    const written = seedEvents(t.db, { count: 40, customers: 4 })
    const bad = written[13]!.id
    receiver.poison.add(bad)
    const r = await runnerFor(t.db).run()
    expect(r).toMatchObject({ status: 'done', delivered: 39, parked: 1 })
    expect(receiver.accepted.map((e) => e.id)).toEqual(
      written.map((w) => w.id).filter((id) => id !== bad),
    )
    const parked = parkedEvents(t.db)
    expect(parked).toEqual([
      expect.objectContaining({
        id: bad,
        error: 'webhook answered 400',
        response: '{"error":"poisoned event"}',
      }),
    ])
    expect(syncStatus(t.db, clock.now())).toMatchObject({ parked: 1, pending: 0 })
    expect(logs.some((l) => l.includes(`parked 1 event(s)`) && l.includes(bad))).toBe(true)

    // After a fix, --retry-failed sends it again.
    receiver.poison.clear()
    const runner = runnerFor(t.db)
    expect(runner.retryParked()).toBe(1)
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 1 })
    expect(syncStatus(t.db, clock.now()).parked).toBe(0)
    expect(receiver.deliveries.get(bad)).toBe(1)
  })

  it('retries (not parks) when the CRM refuses the credentials, since the events are not at fault', async () => {
    seedEvents(t.db, { count: 3, customers: 1 })
    const wrong = createWebhookAdapter(
      {
        type: 'webhook',
        url: receiver.url,
        secrets: ['whsec_' + Buffer.from('wrong secret').toString('base64')],
      },
      { clock, timeoutMs: 30_000 },
    )
    const r = await runnerFor(t.db, {}, { adapter: wrong }).run()
    expect(r).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('webhook answered 401'),
    })
    expect(syncStatus(t.db, clock.now())).toMatchObject({ parked: 0, pending: 3 })
  })

  it('never overlaps: a second run in this process or another one is told the first is busy', async () => {
    seedEvents(t.db, { count: 10, customers: 1 })
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    receiver.beforeAnswer = () => held
    const a = runnerFor(t.db)
    const first = a.run()
    while (receiver.requests === 0) await new Promise((r) => setImmediate(r))
    expect(await a.run()).toMatchObject({ status: 'busy' })
    // Another process: same database, its own runner; the holder (this pid) is alive.
    const b = runnerFor(t.db)
    expect(await b.run({ force: true })).toMatchObject({ status: 'busy' })
    release()
    expect(await first).toMatchObject({ status: 'done', delivered: 10 })
    expect(syncStatus(t.db, clock.now()).running).toBe(false)
  })

  it('takes over the lease of a run whose process died', async () => {
    seedEvents(t.db, { count: 4, customers: 1 })
    t.db
      .prepare(`UPDATE sync_state SET lease_owner = @o, lease_until = @u`)
      .run({ o: `${(await import('node:os')).hostname()}:999999:abc`, u: clock.now() + 600_000 })
    const alive = runnerFor(t.db, {}, { isAlive: () => true })
    expect(await alive.run()).toMatchObject({ status: 'busy' })
    const r = await runnerFor(t.db, {}, { isAlive: () => false }).run()
    expect(r).toMatchObject({ status: 'done', delivered: 4 })
  })

  it('with no CRM configured, leaves the events where they are and says so', async () => {
    seedEvents(t.db, { count: 4, customers: 1 })
    const config = loadConfig(null).sync
    expect(config.adapter).toEqual({ type: 'none' })
    const runner = createSyncRunner({
      db: t.db,
      adapter: null,
      clock,
      config,
      branchId: 'b1',
      log: () => {},
    })
    expect(await runner.run()).toEqual({ status: 'no-adapter', pending: 4 })
  })

  it('prunes delivered events after keepDeliveredHours', async () => {
    seedEvents(t.db, { count: 4, customers: 1 })
    const runner = runnerFor(t.db, { keepDeliveredHours: 1 })
    await runner.run()
    expect(statusOf(t.db)).toEqual([{ status: 'delivered', n: 4 }])
    clock.advance({ hours: 1 })
    await runner.run()
    expect(statusOf(t.db)).toEqual([])
  })

  it("retries one event the CRM asked to retry on its own, without breaking that customer's order", async () => {
    const written = seedEvents(t.db, { count: 6, customers: 2 })
    // customers alternate: 0,1,0,1,0,1. Event 0 (customer 0) is to be retried.
    let calls = 0
    const sent: string[][] = []
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver(b: Batch) {
        calls++
        sent.push(b.events.map((e) => e.id))
        if (calls === 1)
          return {
            kind: 'acked',
            events: [{ id: written[0]!.id, result: 'retry', error: 'locked' }],
          }
        return { kind: 'acked' }
      },
    }
    const runner = runnerFor(t.db, {}, { adapter })
    const r = await runner.run()
    // First batch holds all 6; event 0 waits, and customer 0's later events (2, 4) wait behind it.
    expect(r).toMatchObject({ status: 'done', delivered: 3, retried: 3 })
    expect(await runner.run()).toMatchObject({ status: 'done', batches: 0 })
    clock.advance({ hours: 1 })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 3 })
    expect(calls).toBe(2)
    expect(sent[1]).toEqual([written[0]!.id, written[2]!.id, written[4]!.id])
  })

  // Issue 20: the acknowledgement writes each row once, and the next request goes out while the
  // last answer is written down, except when that answer holds a customer's later events back.
  it('marks each acknowledged event delivered and replaces its payload and subject by digests in one write per row', async () => {
    seedEvents(t.db, { count: 300, customers: 7 })
    const changes = () => t.db.prepare(`SELECT total_changes() AS n`).pluck().get() as number
    const before = changes()
    const adapter: CrmAdapter = { name: 'fake', deliver: async () => ({ kind: 'acked' }) }
    const r = await runnerFor(t.db, { batchMaxEvents: 100 }, { adapter }).run()
    expect(r).toMatchObject({ status: 'done', delivered: 300, batches: 3 })
    // 300 rows written once each; the rest (a few) is the run's own state: the lease taken,
    // renewed and released, the run's start, each batch's success. Was over 600: each row was
    // marked delivered, then redacted.
    expect(changes() - before).toBeGreaterThanOrEqual(300)
    expect(changes() - before).toBeLessThan(320)
    const rows = t.db
      .prepare(`SELECT subject, payload FROM outbox_events WHERE status = 'delivered'`)
      .all() as Array<{ subject: string; payload: string }>
    expect(rows).toHaveLength(300)
    for (const row of rows) {
      expect(row.subject).toMatch(/^h:[0-9a-f]{64}$/)
      expect(JSON.parse(row.payload)).toEqual({
        redacted: true,
        digest: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
      })
    }
    // The same customer keeps the same digest (remembered within the run, same key).
    expect(new Set(rows.map((r) => r.subject)).size).toBe(7)
  })

  // Issue 20: pages, not statements, are what an acknowledgement costs. A subject stored as its
  // digest sits on a random page of outbox_by_subject; naming it in the UPDATE (even unchanged)
  // made SQLite delete and insert that entry again: a page per event.
  it('writes few WAL pages per delivered event: the subject index is left alone when the subject is already a digest', async () => {
    seedEvents(t.db, { count: 10_000, customers: 10_000, subjectKey: Buffer.alloc(32, 1) })
    t.db.pragma('wal_checkpoint(TRUNCATE)')
    t.db.pragma('wal_autocheckpoint = 0')
    const subjectsBefore = t.db
      .prepare(`SELECT seq, subject FROM outbox_events ORDER BY seq`)
      .all() as Array<{ seq: number; subject: string }>
    const adapter: CrmAdapter = { name: 'fake', deliver: async () => ({ kind: 'acked' }) }
    const r = await runnerFor(t.db, { batchMaxEvents: 200 }, { adapter }).run()
    expect(r).toMatchObject({ status: 'done', delivered: 10_000, batches: 50 })
    const [wal] = t.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>
    // The table's pages (about 10 rows each) and the two partial indexes' ends: ~0.12 a row.
    // Was ~0.75 (every event also rewrote its entry in outbox_by_subject).
    expect(wal!.log / 10_000).toBeLessThan(0.2)
    // And the subjects are what delivery would have made of them: the same digests.
    expect(t.db.prepare(`SELECT seq, subject FROM outbox_events ORDER BY seq`).all()).toEqual(
      subjectsBefore,
    )
  })

  // Issue 20: the lease was renewed (a write and a commit) before every request.
  it('renews its lease before a request only when the last renewal is a second old', async () => {
    seedEvents(t.db, { count: 1_000, customers: 10 })
    const leaseSeen: number[] = []
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver() {
        leaseSeen.push(t.db.prepare(`SELECT lease_until FROM sync_state`).pluck().get() as number)
        clock.advance({ ms: 300 })
        return { kind: 'acked' }
      },
    }
    const startedAt = clock.now()
    const r = await runnerFor(t.db, { batchMaxEvents: 100 }, { adapter }).run()
    expect(r).toMatchObject({ status: 'done', delivered: 1_000, batches: 10 })
    // Ten requests over three seconds: the lease taken at the start, then renewed at 1.2, 2.4 s.
    const leaseMs = leaseSeen[0]! - startedAt
    expect(leaseSeen.map((u) => u - leaseMs - startedAt)).toEqual([
      0, 0, 0, 0, 1200, 1200, 1200, 1200, 2400, 2400,
    ])
  })

  // Issue 20: the question read every pending row (100,000 in the bench: ~150 ms and a page cache
  // filled at once) before the first request.
  it('asks whether an event waits for its own retry from an index of those events alone', async () => {
    const written = seedEvents(t.db, { count: 30, customers: 3 })
    const plan = t.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT 1 FROM outbox_events
         WHERE status = 'pending' AND next_attempt_at > 0
           AND next_attempt_at > 1 AND next_attempt_at <= 2 LIMIT 1`,
      )
      .all() as Array<{ detail: string }>
    expect(plan.map((p) => p.detail).join()).toMatch(/USING COVERING INDEX outbox_waiting/)
    const inWaiting = () =>
      t.db
        .prepare(
          `SELECT count(*) FROM outbox_events INDEXED BY outbox_waiting
                    WHERE status = 'pending' AND next_attempt_at > 0`,
        )
        .pluck()
        .get()
    let calls = 0
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver() {
        return ++calls === 1
          ? { kind: 'acked', events: [{ id: written[0]!.id, result: 'retry', error: 'locked' }] }
          : { kind: 'acked' }
      },
    }
    const runner = runnerFor(t.db, {}, { adapter })
    expect(await runner.run()).toMatchObject({ delivered: 20, retried: 10 })
    // The event told to retry and the nine of its customer held behind it, each with a retry time.
    expect(inWaiting()).toBe(10)
    clock.advance({ hours: 1 })
    expect(await runner.run()).toMatchObject({ delivered: 10 })
    expect(inWaiting()).toBe(0)
  })

  it("keeps as digest the keyed hash of exactly the payload sent, under the runner's own key", async () => {
    seedEvents(t.db, { count: 450, customers: 9, subjectKey: Buffer.alloc(32, 1) })
    const sent = new Map<string, string>()
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver(b: Batch) {
        for (const e of b.events) sent.set(e.id, e.data)
        return { kind: 'acked' }
      },
    }
    const key = Buffer.alloc(32, 2)
    const runner = runnerFor(t.db, {}, { adapter, redactKey: key })
    // Another runner on the same connection, made later with another key, changes nothing.
    runnerFor(t.db, {}, { adapter, redactKey: Buffer.alloc(32, 3) })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 450, batches: 3 })
    const rows = t.db.prepare(`SELECT id, payload FROM outbox_events`).all() as Array<{
      id: string
      payload: string
    }>
    expect(rows).toHaveLength(450)
    for (const row of rows) {
      const digest = createHmac('sha256', key).update(sent.get(row.id)!).digest('hex')
      expect(JSON.parse(row.payload)).toEqual({ redacted: true, digest: `hmac-sha256:${digest}` })
    }
  })

  it('re-keys a plain subject written before subjects were hashed when its event is delivered', async () => {
    seedEvents(t.db, { count: 4, customers: 2 })
    expect(
      t.db.prepare(`SELECT subject FROM outbox_events ORDER BY seq LIMIT 1`).pluck().get(),
    ).toMatch(/^customer:\+52/)
    const adapter: CrmAdapter = { name: 'fake', deliver: async () => ({ kind: 'acked' }) }
    expect(await runnerFor(t.db, {}, { adapter }).run()).toMatchObject({ delivered: 4 })
    const subjects = t.db
      .prepare(`SELECT subject FROM outbox_events ORDER BY seq`)
      .pluck()
      .all() as string[]
    for (const s of subjects) expect(s).toMatch(/^h:[0-9a-f]{64}$/)
    expect(new Set(subjects).size).toBe(2)
  })

  it('sends the next batch before writing down an answer that holds nothing back', async () => {
    const written = seedEvents(t.db, { count: 30, customers: 3 })
    const pendingAtSend: number[] = []
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver() {
        pendingAtSend.push(
          t.db
            .prepare(`SELECT COUNT(*) FROM outbox_events WHERE status = 'pending'`)
            .pluck()
            .get() as number,
        )
        return { kind: 'acked' }
      },
    }
    const r = await runnerFor(t.db, { batchMaxEvents: 10 }, { adapter }).run()
    expect(r).toMatchObject({ status: 'done', delivered: 30, batches: 3 })
    // Batch 2 leaves while batch 1 is still pending in the outbox, and so on.
    expect(pendingAtSend).toEqual([30, 30, 20])
    expect(statusOf(t.db)).toEqual([{ status: 'delivered', n: written.length }])
  })

  it("does not send the batch read ahead when the answer asks to retry one event: the customer's later events wait behind it", async () => {
    const written = seedEvents(t.db, { count: 12, customers: 3 })
    // Batches of 3 (customers 0,1,2). Event 0 of batch 1 is to be retried: customer 0's later
    // events (3, 6, 9) were read ahead with batch 2 and must not be sent in this run.
    const sent: string[][] = []
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver(b: Batch) {
        sent.push(b.events.map((e) => e.id))
        if (sent.length === 1)
          return {
            kind: 'acked',
            events: [{ id: written[0]!.id, result: 'retry', error: 'locked' }],
          }
        return { kind: 'acked' }
      },
    }
    const runner = runnerFor(t.db, { batchMaxEvents: 3 }, { adapter })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 8, retried: 1 })
    const customer0 = new Set([0, 3, 6, 9].map((i) => written[i]!.id))
    expect(
      sent
        .slice(1)
        .flat()
        .filter((id) => customer0.has(id)),
    ).toEqual([])
    clock.advance({ hours: 1 })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 4 })
    expect(
      sent
        .slice(-2)
        .flat()
        .filter((id) => customer0.has(id)),
    ).toEqual([0, 3, 6, 9].map((i) => written[i]!.id))
  })

  it('does not wait for years when the clock jumped back after a failure (a mini-PC booting without its RTC)', async () => {
    seedEvents(t.db, { count: 3, customers: 1 })
    let up = false
    const adapter: CrmAdapter = {
      name: 'fake',
      deliver: async () =>
        up ? { kind: 'acked' } : { kind: 'transient', error: 'down', retryAfterMs: null },
    }
    const runner = runnerFor(t.db, {}, { adapter })
    expect(await runner.run()).toMatchObject({ status: 'failed' })
    up = true
    clock.advance({ days: -400 })
    expect(await runner.run()).toMatchObject({ status: 'done', delivered: 3 })
  })
})
