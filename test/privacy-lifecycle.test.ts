import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { addDays, resolveRange } from '../src/console/time.js'
import type { DashboardFigures } from '../src/console/dashboard.js'
import { createSyncRunner } from '../src/sync/run.js'
import type { CrmAdapter, WireEvent } from '../src/sync/adapter.js'
import { threadConsoleWorker } from '../src/console/worker.js'
import { parseMac } from '../src/mac.js'
import { consoleHarness, PASSWORD } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const DAY = 86_400_000
const TZ = 'America/Mexico_City'

/** Every figure of the dashboard but who is here now, for ranges that cut the seeded week. */
async function pastFigures(hh: typeof h) {
  const now = hh.clock.now()
  const ranges: Array<[string, string]> = [
    ['2026-02-20', '2026-03-02'],
    ['2026-02-23', '2026-03-01'],
    ['2026-02-25', '2026-02-25'],
    ['2026-02-25', '2026-02-27'],
    ['2026-02-26', '2026-03-02'],
    ['2026-02-01', '2026-03-02'],
  ]
  const out: Record<string, Omit<DashboardFigures, 'hereNow' | 'range'>> = {}
  for (const [from, to] of ranges) {
    const range = resolveRange({ range: 'custom', from, to }, now, TZ)
    const { hereNow: _h, range: _r, ...f } = await hh.app.consoleWorker.figures(range, now)
    out[`${from}..${to}`] = f
  }
  return out
}

const outbox = (hh: typeof h) =>
  hh.db
    .prepare(`SELECT type, subject, payload, status FROM outbox_events ORDER BY seq`)
    .all() as Array<{ type: string; subject: string | null; payload: string; status: string }>

const count = (hh: typeof h, sql: string) =>
  (hh.db.prepare(sql).pluck().get() as number | null) ?? 0

/** Runs the daily privacy job every `stepDays` until the clock has moved `days`. */
async function liveDays(hh: typeof h, days: number, stepDays = 30) {
  for (let d = 0; d < days; d += stepDays) {
    hh.clock.advance({ days: Math.min(stepDays, days - d) })
    await hh.app.retention.run(hh.clock.now())
  }
}

