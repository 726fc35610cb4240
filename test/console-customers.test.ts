import { afterEach, describe, expect, it } from 'vitest'
import { parseMac } from '../src/mac.js'
import { consoleHarness } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const idsIn = (html: string) =>
  [...html.matchAll(/href="\/customers\/(\d+)"/g)].map((m) => Number(m[1]))

describe('customer search', () => {
  it('finds a customer by a number typed any way', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    for (const q of [
      '55 1234 5601',
      '+52 1 55 1234 5601',
      '(55) 1234-5601',
      '5512345601',
      '+525512345601',
    ]) {
      expect(idsIn(await (await b.get(`/customers?q=${encodeURIComponent(q)}`)).text()), q).toEqual(
        [1],
      )
    }
  })

  it('finds by the last digits, and by name ignoring case and accents', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    expect(idsIn(await (await b.get('/customers?q=5603')).text())).toEqual([3])
    expect(idsIn(await (await b.get('/customers?q=carla%20nunez')).text())).toEqual([3])
    expect(idsIn(await (await b.get('/customers?q=P%C3%89REZ')).text())).toEqual([5])
    expect(await (await b.get('/customers?q=zzz')).text()).toContain('No encontramos clientes')
    // LIKE wildcards typed by the manager are taken literally.
    expect(idsIn(await (await b.get('/customers?q=%25')).text())).toEqual([])
  })
})

describe('customer page', () => {
  it('shows the verified number and date, devices, consents with their notice version and visits', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale) VALUES (1, '2026-01', '["service","marketing"]', @at, 'demo', '3a:00:00:00:00:01', 'es')`,
      )
      .run({ at: local('2026-02-01T09:00') })
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/customers/1')).text()
    expect(html).toContain('Ana López')
    expect(html).toContain('+52 55 1234 5601')
    expect(html).toContain('3a:00:00:00:00:01')
    expect(html).toContain('2026-01')
    expect(html).toContain('servicio, promociones')
    expect(html).toContain('Historial de visitas (3)')
    expect((await b.get('/customers/999')).status).toBe(404)
  })

  it('exports all data of one customer as JSON and logs the export', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const res = await b.submit('/customers/1/export')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="customer-1.json"')
    const data = (await res.json()) as { customer: unknown; devices: unknown[]; visits: unknown[] }
    expect(data.customer).toMatchObject({ id: 1, name: 'Ana López', phone_e164: '+525512345601' })
    expect(data.devices).toHaveLength(1)
    expect(data.visits).toHaveLength(3)
    expect(
      h.db.prepare(`SELECT actor, subject FROM audit_log WHERE action = 'customer.export'`).get(),
    ).toEqual({
      actor: 'user:maria',
      subject: '1',
    })
  })
})

describe('customer cancellation (block, then delete)', () => {
  it('asks for confirmation first', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('root', 'admin')
    expect(await (await b.get('/customers/1/erase')).text()).toContain(
      'Confirmo que el cliente pidió cancelar sus datos.',
    )
    const refused = await b.submit('/customers/1/erase', {})
    expect(refused.status).toBe(422)
    // The refusal is in the title and tied to the box it is about.
    const page = await refused.text()
    expect(page).toMatch(/<title>Error: /)
    expect(page).toMatch(/id="confirm"[^>]* aria-invalid="true" aria-describedby="form-error"/)
    expect(page).toMatch(/id="form-error"/)
    expect(h.db.prepare('SELECT name FROM customers WHERE id = 1').get()).toEqual({
      name: 'Ana López',
    })
  })

  it('blocks: personal data leaves the live tables, visits stay anonymous, access revoked, the CRM told, logged', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const mac = parseMac('3a:00:00:00:00:01')!
    await h.app.access.setDeviceState({
      next: 'allowed',
      mac,
      customerId: 1,
      until: h.clock.now() + 3_600_000,
      reason: 'login',
      actor: 'portal',
    })
    h.db
      .prepare(
        `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by) VALUES ('x', '+525512345601', 1, 1, 't')`,
      )
      .run()
    const b = await h.signedIn('root', 'admin')
    const res = await b.submit('/customers/1/erase', { confirm: 'yes' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/customers?blocked=1')

    const row = h.db.prepare('SELECT name, phone_e164, erased_at FROM customers WHERE id = 1').get()
    expect(row).toEqual({ name: '', phone_e164: 'erased:1', erased_at: h.clock.now() })
    const count = (sql: string) => (h.db.prepare(sql).get() as { n: number }).n
    expect(count(`SELECT COUNT(*) AS n FROM devices WHERE customer_id = 1`)).toBe(0)
    expect(count(`SELECT COUNT(*) AS n FROM consents WHERE customer_id = 1`)).toBe(0)
    expect(count(`SELECT COUNT(*) AS n FROM authorizations WHERE customer_id = 1`)).toBe(0)
    expect(
      count(`SELECT COUNT(*) AS n FROM campaign_sends WHERE phone_e164 = '+525512345601'`),
    ).toBe(0)
    expect(count(`SELECT COUNT(*) AS n FROM visits WHERE customer_id = 1`)).toBe(4) // 3 seeded + the login above
    expect(h.app.access.liveUntil(mac)).toBeNull()
    expect(h.erasure.events).toEqual([
      {
        customerId: 1,
        phoneE164: '+525512345601',
        blockedAt: h.clock.now(),
        deleteAfter: h.clock.now() + 180 * 86_400_000,
        reason: 'request',
        actor: 'user:root',
      },
    ])
    // Kept apart, for legal claims only.
    const kept = h.db
      .prepare(`SELECT reason, record FROM blocked_customers WHERE customer_id = 1`)
      .get() as {
      reason: string
      record: string
    }
    expect(kept.reason).toBe('request')
    expect(JSON.parse(kept.record).customer).toMatchObject({ name: 'Ana López' })
    expect(
      h.db.prepare(`SELECT actor, subject FROM audit_log WHERE action = 'customer.block'`).get(),
    ).toEqual({
      actor: 'user:root',
      subject: '1',
    })
    const search = await (await b.get('/customers?q=5512345601')).text()
    expect(idsIn(search)).toEqual([])
    // Invisible: the customer's page is gone too.
    expect((await b.get('/customers/1')).status).toBe(404)
    // Dashboard figures keep counting her visits anonymously.
    expect(/id="fig-customers">([^<]*)</.exec(await (await b.get('/?range=7')).text())?.[1]).toBe(
      '4',
    )
  })
})
