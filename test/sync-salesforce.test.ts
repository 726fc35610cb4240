import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig, type SyncConfig } from '../src/config.js'
import {
  consentWithdrawn,
  customerBlocked,
  customerDeleted,
  customerErased,
  customerRecord,
  customerVerified,
  visitClosed,
} from '../src/sync/events.js'
import { appendEvent, macPolicy } from '../src/sync/outbox.js'
import { createSyncRunner } from '../src/sync/run.js'
import { createSalesforceAdapter } from '../src/sync/salesforce.js'
import { parkedEvents, syncStatus } from '../src/sync/status.js'
import { FakeClock } from './fakes/clock.js'
import { seededPhone, seedEvents } from './fakes/outbox-seed.js'
import { FakeSalesforce } from './fakes/salesforce.js'
import { tempDb } from './helpers.js'

let sf: FakeSalesforce
let t: ReturnType<typeof tempDb>
let clock: FakeClock
let logs: string[]
beforeEach(async () => {
  sf = await new FakeSalesforce().start()
  t = tempDb()
  clock = new FakeClock()
  logs = []
})
afterEach(async () => {
  await sf.stop()
  t.close()
})

function config(
  over: Record<string, unknown> = {},
  adapterOver: Record<string, unknown> = {},
): SyncConfig {
  return loadConfig(
    JSON.stringify({
      sync: {
        adapter: {
          type: 'salesforce',
          loginUrl: sf.url,
          clientId: sf.clientId,
          clientSecret: sf.clientSecret,
          ...adapterOver,
        },
        ...over,
      },
    }),
  ).sync
}

function runner(c: SyncConfig = config()) {
  if (c.adapter.type !== 'salesforce') throw new Error('salesforce config expected')
  return createSyncRunner({
    db: t.db,
    adapter: createSalesforceAdapter(c.adapter, { clock, timeoutMs: 30_000 }),
    clock,
    config: c,
    branchId: 'b1',
    log: (l) => logs.push(l),
    random: () => 0.5,
  })
}

const upserts = () => sf.calls.filter((c) => c.method === 'PATCH')

