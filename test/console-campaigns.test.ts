import { afterEach, describe, expect, it } from 'vitest'
import { parseSentAt } from '../src/console/campaigns.js'
import { consoleHarness } from './console-harness.js'
import { local, seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'

const upload = async (b: Awaited<ReturnType<typeof h.signedIn>>, csv: string) => {
  const form = new FormData()
  form.set('_csrf', await b.csrf())
  form.set('file', new File([csv], 'sends.csv', { type: 'text/csv' }))
  return b.request('/campaigns/import', { method: 'POST', body: form })
}

describe('campaign send dates', () => {
  it('reads ISO with a zone, and branch-local dates written the usual ways', () => {
    expect(parseSentAt('2026-02-24T16:00:00Z', TZ)).toBe(Date.parse('2026-02-24T16:00:00Z'))
    expect(parseSentAt('2026-02-24 10:00', TZ)).toBe(local('2026-02-24T10:00'))
    expect(parseSentAt('24/02/2026 10:00', TZ)).toBe(local('2026-02-24T10:00'))
    expect(parseSentAt('2026-02-24', TZ)).toBe(local('2026-02-24T00:00'))
    expect(parseSentAt('31/02/2026', TZ)).toBeNull()
    expect(parseSentAt('ayer', TZ)).toBeNull()
  })
})

describe('campaign walk-ins', () => {
  it('imports sends with phones in any format and measures who came within N days', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const csv = [
      'phone,campaign,sent_at',
      '55 1234 5601,Marzo,2026-02-24 09:00', // Ana came 2026-02-25 10:10: 1.05 days
      '+52 1 55 1234 5602,Marzo,2026-02-24 09:00', // Beto came 2026-02-25 10:40 (3 min, counts)
      '(55) 1234-5603,Marzo,24/02/2026 09:00', // Carla came 2026-03-01 23:50: 5.6 days
      '5512349999,Marzo,2026-02-24 09:00', // not a customer
      '5512345605,Marzo,2026-02-25 09:00', // Dana came before the send only
    ].join('\r\n')
    const res = await upload(b, csv)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Importadas 5 filas: 5 nuevas, 0 ya estaban.')

    const report = await (await b.get('/campaigns/report?c=Marzo&days=7')).text()
    const fig = (id: string) => new RegExp(`id="${id}">([^<]*)<`).exec(report)?.[1]
    expect(fig('c-recipients')).toBe('5')
    expect(fig('c-walkins')).toBe('3')
    expect(fig('c-rate')).toBe('60%')
    // Days to visit: Ana 1.05, Beto 1.07, Carla 5.62 → median 1.07.
    expect(fig('c-median')).toBe('1.1')
    expect(report).toContain('Ana López')
    expect(report).not.toContain('Dana')

    const short = await (await b.get('/campaigns/report?c=Marzo&days=2')).text()
    expect(/id="c-walkins">([^<]*)</.exec(short)?.[1]).toBe('2')

    // Importing the same file again adds nothing.
    expect(await (await upload(b, csv)).text()).toContain(
      'Importadas 5 filas: 0 nuevas, 5 ya estaban.',
    )
  })

  it('counts a recipient still at the branch once his visit has lasted visits.minMinutes, and says so', async () => {
    h = consoleHarness()
    const customer = h.db.prepare(
      `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
       VALUES (@id, @phone, @name, 'es', 0, 0, 0)`,
    )
    const visit = h.db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
       VALUES (@id, @c, 'demo', @s, @l, @e, @r)`,
    )
    const at = (hhmm: string) => local(`2026-03-02T${hhmm}`) // the clock says 09:00
    const people = [
      // In "here now" for 10 minutes; no sign of life since the login yet.
      { id: 1, name: 'Ana López', s: '08:50', l: '08:50', e: null },
      // In "here now", but for one minute only so far.
      { id: 2, name: 'Beto Ruiz', s: '08:59', l: '08:59', e: null },
      // Not seen for 29 minutes after one minute at the branch: not here now, and too short.
      { id: 3, name: 'Carla Núñez', s: '08:30', l: '08:31', e: null },
      // Came and left.
      { id: 4, name: 'Dana Pérez', s: '08:10', l: '08:40', e: '08:40' },
    ]
    for (const p of people) {
      customer.run({ id: p.id, phone: `+52551234560${p.id}`, name: p.name })
      visit.run({
        id: `v${p.id}`,
        c: p.id,
        s: at(p.s),
        l: at(p.l),
        e: p.e && at(p.e),
        r: p.e && 'absent',
      })
    }
    const b = await h.signedIn('maria', 'manager')
    const csv = [
      'phone,campaign,sent_at',
      ...people.map((p) => `55 1234 560${p.id},Hoy,2026-03-02 08:00`),
    ]
    expect((await upload(b, csv.join('\n'))).status).toBe(200)

    const walkIns = async () => {
      const page = await (await b.get('/campaigns/report?c=Hoy&days=7')).text()
      return {
        count: /id="c-walkins">([^<]*)</.exec(page)?.[1],
        names: [...page.matchAll(/<a href="\/customers\/\d+">([^<]*)<\/a>/g)].map((m) => m[1]),
        rule: /id="walkin-rule">([^<]*)</.exec(page)?.[1],
      }
    }
    const dashboard = await (await b.get('/')).text()
    expect(dashboard).toContain('En la sucursal ahora (2)') // Ana and Beto
    expect(await walkIns()).toEqual({
      count: '2',
      names: ['Dana Pérez', 'Ana López'],
      rule: 'Cuenta como visita la primera estancia de al menos 2 min que empieza en los 7 días siguientes al envío, terminada o en curso: quien sigue en la sucursal cuenta desde que lleva 2 min. Las pasadas más cortas no cuentan.',
    })
    // Two minutes later Beto, still here, has stayed long enough.
    h.clock.advance({ minutes: 2 })
    expect((await walkIns()).names).toEqual(['Dana Pérez', 'Ana López', 'Beto Ruiz'])
    expect(await (await b.get('/campaigns')).text()).toContain('id="walkin-rule"')
  })

  it('imports nothing when a row is wrong, and names each bad line', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const csv =
      'telefono;campaña;enviado\n5512345601;Marzo;2026-02-24 09:00\n12;Marzo;2026-02-24\n5512345602;;2026-13-01\n5512345603;Marzo;2026-02-24\n'
    const res = await upload(b, csv)
    expect(res.status).toBe(422)
    const html = await res.text()
    expect(html).toContain('No se importó nada.')
    expect(html).toContain('Línea 3:</strong> Celular no válido: «12».')
    expect(html).toContain('Línea 4:</strong> Falta el nombre de la campaña')
    expect(html).toContain('Línea 4:</strong> Fecha de envío no válida: «2026-13-01».')
    expect(
      (h.db.prepare('SELECT COUNT(*) AS n FROM campaign_sends').get() as { n: number }).n,
    ).toBe(0)
  })

  it('refuses a file without the three columns', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    expect(await (await upload(b, 'numero,fecha\n5512345601,2026-02-24\n')).text()).toContain(
      'Línea 1:</strong> La primera línea debe nombrar',
    )
  })
})
