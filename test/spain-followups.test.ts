import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { CONSOLE_MESSAGE_KEYS, ct } from '../src/console/messages.js'
import { closeDb, openDb, readMigrations } from '../src/db/open.js'
import { defaultNotice } from '../src/privacy/notice.js'
import { consoleHarness } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'
import { portalHarness, tempDir } from './helpers.js'

// Follow-ups to Spain (issue 18): the console speaks the branch's law everywhere, Spain's
// restriction of processing, and Mexico's notice in its own form of address and name.

const SPAIN = {
  defaultLocale: 'es-ES',
  branch: { name: 'Oficina Gran Vía', timeZone: 'Europe/Madrid' },
  phone: { defaultRegion: 'ES', allowedRegions: ['ES'] },
}

/** Mexico's words a manager in Spain must not read. */
const MEXICAN = /celular|cancelaci[oó]n|\bARCO\b/i

/** A word standing alone (accented letters count as letters). */
const word = (words: string) => new RegExp(`(?<!\\p{L})(${words})(?!\\p{L})`, 'iu')
/** What addresses the customer as "tú". */
const TU = word('tu|tus|te|ti|puedes|pides|vienes|llegas|marcas|abre|pídelo|conectarte')

let h: ReturnType<typeof consoleHarness> | undefined
let portal: ReturnType<typeof portalHarness> | undefined
afterEach(async () => {
  await h?.close()
  portal?.close()
  h = portal = undefined
})

type Browser = Awaited<ReturnType<NonNullable<typeof h>['signedIn']>>

async function record(b: Browser, fields: Record<string, string>) {
  return b.submit('/requests', {
    phone: '',
    requester: 'Lucía Pérez',
    received: '2026-02-20',
    identity: 'official-id',
    identityNote: '',
    details: '',
    ...fields,
  })
}
const idOf = (res: Response) =>
  Number(/^\/requests\/(\d+)$/.exec(res.headers.get('location') ?? '')?.[1])

describe('the console of a branch in Spain', () => {
  it('has Spain’s word for every message that says Mexico’s, in Spanish and English', () => {
    for (const voice of ['es-ES', 'en-ES'] as const)
      for (const key of CONSOLE_MESSAGE_KEYS)
        expect(ct(voice, key), `${voice} ${key}`).not.toMatch(MEXICAN)
    // Mexico keeps its own.
    expect(ct('es', 'customers.phone')).toBe('Celular')
    expect(ct('es', 'requests.kind.cancellation')).toBe('Cancelación')
  })

  it('says "Móvil" on the customer pages, in the CSV headers and the audit log; Mexico’s says "Celular" even to an es-ES browser', async () => {
    h = consoleHarness(SPAIN)
    seedWeek(h.db)
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
         VALUES (1, '2026-01', '["service","marketing"]', @at, 'demo', '3a:00:00:00:00:01', 'es')`,
      )
      .run({ at: local('2026-02-24T00:10') })
    h.db
      .prepare(
        `INSERT INTO audit_log (at, actor, action, subject, reason, detail)
         VALUES (@at, 'portal', 'customer.create', '1', NULL, '{"mac":"3a:00:00:00:00:01"}')`,
      )
      .run({ at: local('2026-02-24T00:10') })
    const b = await h.signedIn('ana', 'admin')
    const list = await (await b.get('/customers?q=Ana')).text()
    expect(list).toContain('Buscar por nombre o móvil')
    expect(list).not.toMatch(MEXICAN)
    expect(list).toContain('<th scope="col">Móvil</th>')
    expect(await (await b.get('/customers/1')).text()).not.toMatch(MEXICAN)
    const visits = await (
      await b.submit('/export/visits.csv', { from: '2026-02-23', to: '2026-03-01' })
    ).text()
    expect(visits.split('\n')[0]).toContain(',nombre,movil,motivo_fin')
    const marketing = await (await b.submit('/export/marketing.csv')).text()
    expect(marketing.split('\n')[0]).toMatch(/^\uFEFF?movil,nombre,idioma/)
    const audit = await (await b.get('/audit')).text()
    expect(audit).toContain('verificó su móvil por SMS')
    expect(audit).not.toMatch(MEXICAN)
    // The English page of a branch in Spain names the GDPR's rights.
    expect(await (await b.get('/requests?lang=en')).text()).toContain('Rights requests (GDPR)')
    await h.close()

    h = consoleHarness()
    seedWeek(h.db)
    const mx = await h.signedIn('ana', 'admin')
    const page = await (
      await mx.request('/customers?q=Ana', { headers: { 'accept-language': 'es-ES' } })
    ).text()
    expect(page).toContain('<th scope="col">Celular</th>')
    expect(page).not.toContain('Móvil')
  })

  it('says "Supresión" on the audit page for an erasure request in Spain; Mexico’s says "Cancelación"', async () => {
    for (const [overrides, said, not] of [
      [SPAIN, 'Supresión', 'Cancelación'],
      [{}, 'Cancelación', 'Supresión'],
    ] as const) {
      h = consoleHarness(overrides)
      const b = await h.signedIn('ana', 'admin')
      expect((await record(b, { kind: 'cancellation' })).status).toBe(303)
      const audit = await (await b.get('/audit')).text()
      expect(audit).toMatch(new RegExp(`registró la solicitud #1 \\(${said}\\)`))
      expect(audit).not.toContain(not)
      await h.close()
      h = undefined
    }
  })
})

