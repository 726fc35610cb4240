import { afterEach, describe, expect, it } from 'vitest'
import { customerStatements } from '../src/db/customers.js'
import { visitStatements } from '../src/db/visits.js'
import {
  appendEvent,
  createOutbox,
  macPolicy,
  outboxErasureNotifier,
  OutboxOutsideTransactionError,
  subjectDigest,
} from '../src/sync/outbox.js'
import { createSyncRunner } from '../src/sync/run.js'
import { customerVerified, customerRecord } from '../src/sync/events.js'
import { createVisitBook } from '../src/visits/book.js'
import { challengeOf, PHONE_MAC, portalHarness, tempDb } from './helpers.js'

type Harness = ReturnType<typeof portalHarness>
let h: Harness | null = null
afterEach(() => {
  h?.close()
  h = null
})

function outboxRows(db: Harness['db']) {
  return (
    db
      .prepare(
        `SELECT id, type, branch_id, schema_version, occurred_at, payload, status FROM outbox_events ORDER BY seq`,
      )
      .all() as Array<{
      id: string
      type: string
      branch_id: string
      schema_version: number
      occurred_at: number
      payload: string
      status: string
    }>
  ).map((r) => ({ ...r, data: JSON.parse(r.payload) }))
}

async function signIn(hh: Harness, p: { name: string; phone: string; marketing: boolean }) {
  const fields: Record<string, string> = { name: p.name, phone: p.phone, consent: 'yes' }
  if (p.marketing) fields.marketing = 'yes'
  const page = await hh.post('/login', fields)
  expect(page.status).toBe(200)
  const challenge = challengeOf(await page.text())
  const done = await hh.post('/verify', { challenge, code: hh.sms.lastCodeTo('+525512345678') })
  expect(done.status).toBeLessThan(400)
}

describe('the outbox, written by the login transaction', () => {
  it('records customer.verified and consent.given when a customer proves their number', async () => {
    h = portalHarness({ branch: { id: 'mx-cdmx-001' } })
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: true })
    const rows = outboxRows(h.db)
    expect(rows.map((r) => r.type)).toEqual(['customer.verified', 'consent.given'])
    const [verified, consent] = rows
    expect(verified!.branch_id).toBe('mx-cdmx-001')
    expect(verified!.schema_version).toBe(1)
    expect(verified!.occurred_at).toBe(h.clock.now())
    expect(verified!.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(verified!.data.customer).toMatchObject({
      phone: '+525512345678',
      name: 'Ana López',
      marketingConsent: true,
    })
    expect(verified!.data.firstTime).toBe(true)
    expect(consent!.data.consent).toMatchObject({
      purposes: ['service', 'marketing'],
      branchId: 'mx-cdmx-001',
    })
    expect(rows.every((r) => r.status === 'pending')).toBe(true)
  })

  it('never lets the raw MAC leave the branch by default, only a salted hash', async () => {
    h = portalHarness()
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: false })
    const all = outboxRows(h.db)
      .map((r) => r.payload)
      .join('\n')
    expect(all).not.toContain(PHONE_MAC)
    expect(all).not.toContain(PHONE_MAC.replace(/:/g, ''))
    const device = outboxRows(h.db)[0]!.data.device
    expect(device.macForm).toBe('hmac-sha256')
    expect(device.mac).toMatch(/^[0-9a-f]{64}$/)
  })

  it('sends the MAC as configured: plain, or not at all', async () => {
    h = portalHarness({ sync: { macs: 'plain' } })
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: false })
    expect(outboxRows(h.db)[0]!.data.device).toEqual({ mac: PHONE_MAC, macForm: 'plain' })
    h.close()
    h = portalHarness({ sync: { macs: 'omit' } })
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: false })
    expect(outboxRows(h.db)[0]!.data.device).toBeNull()
  })

  it('hashes the same MAC the same way across branches when they share a sync salt', () => {
    const a = macPolicy('hashed', 'a shared company salt')(PHONE_MAC)
    const b = macPolicy('hashed', 'a shared company salt')(PHONE_MAC.toUpperCase())
    const other = macPolicy('hashed', 'another salt entirely')(PHONE_MAC)
    expect(a).toEqual(b)
    expect(a!.mac).not.toBe(other!.mac)
  })

  it('adds customer.renamed and consent.withdrawn when a returning customer changes name and unticks marketing', async () => {
    h = portalHarness()
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: true })
    h.clock.advance({ hours: 30 })
    await signIn(h, { name: 'Ana María López', phone: '55 1234 5678', marketing: false })
    const rows = outboxRows(h.db)
    expect(rows.map((r) => r.type)).toEqual([
      'customer.verified',
      'consent.given',
      'customer.verified',
      'customer.renamed',
      'consent.given',
      'consent.withdrawn',
      // Her first visit, left open, closes (at its last activity) as she is let through again.
      'visit.closed',
    ])
    expect(rows[6]!.data.visit).toMatchObject({
      endedAt: new Date(rows[0]!.occurred_at).toISOString(),
    })
    expect(rows[6]!.data.customer.phone).toBe('+525512345678')
    expect(rows[2]!.data.firstTime).toBe(false)
    expect(rows[3]!.data).toMatchObject({
      previousName: 'Ana López',
      customer: { name: 'Ana María López' },
    })
    expect(rows[5]!.data.consent.purposes).toEqual(['marketing'])
    // consent.withdrawn carries the CRM's key and nothing else about her (issue 15).
    expect(rows[5]!.data).toEqual({
      phone: '+525512345678',
      consent: expect.objectContaining({ via: 'login' }),
    })
    expect(rows[5]!.schema_version).toBe(2)
    // The earlier consent is marked withdrawn on record too.
    expect(h.db.prepare(`SELECT purposes, withdrawn_at FROM consents ORDER BY id`).all()).toEqual([
      { purposes: '["service","marketing"]', withdrawn_at: rows[5]!.occurred_at },
      { purposes: '["service"]', withdrawn_at: null },
    ])
    // The marketing flag travels with every customer record, and says the current truth.
    for (const r of rows.slice(2))
      if (r.data.customer) expect(r.data.customer.marketingConsent).toBe(false)
  })

  it('does not withdraw what was never given', async () => {
    h = portalHarness()
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: false })
    h.clock.advance({ hours: 30 })
    await signIn(h, { name: 'Ana López', phone: '55 1234 5678', marketing: false })
    expect(outboxRows(h.db).map((r) => r.type)).toEqual([
      'customer.verified',
      'consent.given',
      'customer.verified',
      'consent.given',
      'visit.closed',
    ])
  })
})

