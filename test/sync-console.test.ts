import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { appendEvent, macPolicy } from '../src/sync/outbox.js'
import { customerRecord, customerVerified } from '../src/sync/events.js'
import { ConsoleBrowser, OFFICE_IP, PASSWORD } from './console-harness.js'
import { seedWeek } from './console-seed.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakeSms } from './fakes/sms.js'
import { tempDir, wireApp } from './helpers.js'

/** The app as main.ts builds it: the console wired to the real outbox and sync status. */
function wiredApp(sync: Record<string, unknown> = {}) {
  const t = tempDir()
  const config = loadConfig(JSON.stringify({ dataDir: t.dir, sync }))
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  const app = wireApp({
    config,
    db,
    gate: createDryRunGate(clock),
    sms: new FakeSms(),
    neighbours: new FakeNeighbours(),
    clock,
    secret: Buffer.alloc(32, 7),
    log: () => {},
  })
  const signedIn = async () => {
    await app.consoleAuth.add('root', 'admin', PASSWORD, 'test')
    const b = new ConsoleBrowser(app.admin, OFFICE_IP)
    if ((await b.login('root', PASSWORD)).status !== 303) throw new Error('sign-in failed')
    return b
  }
  return { app, db, clock, signedIn, close: () => (closeDb(db), t.remove()) }
}

const events = (db: Db) =>
  (
    db.prepare(`SELECT type, payload FROM outbox_events ORDER BY seq`).all() as Array<{
      type: string
      payload: string
    }>
  ).map((r) => ({ type: r.type, data: JSON.parse(r.payload) }))

let w: ReturnType<typeof wiredApp> | null = null
afterEach(() => {
  w?.close()
  w = null
})

describe('the console and the CRM sync', () => {
  it('sends a cancellation done in the console to the CRM as customer.blocked, and forgets what the outbox held about the customer', async () => {
    w = wiredApp()
    seedWeek(w.db)
    const phone = (
      w.db.prepare(`SELECT phone_e164 FROM customers WHERE id = 1`).get() as { phone_e164: string }
    ).phone_e164
    const before = customerRecord(
      {
        phone_e164: phone,
        name: 'Ana López',
        locale: 'es',
        first_verified_at: 0,
        last_verified_at: 0,
      },
      true,
    )
    w.db.transaction(() =>
      appendEvent(
        w!.db,
        'demo',
        customerVerified({
          customer: before,
          firstTime: true,
          mac: '3a:00:00:00:00:01',
          now: 1,
          macs: macPolicy('omit', ''),
        }),
      ),
    )()
    const b = await w.signedIn()
    expect((await b.submit('/customers/1/erase', { confirm: 'yes' })).status).toBe(303)
    // Issue 15: erasure is a blocking now; the CRM learns it with its key only.
    expect(events(w.db)).toEqual([
      {
        type: 'customer.blocked',
        data: {
          phone,
          blockedAt: new Date(w.clock.now()).toISOString(),
          reason: 'request',
          deleteAfter: new Date(w.clock.now() + 180 * 86_400_000).toISOString(),
        },
      },
    ])
  })

  it('shows the outbox on the sync panel once a CRM is configured', async () => {
    w = wiredApp({
      adapter: {
        type: 'webhook',
        url: 'https://crm.example.com/hook',
        secrets: ['whsec_' + Buffer.from('k'.repeat(32)).toString('base64')],
      },
    })
    const rec = customerRecord(
      {
        phone_e164: '+525512345678',
        name: 'Ana',
        locale: 'es',
        first_verified_at: 0,
        last_verified_at: 0,
      },
      false,
    )
    w.db.transaction(() => {
      for (let i = 0; i < 3; i++)
        appendEvent(
          w!.db,
          'demo',
          customerVerified({
            customer: rec,
            firstTime: i === 0,
            mac: '3a:00:00:00:00:01',
            now: w!.clock.now(),
            macs: macPolicy('omit', ''),
          }),
        )
    })()
    const b = await w.signedIn()
    const html = await (await b.get('/sync')).text()
    expect(html).not.toContain('id="sync-off"')
    expect(html).toContain('<dd id="sync-pending">3</dd>')
  })

  it('says the sync is not configured when no CRM is', async () => {
    w = wiredApp()
    const b = await w.signedIn()
    expect(await (await b.get('/sync')).text()).toContain('id="sync-off"')
  })
})
