import { afterEach, describe, expect, it } from 'vitest'
import { consoleHarness, PASSWORD } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

type Browser = Awaited<ReturnType<typeof h.signedIn>>

const request = (id: number) =>
  h.db.prepare(`SELECT * FROM rights_requests WHERE id = ?`).get(id) as Record<string, unknown>

const outboxOf = (type: string) =>
  (
    h.db
      .prepare(`SELECT payload FROM outbox_events WHERE type = ? ORDER BY seq`)
      .all(type) as Array<{
      payload: string
    }>
  ).map((r) => JSON.parse(r.payload) as Record<string, unknown>)

/** Records a request through the form; returns its id (from the redirect). */
async function record(b: Browser, fields: Record<string, string>): Promise<number> {
  const res = await b.submit('/requests', {
    received: '2026-03-02',
    identity: 'official-id',
    identityNote: '',
    details: '',
    ...fields,
  })
  expect(res.status, await res.clone().text()).toBe(303)
  const m = /^\/requests\/(\d+)$/.exec(res.headers.get('location') ?? '')
  expect(m).not.toBeNull()
  return Number(m![1])
}

/** The rows of the open-requests table: "#id kind … due". */
async function openRows(b: Browser): Promise<string[]> {
  const html = await (await b.get('/requests')).text()
  const table = /<table id="open-requests">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? ''
  return [...table.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].slice(1).map((m) =>
    m[1]!
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  )
}