describe('the Salesforce adapter', () => {
  it('logs in with client credentials and upserts contacts by E.164 and visits by visit id', async () => {
    seedEvents(t.db, { count: 9, customers: 3 })
    expect(await runner().run()).toMatchObject({ status: 'done', delivered: 9, parked: 0 })
    const token = sf.calls[0]!
    expect(token).toMatchObject({ method: 'POST', path: '/services/oauth2/token', status: 200 })
    expect(token.body).toEqual({
      grant_type: 'client_credentials',
      client_id: sf.clientId,
      client_secret: '***',
    })
    expect(upserts().map((c) => [c.path, c.status])).toEqual([
      ['/services/data/v62.0/composite/sobjects/Contact/Branchgate_Phone__c', 200],
      ['/services/data/v62.0/composite/sobjects/Branchgate_Visit__c/Branchgate_Visit_Id__c', 200],
    ])
    expect(upserts()[0]!.body.allOrNone).toBe(false)
    // One record per contact even when the batch has several events of that customer; latest wins.
    const contacts = sf.records.get('Contact')!
    expect([...contacts.keys()].sort()).toEqual([seededPhone(0), seededPhone(1), seededPhone(2)])
    expect(contacts.get(seededPhone(2))).toMatchObject({
      Branchgate_Phone__c: seededPhone(2),
      LastName: 'Cliente 2',
      MobilePhone: seededPhone(2),
      Branchgate_Marketing_Consent__c: true,
      Branchgate_Last_Branch__c: 'b1',
    })
    const visits = sf.records.get('Branchgate_Visit__c')!
    expect(visits.get('visit-2')).toMatchObject({
      Branchgate_Visit_Id__c: 'visit-2',
      Contact__r: { Branchgate_Phone__c: seededPhone(2) },
      Dwell_Minutes__c: 0,
      End_Reason__c: 'idle',
    })
  })

  it('never sends more than 200 records a call', async () => {
    seedEvents(t.db, { count: 700, customers: 700 })
    expect(
      await runner(config({ batchMaxEvents: 700, batchMaxBytes: 10_000_000 })).run(),
    ).toMatchObject({ status: 'done', delivered: 700 })
    expect(upserts().every((c) => c.body.records.length <= 200 && c.status === 200)).toBe(true)
    expect(upserts().length).toBeGreaterThanOrEqual(4)
    expect(sf.records.get('Contact')!.size).toBe(700)
  })

  it('parks or retries a failed record on its own and delivers the rest', async () => {
    const written = seedEvents(t.db, { count: 6, customers: 6 })
    sf.failRecord = (object, r) =>
      object !== 'Contact'
        ? null
        : r.Branchgate_Phone__c === seededPhone(1)
          ? 'INVALID_EMAIL_ADDRESS'
          : r.Branchgate_Phone__c === seededPhone(3)
            ? 'UNABLE_TO_LOCK_ROW'
            : null
    const r = await runner().run()
    // Events 2 and 5 are visits of customers 2 and 5: delivered with their contacts.
    expect(r).toMatchObject({ status: 'done', delivered: 4, parked: 1, retried: 1 })
    expect(parkedEvents(t.db)).toEqual([
      expect.objectContaining({
        id: written[1]!.id,
        error: 'salesforce Contact: INVALID_EMAIL_ADDRESS injected INVALID_EMAIL_ADDRESS',
      }),
    ])
    expect(JSON.parse(parkedEvents(t.db)[0]!.response!)).toMatchObject({
      success: false,
      errors: [{ statusCode: 'INVALID_EMAIL_ADDRESS' }],
    })
    expect(syncStatus(t.db, clock.now())).toMatchObject({ pending: 1, parked: 1 })
    sf.failRecord = () => null
    clock.advance({ hours: 1 })
    expect(await runner().run()).toMatchObject({ status: 'done', delivered: 1 })
    expect(sf.records.get('Contact')!.has(seededPhone(3))).toBe(true)
  })

  it('logs in again when the session expired, and sends the same call once more', async () => {
    seedEvents(t.db, { count: 3, customers: 1 })
    const r1 = runner()
    await r1.run()
    sf.expireTokens()
    seedEvents(t.db, { count: 3, customers: 1, startAt: Date.parse('2026-03-03T00:00:00Z') })
    expect(await r1.run()).toMatchObject({ status: 'done', delivered: 3 })
    expect(sf.tokensIssued).toBe(2)
    expect(sf.calls.filter((c) => c.status === 401)).toHaveLength(1)
  })

  it('retries, never parks, when the login is refused, and never logs the secret', async () => {
    seedEvents(t.db, { count: 2, customers: 1 })
    const r = await runner(config({}, { clientSecret: 'wrong-and-secret' })).run()
    expect(r).toMatchObject({
      status: 'failed',
      error: 'salesforce login refused: 400 invalid_client (invalid client credentials)',
    })
    expect(syncStatus(t.db, clock.now())).toMatchObject({ pending: 2, parked: 0 })
    expect(logs.join('\n')).not.toContain('wrong-and-secret')
  })

  it('parks the events of a call Salesforce calls malformed (a wrong field mapping)', async () => {
    seedEvents(t.db, { count: 3, customers: 3 })
    const r = await runner(config({}, { contact: { fields: { phone: 'Id' } } })).run()
    // The visit (event 2) needed its contact too: parked with it.
    expect(r).toMatchObject({ status: 'done', parked: 3, delivered: 0 })
    expect(parkedEvents(t.db)[0]).toMatchObject({
      error: 'salesforce Contact answered 400',
      response: expect.stringContaining('Id must not be set'),
    })
  })

  it('marks the contact for erasure, and treats erasing a contact Salesforce never had as done', async () => {
    const rec = customerRecord(
      {
        phone_e164: '+525500000001',
        name: 'Ana',
        locale: 'es',
        first_verified_at: 0,
        last_verified_at: 0,
      },
      true,
    )
    t.db.transaction(() => {
      appendEvent(
        t.db,
        'b1',
        customerVerified({
          customer: rec,
          firstTime: true,
          mac: '3a:11:22:33:44:55',
          now: clock.now(),
          macs: macPolicy('omit', ''),
        }),
      )
      appendEvent(
        t.db,
        'b1',
        customerErased({ phone: '+525500000001', requestedBy: 'user:maria', now: clock.now() }),
      )
      appendEvent(
        t.db,
        'b1',
        customerErased({ phone: '+525500000099', requestedBy: 'user:maria', now: clock.now() }),
      )
      appendEvent(
        t.db,
        'b1',
        visitClosed({
          visit: { id: 'v-anon', branchId: 'b1', startedAt: 0, endedAt: 60_000, endReason: 'idle' },
          customer: null,
        }),
      )
    })()
    expect(await runner().run()).toMatchObject({ status: 'done', delivered: 4, parked: 0 })
    expect(sf.records.get('Contact')!.get('+525500000001')).toMatchObject({
      Branchgate_Erasure_Requested_At__c: new Date(clock.now()).toISOString(),
    })
    expect(sf.records.get('Contact')!.has('+525500000099')).toBe(false)
    expect(sf.records.get('Branchgate_Visit__c')!.get('v-anon')).not.toHaveProperty('Contact__r')
  })

  it('maps consent.withdrawn v2, customer.blocked and customer.deleted onto the contact by its key, and leaves a contact it never had alone', async () => {
    const rec = customerRecord(
      {
        phone_e164: '+525500000001',
        name: 'Ana',
        locale: 'es',
        first_verified_at: 0,
        last_verified_at: 0,
      },
      true,
    )
    const at = (days: number) => clock.now() + days * 86_400_000
    t.db.transaction(() => {
      const add = (e: Parameters<typeof appendEvent>[2]) => appendEvent(t.db, 'b1', e)
      add(
        customerVerified({
          customer: rec,
          firstTime: true,
          mac: '3a:11:22:33:44:55',
          now: clock.now(),
          macs: macPolicy('omit', ''),
        }),
      )
      for (const phone of ['+525500000001', '+525500000099']) {
        add(
          consentWithdrawn({
            phone,
            purposes: ['marketing'],
            noticeVersion: '2026-01',
            branchId: 'b1',
            via: 'portal',
            now: at(1),
          }),
        )
        add(customerBlocked({ phone, reason: 'request', now: at(2), deleteAfter: at(182) }))
        add(customerDeleted({ phone, now: at(182) }))
      }
    })()
    expect(await runner().run()).toMatchObject({ status: 'done', delivered: 7, parked: 0 })
    // The contact got each step's date, and nothing personal beyond its key was sent.
    expect(sf.records.get('Contact')!.get('+525500000001')).toEqual({
      Branchgate_Phone__c: '+525500000001',
      LastName: 'Ana',
      MobilePhone: '+525500000001',
      Branchgate_Locale__c: 'es',
      Branchgate_Marketing_Consent__c: false,
      Branchgate_Last_Verified_At__c: new Date(0).toISOString(),
      Branchgate_Last_Branch__c: 'b1',
      Branchgate_Marketing_Withdrawn_At__c: new Date(at(1)).toISOString(),
      Branchgate_Blocked_At__c: new Date(at(2)).toISOString(),
      Branchgate_Deleted_At__c: new Date(at(182)).toISOString(),
    })
    const privacyRecords = upserts()
      .flatMap((c) => c.body.records as Array<Record<string, unknown>>)
      .filter((r) => !('LastName' in r))
    expect(privacyRecords.length).toBeGreaterThan(0)
    for (const r of privacyRecords)
      for (const k of Object.keys(r))
        expect([
          'attributes',
          'Branchgate_Phone__c',
          'Branchgate_Marketing_Consent__c',
          'Branchgate_Marketing_Withdrawn_At__c',
          'Branchgate_Blocked_At__c',
          'Branchgate_Deleted_At__c',
        ]).toContain(k)
    // A number Salesforce never had: delivered, and no contact made up for it.
    expect(sf.records.get('Contact')!.has('+525500000099')).toBe(false)
  })

  it('parks a privacy event whose field is not mapped, saying which key to set', async () => {
    t.db.transaction(() => {
      appendEvent(t.db, 'b1', customerDeleted({ phone: '+525500000001', now: clock.now() }))
    })()
    const r = await runner(config({}, { contact: { fields: { deletedAt: null } } })).run()
    expect(r).toMatchObject({ status: 'done', delivered: 0, parked: 1 })
    expect(parkedEvents(t.db)[0]).toMatchObject({
      type: 'customer.deleted',
      error: 'salesforce: contact.fields.deletedAt is not mapped',
    })
  })

  it('retries the whole batch when Salesforce is unavailable, honouring Retry-After, and sends it again unchanged', async () => {
    seedEvents(t.db, { count: 4, customers: 2 })
    sf.unavailable = { status: 503, retryAfter: '90', calls: 1 }
    const r = await runner().run()
    expect(r).toMatchObject({ status: 'failed', nextAttemptAt: clock.now() + 90_000 })
    expect(r.status === 'failed' && r.error).toMatch(/^salesforce Contact answered 503/)
    expect(syncStatus(t.db, clock.now())).toMatchObject({ pending: 4, parked: 0 })
    clock.advance({ seconds: 90 })
    expect(await runner().run()).toMatchObject({ status: 'done', delivered: 4 })
    const [failed, again] = upserts().filter((c) => c.path.includes('/Contact/'))
    expect(again!.body).toEqual(JSON.parse(failed!.body))
  })
})