describe('retention, block then delete, driven by the clock', () => {
  it('blocks customers not seen for 24 months, hides them everywhere, deletes them after the blocking period, and the past figures stay what they were', async () => {
    h = consoleHarness({ privacy: { catchUpDays: 31 } }, { realErasure: true })
    seedWeek(h.db)
    // Ana agreed to offers; the campaign file names her number.
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
         VALUES (1, '2026-01', '["service","marketing"]', @at, 'demo', '3a:00:00:00:00:01', 'es')`,
      )
      .run({ at: local('2026-02-01T09:00') })
    h.db
      .prepare(
        `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by)
         VALUES ('marzo', '+525512345601', @at, @at, 'test')`,
      )
      .run({ at: local('2026-02-24T09:00') })
    const admin = await h.signedIn('root', 'admin')
    const before = await pastFigures(h)
    expect(before['2026-02-23..2026-03-01']).toMatchObject({ visits: 7, customers: 4 })
    expect(await (await admin.submit('/export/marketing.csv')).text()).toContain('Ana López')

    // 23 months on: nobody is blocked yet (Carla was seen on 2 March 2026).
    await liveDays(h, 700)
    expect(count(h, `SELECT COUNT(*) FROM blocked_customers`)).toBe(0)
    expect(count(h, `SELECT COUNT(*) FROM customers WHERE erased_at IS NULL`)).toBe(5)

    // Past 24 months without a visit: blocked, all but the staff member.
    await liveDays(h, 60)
    const blocked = h.db
      .prepare(`SELECT customer_id, reason FROM blocked_customers ORDER BY customer_id`)
      .all()
    expect(blocked).toEqual([1, 2, 3, 5].map((id) => ({ customer_id: id, reason: 'retention' })))
    // Invisible in every page, search and export; unusable for marketing.
    expect((await admin.login('root', PASSWORD)).status).toBe(303)
    for (const q of ['', 'Ana', '5512345601', 'Carla']) {
      const html = await (await admin.get(`/customers?q=${encodeURIComponent(q)}`)).text()
      expect(html, q).not.toMatch(/Ana López|Beto Ruiz|Carla Núñez|Dana Pérez/)
    }
    expect((await admin.get('/customers/1')).status).toBe(404)
    expect((await admin.submit('/customers/1/export')).status).toBe(404)
    const visitsPage = await (
      await admin.get('/visits?range=custom&from=2026-02-20&to=2026-03-02')
    ).text()
    expect(visitsPage).not.toMatch(/Ana López|Beto Ruiz|Carla Núñez|Dana Pérez/)
    const csv = await (
      await admin.submit('/export/visits.csv', { from: '2026-02-20', to: '2026-03-02' })
    ).text()
    expect(csv).not.toMatch(/Ana|Beto|Carla|Dana|551234560[1235]/)
    const marketing = await (await admin.submit('/export/marketing.csv')).text()
    expect(marketing).not.toContain('Ana')
    const dash = await (await admin.get('/')).text()
    expect(dash).not.toMatch(/Ana López|Carla Núñez/)
    expect(count(h, `SELECT COUNT(*) FROM campaign_sends`)).toBe(0)
    expect(count(h, `SELECT COUNT(*) FROM devices WHERE customer_id IN (1, 2, 3, 5)`)).toBe(0)
    // While blocked the figures are unchanged (the visits stay, anonymous).
    expect(await pastFigures(h)).toEqual(before)

    // The CRM learned each block once, with its key only; nothing else about them is pending.
    const blockedEvents = outbox(h).filter((e) => e.type === 'customer.blocked')
    expect(blockedEvents.map((e) => JSON.parse(e.payload).phone).sort()).toEqual([
      '+525512345601',
      '+525512345602',
      '+525512345603',
      '+525512345605',
    ])
    for (const e of blockedEvents)
      expect(Object.keys(JSON.parse(e.payload)).sort()).toEqual([
        'blockedAt',
        'deleteAfter',
        'phone',
        'reason',
      ])
    expect(outbox(h).filter((e) => e.type !== 'customer.blocked')).toEqual([])

    // 180 days later (privacy.blockingDays): deleted for good; their visits are tallies.
    await liveDays(h, 90)
    expect(count(h, `SELECT COUNT(*) FROM blocked_customers`)).toBe(4)
    await liveDays(h, 100)
    expect(count(h, `SELECT COUNT(*) FROM blocked_customers`)).toBe(0)
    expect(count(h, `SELECT COUNT(*) FROM customers WHERE id IN (1, 2, 3, 5)`)).toBe(0)
    expect(
      count(h, `SELECT COUNT(*) FROM visits WHERE customer_id IS NOT NULL AND customer_id != 4`),
    ).toBe(0)
    expect(count(h, `SELECT SUM(visits) FROM visit_tallies`)).toBe(9)
    expect(await pastFigures(h)).toEqual(before)
    const deleted = outbox(h).filter((e) => e.type === 'customer.deleted')
    expect(
      deleted.map((e) => JSON.parse(e.payload)).sort((a, b) => a.phone.localeCompare(b.phone)),
    ).toEqual(
      ['+525512345601', '+525512345602', '+525512345603', '+525512345605'].map((phone) => ({
        phone,
        deletedAt: expect.any(String),
      })),
    )
    // Each customer's events in order: blocked before deleted.
    const types = outbox(h).map((e) => `${e.type} ${JSON.parse(e.payload).phone}`)
    expect(types.indexOf('customer.blocked +525512345601')).toBeLessThan(
      types.indexOf('customer.deleted +525512345601'),
    )
    // The audit log says who, when and why, in the manager's language.
    expect((await admin.login('root', PASSWORD)).status).toBe(303)
    const audit = await (await admin.get('/audit')).text()
    expect(audit).toContain('bloqueó los datos del cliente #1')
    expect(audit).toContain('eliminó el cliente bloqueado #1')
  })

  it('delivers each privacy event to the CRM exactly once, then keeps only ids and digests', async () => {
    h = consoleHarness({ privacy: { catchUpDays: 31 } }, { realErasure: true })
    seedWeek(h.db)
    const b = await h.signedIn('root', 'admin')
    await b.submit('/customers/1/erase', { confirm: 'yes' })
    await liveDays(h, 181)
    const received: WireEvent[] = []
    const adapter: CrmAdapter = {
      name: 'fake',
      async deliver(batch) {
        received.push(...batch.events)
        return { kind: 'acked' }
      },
    }
    const runner = createSyncRunner({
      db: h.db,
      adapter,
      clock: h.clock,
      config: { ...h.config.sync, keepDeliveredHours: 24 * 30 },
      branchId: 'demo',
      log: () => {},
      redactKey: Buffer.alloc(32, 3),
    })
    await runner.run()
    await runner.run()
    expect(received.map((e) => e.type)).toEqual(['customer.blocked', 'customer.deleted'])
    expect(JSON.parse(received[1]!.data)).toEqual({
      phone: '+525512345601',
      deletedAt: expect.stringMatching(/^2026-08-/),
    })
    // Acknowledged: the number is no longer kept, neither in the payload nor in the subject.
    const rows = outbox(h)
    expect(rows.every((r) => r.status === 'delivered')).toBe(true)
    for (const r of rows) {
      expect(JSON.parse(r.payload)).toEqual({
        redacted: true,
        digest: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
      })
      expect(r.subject).toMatch(/^h:[0-9a-f]{64}$/)
    }
    expect(JSON.stringify(rows)).not.toContain('5512345601')
  })

  it('keeps old visits only as tallies after privacy.retention.visitsMonths, with the same figures, deletes their access records, and hashes raw device data', async () => {
    h = consoleHarness({ privacy: { catchUpDays: 31 } }, { realErasure: true })
    seedWeek(h.db)
    // Ana keeps coming, so she is never blocked; her old visits become tallies.
    const before = await pastFigures(h)
    h.db
      .prepare(
        `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason, ended_at, end_reason)
         VALUES ('3a:00:00:00:00:01', 1, @at, @at + 3600000, 'login', @at + 3600000, 'expiry')`,
      )
      .run({ at: local('2026-02-25T10:10') })
    h.db
      .prepare(
        `INSERT INTO audit_log (at, actor, action, subject, reason, detail)
         VALUES (@at, 'portal', 'device.allow', '3a:00:00:00:00:01', 'login', '{"customerId":1}'),
                (@at, 'user:root', 'console.login', 'root', NULL, '{"ip":"192.168.50.10"}')`,
      )
      .run({ at: local('2026-02-25T10:10') })
    const visitAgain = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
       VALUES (@id, 1, 'demo', @at, @at + 600000, @at + 600000, 'left')`,
    )
    h.db
      .prepare(
        `INSERT INTO sms_provider_errors (provider, at, kind, channel, detail)
         VALUES ('twilio', @at, 'rejected', 'sms', 'The ''To'' number +525512345601 is not valid')`,
      )
      .run({ at: local('2026-02-25T10:10') })
    let hashed: unknown = null
    for (let month = 1; month <= 25; month++) {
      await liveDays(h, 30, 30)
      if (month === 4) hashed = h.db.prepare(`SELECT mac FROM authorizations`).pluck().get()
      visitAgain.run({ id: `again-${month}`, at: h.clock.now() })
      h.db.prepare(`UPDATE customers SET last_verified_at = @now WHERE id = 1`).run({
        now: h.clock.now(),
      })
    }
    // Raw device data went after 90 days: the MAC is a keyed hash, the IP is gone, and so is a
    // provider's error text that echoed the number.
    expect(hashed).toMatch(/^h:[0-9a-f]{32}$/)
    expect(h.db.prepare(`SELECT kind, detail FROM sms_provider_errors`).get()).toEqual({
      kind: 'rejected',
      detail: null,
    })
    // The access record itself went with the visits' retention (24 months).
    expect(
      count(
        h,
        `SELECT COUNT(*) FROM authorizations WHERE starts_at < ${local('2026-03-01T00:00')}`,
      ),
    ).toBe(0)
    const audit = h.db
      .prepare(
        `SELECT subject, detail FROM audit_log WHERE action IN ('device.allow', 'console.login') AND at < @at ORDER BY id`,
      )
      .all({ at: local('2026-03-01T00:00') }) as Array<{ subject: string; detail: string }>
    expect(audit[0]!.subject).toMatch(/^h:/)
    expect(JSON.parse(audit[1]!.detail)).toEqual({})
    // The seeded week is past 24 months: tallies only, and the same figures.
    expect(
      count(
        h,
        `SELECT COUNT(*) FROM visits WHERE ended_at IS NOT NULL AND started_at < ${local('2026-03-02T23:59')}`,
      ),
    ).toBe(0)
    expect(await pastFigures(h)).toEqual(before)
    // Ana is still a customer, and a range across her tallied and live visits counts her once.
    const now = h.clock.now()
    const range = resolveRange(
      { range: 'custom', from: '2026-02-20', to: addDays('2026-02-20', 365) },
      now,
      TZ,
    )
    const f = await h.app.consoleWorker.figures(range, now)
    const live = h.db
      .prepare(`SELECT COUNT(*) FROM visits WHERE customer_id = 1 AND started_at < @to`)
      .pluck()
      .get({ to: range.toMs }) as number
    expect(live).toBeGreaterThan(0)
    expect(f.customers).toBe(5 - 1) // Ana, Beto, Carla, Dana (staff left out)
    expect(f.newCustomers).toBe(4)
    void DAY
  })

  it('a staff member who asks for cancellation: the device stays staff and let through, and no figure changes', async () => {
    h = consoleHarness({ privacy: { catchUpDays: 31 } }, { realErasure: true })
    seedWeek(h.db)
    // Sam's phone was marked as staff on his customer page, and the staff job let it through.
    const mac = parseMac('3a:00:00:00:00:04')!
    await h.app.access.setDeviceState({
      next: 'allowed',
      mac,
      customerId: null,
      until: h.clock.now() + 86_400_000,
      reason: 'staff',
      actor: 'system',
    })
    const before = await pastFigures(h)
    const admin = await h.signedIn('root', 'admin')
    const fig = async () =>
      /id="fig-customers">([^<]*)</.exec(await (await admin.get('/?range=7')).text())?.[1]
    const shown = await fig()
    expect((await admin.submit('/customers/4/erase', { confirm: 'yes' })).status).toBe(303)

    // The device is the branch's: still staff, still let through, no longer Sam's.
    expect(
      h.db.prepare(`SELECT customer_id, is_staff FROM devices WHERE mac = ?`).get(mac),
    ).toEqual({ customer_id: null, is_staff: 1 })
    expect(h.app.access.liveUntil(mac)).toBe(h.clock.now() + 86_400_000)
    expect(h.gate.calls.filter((c) => c.verb === 'revoke')).toEqual([])
    // His visits counted in no figure; they still don't.
    expect(count(h, `SELECT COUNT(*) FROM visits WHERE customer_id = 4`)).toBe(0)
    expect(await pastFigures(h)).toEqual(before)
    expect(await fig()).toBe(shown)
    expect(
      JSON.parse(
        h.db
          .prepare(`SELECT detail FROM audit_log WHERE action = 'customer.block'`)
          .pluck()
          .get() as string,
      ),
    ).toMatchObject({ staffDevices: 1, staffVisits: 2 })

    // After the blocking period Sam's record is deleted; the staff device stays, figures too.
    await liveDays(h, 181, 31)
    expect(count(h, `SELECT COUNT(*) FROM blocked_customers`)).toBe(0)
    expect(count(h, `SELECT COUNT(*) FROM customers WHERE id = 4`)).toBe(0)
    expect(
      count(h, `SELECT COUNT(*) FROM devices WHERE mac = '3a:00:00:00:00:04' AND is_staff = 1`),
    ).toBe(1)
    expect(count(h, `SELECT COALESCE(SUM(visits), 0) FROM visit_tallies`)).toBe(0)
    expect(await pastFigures(h)).toEqual(before)
  })

  it('through a request, blocking and deletion: the worker thread’s figures stay, the campaign report, the marketing list, the visits CSV and the requests page drop the customer, the audit log tells each step', async () => {
    // The dashboard, the campaign report and the visits CSV computed by the worker thread, as
    // the service does (main.ts), over the same database file.
    h = consoleHarness(
      { privacy: { catchUpDays: 31 } },
      { realErasure: true, consoleWorker: threadConsoleWorker },
    )
    seedWeek(h.db)
    const marketing = h.db.prepare(
      `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
       VALUES (@id, '2026-01', '["service","marketing"]', @at, 'demo', NULL, 'es')`,
    )
    for (const id of [1, 2]) marketing.run({ id, at: local('2026-02-01T09:00') })
    const admin = await h.signedIn('root', 'admin')
    const form = new FormData()
    form.set('_csrf', await admin.csrf())
    const csv =
      'phone,campaign,sent_at\n5512345601,Marzo,2026-02-24 09:00\n5512345602,Marzo,2026-02-24 09:00\n5512345603,Marzo,2026-02-24 09:00\n'
    form.set('file', new File([csv], 'sends.csv', { type: 'text/csv' }))
    expect((await admin.request('/campaigns/import', { method: 'POST', body: form })).status).toBe(
      200,
    )
    const report = async () => {
      const html = await (await admin.get('/campaigns/report?c=Marzo&days=7')).text()
      const fig = (id: string) => new RegExp(`id="${id}">([^<]*)<`).exec(html)?.[1]
      return { recipients: fig('c-recipients'), walkIns: fig('c-walkins'), html }
    }
    const visitsCsv = async () =>
      (await admin.submit('/export/visits.csv', { from: '2026-02-20', to: '2026-03-02' })).text()
    const before = await pastFigures(h)
    expect(await report()).toMatchObject({ recipients: '3', walkIns: '3' })
    expect((await report()).html).toContain('Beto Ruiz')
    expect(await (await admin.submit('/export/marketing.csv')).text()).toContain('Beto Ruiz')
    expect(await visitsCsv()).toContain('Beto Ruiz')

    // Beto asks for cancellation; the admin answers it from the request.
    const rec = await admin.submit('/requests', {
      kind: 'cancellation',
      phone: '5512345602',
      requester: 'Beto Ruiz',
      received: '2026-03-02',
      identity: 'official-id',
    })
    const id = rec.headers.get('location')!.split('/').pop()!
    expect((await admin.submit(`/requests/${id}/block`, { confirm: 'yes' })).status).toBe(303)

    // Blocked: figures of the past unchanged (worker thread), Beto out of everything about people.
    expect(await pastFigures(h)).toEqual(before)
    const r = await report()
    expect(r).toMatchObject({ recipients: '2', walkIns: '2' })
    expect(r.html).not.toMatch(/Beto|12345602/)
    const list = await (await admin.get('/campaigns')).text()
    expect(list).not.toMatch(/Beto|12345602/)
    const mk = await (await admin.submit('/export/marketing.csv')).text()
    expect(mk).toContain('Ana López')
    expect(mk).not.toMatch(/Beto|12345602/)
    expect(await visitsCsv()).not.toMatch(/Beto|12345602/)
    const requests = await (await admin.get('/requests')).text()
    expect(requests).toContain('se bloquearon sus datos')
    expect(requests).not.toContain('/customers/2')
    expect(await (await admin.get('/audit')).text()).toContain('bloqueó los datos del cliente #2')

    // Deleted after privacy.blockingDays: figures of the past still the same, one event per step.
    await liveDays(h, 181, 31)
    expect(count(h, `SELECT COUNT(*) FROM customers WHERE id = 2`)).toBe(0)
    expect(await pastFigures(h)).toEqual(before)
    expect((await admin.login('root', PASSWORD)).status).toBe(303)
    expect(await report()).toMatchObject({ recipients: '2' })
    expect(await (await admin.get('/audit')).text()).toContain('eliminó el cliente bloqueado #2')
    const beto = outbox(h).filter((e) => e.payload.includes('+525512345602'))
    expect(beto.map((e) => e.type)).toEqual(['customer.blocked', 'customer.deleted'])
    // Answered by the worker thread throughout (it logs when it falls back to the portal's).
    expect(h.logs.filter((l) => l.includes('worker thread'))).toEqual([])
  }, 600_000) // a hang guard only: a real worker thread and thirty-odd retention runs

  it('leaves nothing of a deleted customer in the database file, not even in its free pages', async () => {
    h = consoleHarness({ privacy: { catchUpDays: 31 } }, { realErasure: true })
    seedWeek(h.db)
    const admin = await h.signedIn('root', 'admin')
    expect((await admin.submit('/customers/1/erase', { confirm: 'yes' })).status).toBe(303)
    await liveDays(h, 181, 31)
    expect(count(h, `SELECT COUNT(*) FROM customers WHERE id = 1`)).toBe(0)
    // The CRM acknowledged the events: they keep digests only.
    const runner = createSyncRunner({
      db: h.db,
      adapter: { name: 'fake', deliver: async () => ({ kind: 'acked' }) },
      clock: h.clock,
      config: h.config.sync,
      branchId: 'demo',
      log: () => {},
      redactKey: Buffer.alloc(32, 3),
    })
    await runner.run()
    h.db.pragma('wal_checkpoint(TRUNCATE)')
    const file = readFileSync(path.join(h.config.dataDir, 'branchgate.db'))
    // Beto, blocked by nobody, is still there: the search below can find what is in the file.
    expect(file.includes(Buffer.from('Beto Ruiz'))).toBe(true)
    expect(file.includes(Buffer.from('Ana López'))).toBe(false)
    expect(file.includes(Buffer.from('+525512345601'))).toBe(false)
    expect(file.includes(Buffer.from('3a:00:00:00:00:01'))).toBe(false)
  })
})