describe('rights requests (console, /requests)', () => {
  it('records who asked, when, how identity was checked and the legal deadline, and lists what is due, nearest deadline first', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    expect(await (await b.get('/requests')).text()).toContain('No hay solicitudes pendientes.')

    const ana = await record(b, {
      kind: 'access',
      phone: '55 1234 5601',
      requester: 'Ana López',
      identityNote: 'INE, terminación 0420',
      details: 'Quiere saber qué datos tenemos',
    })
    // Received on Friday 20 February (told at the counter then, recorded today).
    const beto = await record(b, {
      kind: 'rectification',
      phone: '+52 55 1234 5602',
      requester: 'Beto Ruiz',
      received: '2026-02-20',
      identity: 'sms-code',
    })
    expect(request(ana)).toMatchObject({
      kind: 'access',
      customer_id: 1,
      requester: 'Ana López',
      received_at: h.clock.now(),
      identity_check: 'official-id',
      identity_note: 'INE, terminación 0420',
      details: 'Quiere saber qué datos tenemos',
      // 20 business days after Monday 2 March: the end of Monday 30 March, branch time.
      due_at: local('2026-03-31T00:00'),
      status: 'open',
      recorded_by: 'user:maria',
      recorded_at: h.clock.now(),
    })
    expect(request(beto)).toMatchObject({
      customer_id: 2,
      received_at: local('2026-02-20T12:00'),
      due_at: local('2026-03-21T00:00'), // the end of Friday 20 March
    })
    // What is due, the nearest deadline first, with the days left and the action.
    expect(await openRows(b)).toEqual([
      `#${beto} Rectificación Beto Ruiz Beto Ruiz 20 feb 2026, 12:00 p.m. 20 mar 2026, 11:59 p.m. — faltan 19 días corregir el nombre`,
      `#${ana} Acceso Ana López Ana López 2 mar 2026, 9:00 a.m. 30 mar 2026, 11:59 p.m. — faltan 29 días entregar sus datos (JSON)`,
    ])
    const page = await (await b.get(`/requests/${ana}`)).text()
    expect(page).toContain('identificación oficial — INE, terminación 0420')
    expect(page).toContain('Quiere saber qué datos tenemos')
    expect(page).toContain('user:maria')
    expect(
      h.db
        .prepare(
          `SELECT actor, subject, reason, detail FROM audit_log WHERE action = 'rights.record' ORDER BY id`,
        )
        .all(),
    ).toEqual([
      {
        actor: 'user:maria',
        subject: '1',
        reason: 'access',
        detail: JSON.stringify({
          request: ana,
          identityCheck: 'official-id',
          dueAt: local('2026-03-31T00:00'),
        }),
      },
      {
        actor: 'user:maria',
        subject: '2',
        reason: 'rectification',
        detail: JSON.stringify({
          request: beto,
          identityCheck: 'sms-code',
          dueAt: local('2026-03-21T00:00'),
        }),
      },
    ])
    // Past its deadline a request says so, on the list and on its page.
    h.clock.advance({ days: 19 })
    await b.login('maria', PASSWORD) // the console session ran out meanwhile
    expect((await openRows(b))[0]).toContain('— vencida')
    expect(await (await b.get(`/requests/${beto}`)).text()).toContain('— vencida')
  })

  it('answers access with the customer’s file as JSON, and the request is closed', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const id = await record(b, { kind: 'access', phone: '5512345601', requester: 'Ana López' })
    const res = await b.submit(`/requests/${id}/export`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="customer-1.json"')
    const file = (await res.json()) as {
      customer: { name: string; phone_e164: string }
      devices: unknown[]
      visits: unknown[]
    }
    expect(file.customer).toMatchObject({ name: 'Ana López', phone_e164: '+525512345601' })
    expect(file.devices).toHaveLength(1)
    expect(file.visits).toHaveLength(3)
    expect(request(id)).toMatchObject({
      status: 'done',
      outcome: 'exported',
      closed_by: 'user:maria',
    })
    // Answered once: the page has no action left, and a second answer finds nothing open.
    expect((await b.submit(`/requests/${id}/export`)).status).toBe(404)
    const list = await (await b.get('/requests')).text()
    expect(list).toContain('No hay solicitudes pendientes.')
    expect(list).toContain('se entregaron sus datos')
    expect(
      h.db
        .prepare(`SELECT action FROM audit_log WHERE action LIKE 'rights.%' ORDER BY id`)
        .pluck()
        .all(),
    ).toEqual(['rights.record', 'rights.done'])
  })

  it('answers rectification by correcting the name, which the CRM learns as customer.renamed; a refused name keeps what was typed', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const id = await record(b, {
      kind: 'rectification',
      phone: '5512345602',
      requester: 'Beto Ruiz',
    })
    expect(await (await b.get(`/requests/${id}`)).text()).toContain('value="Beto Ruiz"')

    const refused = await b.submit(`/requests/${id}/rename`, { name: 'x'.repeat(81) })
    expect(refused.status).toBe(422)
    const html = await refused.text()
    expect(html).toContain('El nombre no puede tener más de 80 caracteres.')
    expect(html).toContain(`value="${'x'.repeat(81)}"`)
    expect(request(id)).toMatchObject({ status: 'open' })

    const done = await b.submit(`/requests/${id}/rename`, { name: '  Alberto   Ruiz ' })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe(`/requests?done=${id}`)
    expect(h.db.prepare(`SELECT name FROM customers WHERE id = 2`).pluck().get()).toBe(
      'Alberto Ruiz',
    )
    expect(request(id)).toMatchObject({ status: 'done', outcome: 'renamed' })
    expect(outboxOf('customer.renamed')).toEqual([
      expect.objectContaining({
        customer: expect.objectContaining({ phone: '+525512345602', name: 'Alberto Ruiz' }),
      }),
    ])
    expect(
      h.db.prepare(`SELECT actor, reason FROM audit_log WHERE action = 'customer.rename'`).get(),
    ).toEqual({ actor: 'user:maria', reason: 'rectification' })
  })

  it('answers cancellation by blocking (admins only); the request then shows the customer only as blocked', async () => {
    h = consoleHarness({}, { realErasure: true })
    seedWeek(h.db)
    const manager = await h.signedIn('maria', 'manager')
    const id = await record(manager, {
      kind: 'cancellation',
      phone: '5512345603',
      requester: 'Carla Núñez',
    })
    expect(await (await manager.get(`/requests/${id}`)).text()).toContain(
      'Solo un administrador puede bloquear y eliminar.',
    )
    expect((await manager.submit(`/requests/${id}/block`, { confirm: 'yes' })).status).toBe(403)

    const admin = await h.signedIn('root', 'admin')
    const unconfirmed = await admin.submit(`/requests/${id}/block`, {})
    expect(unconfirmed.status).toBe(422)
    expect(await unconfirmed.text()).toContain('Marca la casilla para confirmar.')
    expect(h.db.prepare(`SELECT COUNT(*) FROM blocked_customers`).pluck().get()).toBe(0)

    expect((await admin.submit(`/requests/${id}/block`, { confirm: 'yes' })).status).toBe(303)
    expect(
      h.db
        .prepare(`SELECT reason, actor, delete_after FROM blocked_customers WHERE customer_id = 3`)
        .get(),
    ).toEqual({
      reason: 'request',
      actor: 'user:root',
      delete_after: h.clock.now() + 180 * 86_400_000,
    })
    expect(request(id)).toMatchObject({
      status: 'done',
      outcome: 'blocked',
      closed_by: 'user:root',
    })
    expect(outboxOf('customer.blocked')).toEqual([
      {
        phone: '+525512345603',
        blockedAt: new Date(h.clock.now()).toISOString(),
        reason: 'request',
        deleteAfter: new Date(h.clock.now() + 180 * 86_400_000).toISOString(),
      },
    ])
    // The request stays on record (the proof it was answered, kept privacy.retention.auditMonths,
    // with who asked as they gave it); the customer it was about is only "blocked" now.
    const page = await (await admin.get(`/requests/${id}`)).text()
    expect(page).toContain('bloqueado — se elimina el 29 ago 2026, 9:00 a.m.')
    expect(page).not.toContain('/customers/3')
    expect(page).not.toContain('12345603')
    expect(page).toContain('se bloquearon sus datos')
  })

  it('answers opposition by stopping promotions: withdrawn_at set, consent.withdrawn to the CRM, out of the marketing list', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
         VALUES (5, '2026-01', '["service","marketing"]', @at, 'demo', '3a:00:00:00:00:05', 'es')`,
      )
      .run({ at: local('2026-02-24T00:10') })
    const b = await h.signedIn('maria', 'manager')
    expect(await (await b.submit('/export/marketing.csv')).text()).toContain('Dana Pérez')
    const id = await record(b, { kind: 'opposition', phone: '5512345605', requester: 'Dana Pérez' })
    expect((await b.submit(`/requests/${id}/withdraw`)).status).toBe(303)
    expect(
      h.db.prepare(`SELECT withdrawn_at FROM consents WHERE customer_id = 5`).pluck().get(),
    ).toBe(h.clock.now())
    expect(outboxOf('consent.withdrawn')).toEqual([
      {
        phone: '+525512345605',
        consent: {
          purposes: ['marketing'],
          withdrawnAt: new Date(h.clock.now()).toISOString(),
          branchId: 'demo',
          noticeVersion: '2026-01',
          via: 'console',
        },
      },
    ])
    expect(request(id)).toMatchObject({ status: 'done', outcome: 'withdrawn' })
    expect(await (await b.submit('/export/marketing.csv')).text()).not.toContain('Dana')
  })

  it('refuses a request with its reason, and answers a number not on record that no data is held', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const id = await record(b, {
      kind: 'access',
      phone: '5512345601',
      requester: 'Alguien por Ana',
      identity: 'other',
    })
    const empty = await b.submit(`/requests/${id}/refuse`, { why: '  ' })
    expect(empty.status).toBe(422)
    expect(await empty.text()).toContain('Escribe el motivo (hasta 500 caracteres).')
    expect(
      (await b.submit(`/requests/${id}/refuse`, { why: 'No acreditó ser su representante' }))
        .status,
    ).toBe(303)
    expect(request(id)).toMatchObject({
      status: 'refused',
      outcome: 'No acreditó ser su representante',
      closed_by: 'user:maria',
    })
    expect(await (await b.get('/requests')).text()).toContain(
      'rechazada: No acreditó ser su representante',
    )
    expect(await (await b.get(`/requests/${id}`)).text()).toContain(
      'rechazada: No acreditó ser su representante',
    )
    expect(
      h.db.prepare(`SELECT reason FROM audit_log WHERE action = 'rights.refuse'`).pluck().get(),
    ).toBe('access')

    const stranger = await record(b, {
      kind: 'cancellation',
      phone: '55 9999 0000',
      requester: 'Zoe',
    })
    expect(request(stranger)).toMatchObject({ customer_id: null })
    const page = await (await b.get(`/requests/${stranger}`)).text()
    expect(page).toContain('Ese número no es de ningún cliente de la sucursal.')
    expect((await b.submit(`/requests/${stranger}/no-data`)).status).toBe(303)
    expect(request(stranger)).toMatchObject({ status: 'done', outcome: 'no-data' })
  })

  it('refuses bad input with one sentence, keeps what was typed, and records nothing', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const typed = {
      kind: 'access',
      phone: '5512345601',
      requester: 'Ana López',
      received: '2026-03-02',
      identity: 'official-id',
      identityNote: 'INE',
      details: 'Sus datos',
    }
    const cases: Array<[Record<string, string>, string]> = [
      [{ kind: 'everything' }, 'Elige el derecho que ejerce.'],
      [{ identity: 'trust-me' }, 'Elige cómo se comprobó la identidad.'],
      [{ requester: '   ' }, 'Escribe quién lo pide (hasta 120 caracteres).'],
      [{ received: '2026-03-03' }, 'La fecha de recepción debe ser de hoy o anterior.'],
      [{ received: '03/02/2026' }, 'La fecha de recepción debe ser de hoy o anterior.'],
      [{ phone: 'no sé' }, 'Ese celular no es válido; revísalo o déjalo vacío.'],
      [{ details: 'x'.repeat(2001) }, 'La nota o el detalle son demasiado largos.'],
    ]
    for (const [bad, sentence] of cases) {
      const res = await b.submit('/requests', { ...typed, ...bad })
      expect(res.status, sentence).toBe(422)
      const html = await res.text()
      expect(html).toContain(sentence)
      expect(html).toContain('value="INE"')
      if (!bad.requester) expect(html).toContain('value="Ana López"')
      // The merge with issue 18: the refusal is tied to the input it is about, and only to it.
      const field = Object.keys(bad)[0]!
      const invalid = [
        ...html.matchAll(/<(?:input|select|textarea) id="([a-zA-Z]+)"[^>]*aria-invalid="true"/g),
      ]
      expect(
        invalid.map((m) => m[1]),
        sentence,
      ).toEqual([field])
      expect(html).toMatch(new RegExp(`id="${field}"[^>]*aria-describedby="[^"]*form-error`))
    }
    expect(h.db.prepare(`SELECT COUNT(*) FROM rights_requests`).pluck().get()).toBe(0)
    for (const path of ['/requests/999', '/requests/abc', '/requests/-1'])
      expect((await b.get(path)).status, path).toBe(404)
  })
})

describe('withdrawal asked for in person (customer page)', () => {
  it('a manager stops promotions from the customer’s page: withdrawn_at set, audited, consent.withdrawn to the CRM once, out of the marketing list', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    h.db
      .prepare(
        `INSERT INTO consents (customer_id, notice_version, purposes, given_at, branch_id, mac, locale)
         VALUES (1, '2026-01', '["service","marketing"]', @at, 'demo', '3a:00:00:00:00:01', 'es')`,
      )
      .run({ at: local('2026-02-24T00:10') })
    const b = await h.signedIn('maria', 'manager')
    const page = await (await b.get('/customers/1')).text()
    expect(page).toContain('action="/customers/1/withdraw"')
    expect(await (await b.submit('/export/marketing.csv')).text()).toContain('Ana López')

    const res = await b.submit('/customers/1/withdraw')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/customers/1?done=withdrawn')
    const after = await (await b.get('/customers/1?done=withdrawn')).text()
    expect(after).toContain('Listo: el cliente ya no recibirá promociones (también en el CRM).')
    // Nothing left to withdraw: the button is gone.
    expect(after).not.toContain('action="/customers/1/withdraw"')
    expect(
      h.db.prepare(`SELECT withdrawn_at FROM consents WHERE customer_id = 1`).pluck().get(),
    ).toBe(h.clock.now())
    expect(
      h.db
        .prepare(`SELECT actor, action, subject FROM audit_log WHERE action = 'consent.withdraw'`)
        .all(),
    ).toEqual([{ actor: 'user:maria', action: 'consent.withdraw', subject: '1' }])
    expect(outboxOf('consent.withdrawn')).toEqual([
      {
        phone: '+525512345601',
        consent: {
          purposes: ['marketing'],
          withdrawnAt: new Date(h.clock.now()).toISOString(),
          branchId: 'demo',
          noticeVersion: '2026-01',
          via: 'console',
        },
      },
    ])
    expect(await (await b.submit('/export/marketing.csv')).text()).not.toContain('Ana')
    // A second tap (another tab) changes nothing and sends nothing more.
    h.clock.advance({ minutes: 5 })
    expect((await b.submit('/customers/1/withdraw')).status).toBe(303)
    expect(outboxOf('consent.withdrawn')).toHaveLength(1)
    expect(
      h.db.prepare(`SELECT withdrawn_at FROM consents WHERE customer_id = 1`).pluck().get(),
    ).toBe(h.clock.now() - 5 * 60_000)
  })

  it('answers portability with the customer’s file as machine-readable JSON', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const id = await record(b, { kind: 'portability', phone: '5512345602', requester: 'Beto Ruiz' })
    const res = await b.submit(`/requests/${id}/export`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(((await res.json()) as { customer: { name: string } }).customer.name).toBe('Beto Ruiz')
    expect(request(id)).toMatchObject({ kind: 'portability', status: 'done', outcome: 'exported' })
  })
})