describe('restriction of processing (GDPR art. 18)', () => {
  it('migration 015 keeps every request and both indexes, and accepts the new kind only', () => {
    const t = tempDir()
    try {
      const file = path.join(t.dir, 'branchgate.db')
      const all = readMigrations()
      const before = openDb(
        file,
        all.filter((m) => m.version < 15),
      )
      before
        .prepare(
          `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
           VALUES (7, '+34612345678', 'Lucía', 'es', 1, 1, 1)`,
        )
        .run()
      const insert = before.prepare(
        `INSERT INTO rights_requests (id, kind, customer_id, requester, received_at, identity_check,
           identity_note, details, due_at, status, outcome, recorded_by, recorded_at, closed_by, closed_at)
         VALUES (@id, @kind, @customer, 'Lucía', 10, 'official-id', @note, 'detalle', 20, @status,
           @outcome, 'user:ana', 11, @closedBy, @closedAt)`,
      )
      insert.run({
        id: 3,
        kind: 'access',
        customer: 7,
        note: 'DNI',
        status: 'open',
        outcome: null,
        closedBy: null,
        closedAt: null,
      })
      insert.run({
        id: 9,
        kind: 'cancellation',
        customer: null,
        note: null,
        status: 'done',
        outcome: 'no-data',
        closedBy: 'user:ana',
        closedAt: 15,
      })
      const rowsBefore = before.prepare(`SELECT * FROM rights_requests ORDER BY id`).all()
      expect(() =>
        insert.run({
          id: 10,
          kind: 'restriction',
          customer: 7,
          note: null,
          status: 'open',
          outcome: null,
          closedBy: null,
          closedAt: null,
        }),
      ).toThrow(/CHECK/)
      closeDb(before)

      const db = openDb(file, all)
      try {
        // The highest migration this build has (015 and any landed after it).
        expect(db.pragma('user_version', { simple: true })).toBe(
          Math.max(...all.map((m) => m.version)),
        )
        expect(db.prepare(`SELECT * FROM rights_requests ORDER BY id`).all()).toEqual(rowsBefore)
        const indexes = db
          .prepare(
            `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rights_requests' ORDER BY name`,
          )
          .all() as Array<{ name: string; sql: string }>
        expect(indexes.map((i) => i.name)).toEqual([
          'rights_requests_by_customer',
          'rights_requests_open',
        ])
        expect(indexes[1]!.sql).toContain(`WHERE status = 'open'`)
        expect(db.prepare(`SELECT name FROM sqlite_master WHERE name LIKE '%015%'`).all()).toEqual(
          [],
        )
        expect(db.pragma('foreign_key_check')).toEqual([])
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
        const again = db.prepare(
          `INSERT INTO rights_requests (kind, customer_id, requester, received_at, identity_check, due_at, recorded_by, recorded_at)
           VALUES (@kind, 7, 'Lucía', 10, 'official-id', 20, 'user:ana', 11)`,
        )
        expect(() => again.run({ kind: 'restriction' })).not.toThrow()
        expect(() => again.run({ kind: 'bogus' })).toThrow(/CHECK/)
        // The reference to customers still holds: deleting the customer empties the request's.
        db.prepare(`DELETE FROM customers WHERE id = 7`).run()
        expect(
          db
            .prepare(`SELECT count(*) AS n FROM rights_requests WHERE customer_id IS NOT NULL`)
            .get(),
        ).toEqual({ n: 0 })
      } finally {
        closeDb(db)
      }
    } finally {
      t.remove()
    }
  })

  it('is offered in Spain only, recorded with its deadline, answered by hand and audit-logged', async () => {
    h = consoleHarness()
    const mx = await h.signedIn('ana', 'admin')
    expect(await (await mx.get('/requests')).text()).not.toContain('value="restriction"')
    const refused = await record(mx, { kind: 'restriction' })
    expect(refused.status).toBe(422)
    expect(await refused.text()).toContain('Elige el derecho que ejerce.')
    expect(h.db.prepare(`SELECT count(*) AS n FROM rights_requests`).get()).toEqual({ n: 0 })
    await h.close()

    h = consoleHarness(SPAIN)
    seedWeek(h.db)
    const b = await h.signedIn('ana', 'admin')
    const list = await (await b.get('/requests')).text()
    expect(list).toContain('<option value="restriction">Limitación del tratamiento</option>')
    expect(list).toContain('supresión, oposición, limitación del tratamiento y portabilidad')
    h.db.prepare(`UPDATE customers SET phone_e164 = '+34612345601' WHERE id = 1`).run()
    const res = await record(b, { kind: 'restriction', phone: '612 34 56 01' })
    expect(res.status, await res.clone().text()).toBe(303)
    const id = idOf(res)
    expect(
      h.db.prepare(`SELECT kind, customer_id, status FROM rights_requests WHERE id = ?`).get(id),
    ).toEqual({
      kind: 'restriction',
      customer_id: 1,
      status: 'open',
    })
    const one = await (await b.get(`/requests/${id}`)).text()
    expect(one).toContain('no limita el uso por sí solo')
    expect(one).toContain(`action="/requests/${id}/restrict"`)
    // Another kind's request cannot be closed as a restriction.
    const other = idOf(await record(b, { kind: 'access', phone: '612 34 56 01' }))
    expect((await b.submit(`/requests/${other}/restrict`)).status).toBe(404)
    const closed = await b.submit(`/requests/${id}/restrict`)
    expect(closed.status).toBe(303)
    expect(
      h.db.prepare(`SELECT status, outcome FROM rights_requests WHERE id = ?`).get(id),
    ).toEqual({
      status: 'done',
      outcome: 'restriction-recorded',
    })
    expect(await (await b.get('/requests')).text()).toContain(
      'se limitó el uso de sus datos (a mano)',
    )
    const audit = await (await b.get('/audit')).text()
    expect(audit).toContain(`atendió la solicitud #${id} (Limitación del tratamiento)`)
  })
})