describe('appending events', () => {
  it('refuses an event outside a transaction', () => {
    const t = tempDb()
    try {
      const e = customerVerified({
        customer: customerRecord(
          {
            phone_e164: '+525511111111',
            name: 'X',
            locale: 'es',
            first_verified_at: 0,
            last_verified_at: 0,
          },
          false,
        ),
        firstTime: true,
        mac: PHONE_MAC,
        now: 1,
        macs: macPolicy('omit', ''),
      })
      expect(() => appendEvent(t.db, 'b', e)).toThrow(OutboxOutsideTransactionError)
      expect(t.db.transaction(() => appendEvent(t.db, 'b', e))()).toMatch(/^[0-9a-f-]{36}$/)
      // Rolled back with the change it belongs to.
      expect(() =>
        t.db.transaction(() => {
          appendEvent(t.db, 'b', e)
          throw new Error('the change failed')
        })(),
      ).toThrow('the change failed')
      expect(
        (t.db.prepare('SELECT COUNT(*) AS n FROM outbox_events').get() as { n: number }).n,
      ).toBe(1)
    } finally {
      t.close()
    }
  })

  it('builds visit.closed from the closed visit and its customer, and nothing for an open one', () => {
    const t = tempDb()
    try {
      const customers = customerStatements(t.db)
      const outbox = createOutbox(t.db, {
        branchId: 'b1',
        macs: macPolicy('hashed', 'k'.repeat(16)),
      })
      const start = Date.parse('2026-03-02T15:00:00Z')
      const id = t.db.transaction(() => {
        const { customer } = customers.verified({
          phone: '+525512345678',
          name: 'Ana',
          locale: 'es',
          now: start,
        })
        customers.recordConsent({
          customerId: customer.id,
          noticeVersion: 'v1',
          purposes: ['service', 'marketing'],
          now: start,
          branchId: 'b1',
          mac: PHONE_MAC,
          locale: 'es',
        })
        t.db
          .prepare(
            `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at) VALUES ('v-1', @c, 'b1', @s, @s)`,
          )
          .run({ c: customer.id, s: start })
        expect(outbox.visitClosed('v-1')).toBeNull()
        t.db
          .prepare(`UPDATE visits SET ended_at = @e, end_reason = 'idle' WHERE id = 'v-1'`)
          .run({ e: start + 47 * 60_000 + 5000 })
        return outbox.visitClosed('v-1')
      })()
      expect(id).not.toBeNull()
      const row = t.db.prepare(`SELECT type, subject, payload FROM outbox_events`).get() as {
        type: string
        subject: string
        payload: string
      }
      expect(row.type).toBe('visit.closed')
      expect(JSON.parse(row.payload)).toEqual({
        visit: {
          id: 'v-1',
          branchId: 'b1',
          startedAt: '2026-03-02T15:00:00.000Z',
          endedAt: '2026-03-02T15:47:05.000Z',
          dwellMinutes: 47,
          endReason: 'idle',
        },
        customer: expect.objectContaining({ phone: '+525512345678', marketingConsent: true }),
      })
      expect(() => outbox.visitClosed('v-1')).toThrow(OutboxOutsideTransactionError)
    } finally {
      t.close()
    }
  })

  it('on blocking drops everything the outbox still holds about the customer and queues customer.blocked', () => {
    const t = tempDb()
    try {
      const outbox = createOutbox(t.db, { branchId: 'b1', macs: macPolicy('omit', '') })
      const rec = (phone: string) =>
        customerRecord(
          { phone_e164: phone, name: 'N', locale: 'es', first_verified_at: 0, last_verified_at: 0 },
          true,
        )
      t.db.transaction(() => {
        outbox.append(
          customerVerified({
            customer: rec('+525500000001'),
            firstTime: true,
            mac: PHONE_MAC,
            now: 1,
            macs: outbox.macs,
          }),
        )
        outbox.append(
          customerVerified({
            customer: rec('+525500000002'),
            firstTime: true,
            mac: PHONE_MAC,
            now: 2,
            macs: outbox.macs,
          }),
        )
      })()
      t.db.transaction(() =>
        outbox.customerBlocked({
          phone: '+525500000001',
          reason: 'request',
          now: 3,
          deleteAfter: 86_400_003,
        }),
      )()
      const rows = t.db
        .prepare(`SELECT type, payload FROM outbox_events ORDER BY seq`)
        .all() as Array<{ type: string; payload: string }>
      expect(rows.map((r) => r.type)).toEqual(['customer.verified', 'customer.blocked'])
      expect(JSON.parse(rows[0]!.payload).customer.phone).toBe('+525500000002')
      expect(JSON.parse(rows[1]!.payload)).toEqual({
        phone: '+525500000001',
        blockedAt: '1970-01-01T00:00:00.003Z',
        reason: 'request',
        deleteAfter: '1970-01-02T00:00:00.003Z',
      })
    } finally {
      t.close()
    }
  })

  // Issue 20: delivery then never moves the row in the subject index (two random page writes per
  // event in a drain); blocking still finds what was written before subjects were hashed.
  it('stores subjects as their keyed hash, delivery keeps them, and blocking drops hashed and older plain ones', async () => {
    const t = tempDb()
    try {
      const key = Buffer.alloc(32, 7)
      const outbox = createOutbox(t.db, {
        branchId: 'b1',
        macs: macPolicy('omit', ''),
        subjectKey: key,
      })
      const rec = (phone: string) =>
        customerRecord(
          { phone_e164: phone, name: 'N', locale: 'es', first_verified_at: 0, last_verified_at: 0 },
          true,
        )
      const verified = (phone: string, now: number) =>
        customerVerified({
          customer: rec(phone),
          firstTime: true,
          mac: PHONE_MAC,
          now,
          macs: outbox.macs,
        })
      t.db.transaction(() => {
        // Written before the upgrade: the plain subject.
        appendEvent(t.db, 'b1', verified('+525500000001', 1))
        outbox.append(verified('+525500000001', 2))
        outbox.append(verified('+525500000002', 3))
      })()
      const subjects = () =>
        t.db.prepare(`SELECT subject FROM outbox_events ORDER BY seq`).pluck().all() as string[]
      expect(subjects()).toEqual([
        'customer:+525500000001',
        subjectDigest(key, 'customer:+525500000001'),
        subjectDigest(key, 'customer:+525500000002'),
      ])
      expect(subjects()[1]).toMatch(/^h:[0-9a-f]{64}$/)

      // Delivered with the same key: the stored hash is already what delivery keeps.
      const runner = createSyncRunner({
        db: t.db,
        adapter: { name: 'fake', deliver: async () => ({ kind: 'acked' }) },
        clock: { now: () => 10 } as never,
        config: {
          timeoutMs: 1000,
          batchMaxEvents: 2,
          batchMaxBytes: 100_000,
          backoffBaseMs: 1,
          backoffCapMs: 10,
        },
        branchId: 'b1',
        log: () => {},
        redactKey: key,
      })
      expect(await runner.run()).toMatchObject({ status: 'done', delivered: 3 })
      expect(subjects()).toEqual([
        subjectDigest(key, 'customer:+525500000001'),
        subjectDigest(key, 'customer:+525500000001'),
        subjectDigest(key, 'customer:+525500000002'),
      ])

      t.db.transaction(() => {
        appendEvent(t.db, 'b1', verified('+525500000002', 4))
        outbox.append(verified('+525500000002', 5))
        outbox.customerBlocked({
          phone: '+525500000002',
          reason: 'request',
          now: 6,
          deleteAfter: 7,
        })
      })()
      const pending = t.db
        .prepare(`SELECT type FROM outbox_events WHERE status = 'pending' ORDER BY seq`)
        .pluck()
        .all()
      expect(pending).toEqual(['customer.blocked'])
      // What was delivered before (ids and digests) stays, as it did with plain subjects.
      expect(
        t.db.prepare(`SELECT COUNT(*) FROM outbox_events WHERE status = 'delivered'`).pluck().get(),
      ).toBe(3)
    } finally {
      t.close()
    }
  })

  it('carries the pass-by flag when the visits feature knows it, and no customer once erased', () => {
    const t = tempDb()
    try {
      const customers = customerStatements(t.db)
      const outbox = createOutbox(t.db, { branchId: 'b1', macs: macPolicy('omit', '') })
      const payloads = t.db.transaction(() => {
        const { customer } = customers.verified({
          phone: '+525512345678',
          name: 'Ana',
          locale: 'es',
          now: 0,
        })
        const visit = t.db.prepare(
          `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
           VALUES (@id, @c, 'b1', 0, 0, 120000, 'idle')`,
        )
        visit.run({ id: 'v-1', c: customer.id })
        outbox.visitClosed('v-1', { passBy: true })
        // What the console's erasure leaves: an anonymous row without a number.
        t.db
          .prepare(`UPDATE customers SET name = '', phone_e164 = 'erased:' || id WHERE id = @id`)
          .run({ id: customer.id })
        visit.run({ id: 'v-2', c: customer.id })
        outbox.visitClosed('v-2')
        return t.db
          .prepare(`SELECT subject, payload FROM outbox_events ORDER BY seq`)
          .all() as Array<{ subject: string | null; payload: string }>
      })()
      expect(JSON.parse(payloads[0]!.payload).visit.passBy).toBe(true)
      expect(JSON.parse(payloads[1]!.payload)).toMatchObject({ customer: null })
      expect(JSON.parse(payloads[1]!.payload).visit).not.toHaveProperty('passBy')
      expect(payloads[1]!.subject).toBeNull()
    } finally {
      t.close()
    }
  })

  it("serves as the customer domain's erasure port: customer.blocked, then customer.deleted, with the CRM's key only", () => {
    const t = tempDb()
    try {
      const notifier = outboxErasureNotifier(
        createOutbox(t.db, { branchId: 'b1', macs: macPolicy('omit', '') }),
      )
      t.db.transaction(() => {
        notifier.customerBlocked({
          customerId: 1,
          phoneE164: '+525512345678',
          blockedAt: 5,
          deleteAfter: 10,
          reason: 'request',
          actor: 'user:maria',
        })
        notifier.customerDeleted({ customerId: 1, phoneE164: '+525512345678', deletedAt: 10 })
      })()
      const rows = t.db.prepare(`SELECT type, payload FROM outbox_events ORDER BY seq`).all() as {
        type: string
        payload: string
      }[]
      expect(rows.map((r) => r.type)).toEqual(['customer.blocked', 'customer.deleted'])
      // Nothing personal beyond the CRM's key.
      expect(JSON.parse(rows[0]!.payload)).toEqual({
        phone: '+525512345678',
        blockedAt: '1970-01-01T00:00:00.005Z',
        reason: 'request',
        deleteAfter: '1970-01-01T00:00:00.010Z',
      })
      expect(JSON.parse(rows[1]!.payload)).toEqual({
        phone: '+525512345678',
        deletedAt: '1970-01-01T00:00:00.010Z',
      })
    } finally {
      t.close()
    }
  })

  it('is written by the visits book where a visit closes, once, with the pass-by flag', () => {
    const t = tempDb()
    try {
      const customers = customerStatements(t.db)
      const book = createVisitBook({
        db: t.db,
        visits: visitStatements(t.db),
        branchId: 'b1',
        policy: { idleMs: 15 * 60_000, minMs: 5 * 60_000 },
        newId: () => 'v-1',
        outbox: createOutbox(t.db, { branchId: 'b1', macs: macPolicy('omit', '') }),
      })
      const closed = t.db.transaction(() => {
        const { customer } = customers.verified({
          phone: '+525512345678',
          name: 'Ana',
          locale: 'es',
          now: 0,
        })
        book.arrive(customer.id, 0)
        const v = {
          id: 'v-1',
          customerId: customer.id,
          startedAt: 0,
          endedAt: 120_000,
          passBy: true,
          reason: 'absent' as const,
        }
        return [book.closeVisit(v), book.closeVisit(v)]
      })()
      expect(closed).toEqual([true, false])
      const rows = t.db.prepare(`SELECT type, payload FROM outbox_events`).all() as Array<{
        type: string
        payload: string
      }>
      expect(rows.map((r) => r.type)).toEqual(['visit.closed'])
      expect(JSON.parse(rows[0]!.payload).visit).toMatchObject({
        id: 'v-1',
        passBy: true,
        endReason: 'absent',
        dwellMinutes: 2,
      })
    } finally {
      t.close()
    }
  })
})