describe('each other kind of data, kept as long as its key says', () => {
  it('codes, devices (a remembered one until remember.days), consent MACs, console IPs, the audit log, closed requests and delivered CRM events go on their own clocks', async () => {
    h = consoleHarness(
      {
        privacy: {
          catchUpDays: 31,
          retention: { rawDeviceDays: 10, auditMonths: 2, deliveredEventsDays: 3 },
        },
        remember: { days: 30 },
      },
      { realErasure: true },
    )
    seedWeek(h.db)
    const t0 = h.clock.now()
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
         VALUES (1, '2026-01', '["service","marketing"]', @t0, 'demo', '3a:00:00:00:00:01', 'es')`,
      )
      .run({ t0 })
    // Ana's phone, verified today: "welcome back" must recognise it for remember.days.
    h.db
      .prepare(
        `UPDATE devices SET verified_at = @t0, last_seen_at = @t0 WHERE mac = '3a:00:00:00:00:01'`,
      )
      .run({ t0 })
    h.db
      .prepare(
        `INSERT INTO otp_challenges (id, phone_e164, mac, name, locale, marketing, code_hmac, created_at, expires_at, status)
         VALUES ('c1', '+525512345601', '3a:00:00:00:00:01', 'Ana López', 'es', 1, 'x', @t0, @t0 + 600000, 'verified')`,
      )
      .run({ t0 })
    h.db
      .prepare(
        `INSERT INTO audit_log (at, actor, action, subject, reason, detail)
         VALUES (@t0, 'user:root', 'console.login', 'root', NULL, '{"ip":"192.168.50.10"}')`,
      )
      .run({ t0 })
    const rr = h.db.prepare(
      `INSERT INTO rights_requests (kind, customer_id, requester, received_at, identity_check, due_at, status, recorded_by, recorded_at, closed_at)
       VALUES ('access', 1, 'Ana López', @t0, 'official-id', @t0 + 20 * 86400000, @status, 'user:root', @t0, @closed)`,
    )
    // Three access records of two devices: the count of distinct devices must survive hashing.
    const auth = h.db.prepare(
      `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason, ended_at, end_reason)
       VALUES (@mac, 1, @t0, @t0 + 3600000, 'login', @t0 + 3600000, 'expiry')`,
    )
    for (const mac of ['3a:00:00:00:00:01', '3a:00:00:00:00:01', '3a:00:00:00:00:09'])
      auth.run({ mac, t0 })
    rr.run({ t0, status: 'done', closed: t0 })
    rr.run({ t0, status: 'open', closed: null })
    const ev = h.db.prepare(
      `INSERT INTO outbox_events (id, type, branch_id, schema_version, occurred_at, subject, payload, status, delivered_at)
       VALUES (@id, 'customer.verified', 'demo', 1, @t0, 'customer:+525512345601', '{"phone":"+525512345601","name":"Ana López"}', @status, @delivered)`,
    )
    ev.run({ id: 'e-delivered', t0, status: 'delivered', delivered: t0 })
    ev.run({ id: 'e-pending', t0, status: 'pending', delivered: null })
    const rowOf = (id: string) =>
      h.db.prepare(`SELECT subject, payload FROM outbox_events WHERE id = ?`).get(id) as
        { subject: string; payload: string } | undefined
    const devices = () =>
      h.db.prepare(`SELECT mac FROM devices WHERE is_staff = 0 ORDER BY mac`).pluck().all()
    const run = async (days: number) => {
      h.clock.advance({ days })
      return h.app.retention.run(h.clock.now())
    }

    // Day 2: the delivered event is redacted at once (ids and digests), not yet pruned.
    let report = await run(2)
    expect(report.eventsRedacted).toBe(1)
    expect(JSON.parse(rowOf('e-delivered')!.payload)).toEqual({
      redacted: true,
      digest: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
    })
    expect(rowOf('e-delivered')!.subject).not.toContain('5512345601')
    expect(JSON.parse(rowOf('e-pending')!.payload).name).toBe('Ana López')
    // Day 4: past privacy.retention.deliveredEventsDays (3): pruned; the pending one waits.
    report = await run(2)
    expect(report.eventsPruned).toBe(1)
    expect(rowOf('e-delivered')).toBeUndefined()
    expect(rowOf('e-pending')).toBeDefined()
    expect(h.db.prepare(`SELECT mac FROM consents`).pluck().get()).toBe('3a:00:00:00:00:01')
    expect(h.db.prepare(`SELECT COUNT(*) FROM otp_challenges`).pluck().get()).toBe(1)

    // Day 11: past rawDeviceDays (10): the consent's MAC is a keyed hash, the code and the
    // devices not seen since are gone, the console IP is out of the audit line; Ana's
    // remembered phone stays.
    report = await run(7)
    expect(h.db.prepare(`SELECT mac FROM consents`).pluck().get()).toMatch(/^h:[0-9a-f]{32}$/)
    const macs = h.db.prepare(`SELECT mac FROM authorizations ORDER BY id`).pluck().all()
    expect(macs.every((m) => /^h:[0-9a-f]{32}$/.test(m as string))).toBe(true)
    expect(new Set(macs).size).toBe(2)
    expect(macs[0]).toBe(macs[1])
    // The same keyed hash in the consent: one device across tables, still nobody's MAC.
    expect(macs[0]).toBe(h.db.prepare(`SELECT mac FROM consents`).pluck().get())
    expect(h.db.prepare(`SELECT COUNT(*) FROM otp_challenges`).pluck().get()).toBe(0)
    expect(report.codesDeleted).toBe(1)
    expect(devices()).toEqual(['3a:00:00:00:00:01'])
    expect(
      JSON.parse(
        h.db
          .prepare(`SELECT detail FROM audit_log WHERE action = 'console.login'`)
          .pluck()
          .get() as string,
      ),
    ).toEqual({})
    // Day 31: remember.days (30) over: the remembered phone goes too.
    await run(20)
    expect(devices()).toEqual([])
    // The customers themselves are untouched (privacy.retention.customersInactiveMonths: 24).
    expect(
      h.db.prepare(`SELECT COUNT(*) FROM customers WHERE erased_at IS NULL`).pluck().get(),
    ).toBe(5)

    // Past auditMonths (2): the audit lines of day 0 and the closed request are gone; the open
    // request stays whatever its age (it is still owed an answer).
    expect(h.db.prepare(`SELECT COUNT(*) FROM audit_log WHERE at <= @t0`).pluck().get({ t0 })).toBe(
      1,
    )
    await run(31)
    report = await run(1)
    expect(h.db.prepare(`SELECT COUNT(*) FROM audit_log WHERE at <= @t0`).pluck().get({ t0 })).toBe(
      0,
    )
    expect(h.db.prepare(`SELECT status FROM rights_requests`).pluck().all()).toEqual(['open'])
    expect(JSON.parse(rowOf('e-pending')!.payload).name).toBe('Ana López')
  })
})

describe('an older config that still sets sync.keepDeliveredHours', () => {
  it('is followed by the privacy job too, so the job and the sync run prune delivered events alike', async () => {
    h = consoleHarness(
      { privacy: { retention: { deliveredEventsDays: 1 } }, sync: { keepDeliveredHours: 72 } },
      { realErasure: true },
    )
    h.db
      .prepare(
        `INSERT INTO outbox_events (id, type, branch_id, schema_version, occurred_at, payload, status, delivered_at)
         VALUES ('e1', 'customer.verified', 'demo', 1, @t0, '{}', 'delivered', @t0)`,
      )
      .run({ t0: h.clock.now() })
    const left = () => h.db.prepare(`SELECT COUNT(*) FROM outbox_events`).pluck().get()
    h.clock.advance({ days: 2 })
    await h.app.retention.run(h.clock.now())
    expect(left()).toBe(1)
    h.clock.advance({ days: 1 })
    await h.app.retention.run(h.clock.now())
    expect(left()).toBe(0)
  })
})