describe('Mexico’s privacy notice', () => {
  it('speaks "usted" throughout when configured, "tú" by default', () => {
    const tu = defaultNotice(loadConfig('{}'), 'es')
    expect(tu).toMatch(TU)
    const usted = defaultNotice(loadConfig(JSON.stringify({ spanishAddress: 'usted' })), 'es')
    expect(usted).not.toMatch(TU)
    for (const part of [
      'su nombre y su número celular (los escribe usted)',
      'darle acceso a internet',
      'Sus derechos: acceso, rectificación, cancelación, oposición y portabilidad (ARCO), y retirar su consentimiento. Pídalo',
      'le pediremos aceptarlo en su siguiente visita',
    ])
      expect(usted).toContain(part)
  })

  it('is named as its body names it, whatever Spanish the browser asks for', async () => {
    const h1 = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1]
    // A Mexican branch read with an es-ES browser: Mexico's notice, Mexico's name.
    portal = portalHarness()
    const es = { headers: { 'accept-language': 'es-ES' } }
    const notice = await (await portal.request('/aviso-de-privacidad', es)).text()
    expect(notice).toContain('Aviso de privacidad del Wi-Fi para clientes')
    expect(h1(notice)).toBe('Aviso de privacidad')
    const splash = await (await portal.request('/', es)).text()
    expect(splash).toContain('Tu móvil') // the rest is still Spain's Spanish
    expect(splash).toContain('el aviso de privacidad')
    expect(splash).not.toMatch(/política de privacidad/i)
    portal.close()

    // And the other way: a branch in Spain read with an es-MX browser, and with "usted".
    portal = portalHarness({ ...SPAIN, spanishAddress: 'usted' })
    const mx = { headers: { 'accept-language': 'es-MX' } }
    const policy = await (await portal.request('/aviso-de-privacidad', mx)).text()
    expect(policy).toContain('Política de privacidad del Wi-Fi para clientes')
    expect(h1(policy)).toBe('Política de privacidad')
    const page = await (await portal.request('/', mx)).text()
    expect(page).toContain('política de privacidad')
    expect(page).not.toMatch(/aviso de privacidad/i)
  })
})
