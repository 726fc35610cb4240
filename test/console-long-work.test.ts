import { serve, type ServerType } from '@hono/node-server'
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { IMPORT_MAX_ROWS } from '../src/console/campaigns.js'
import { until } from './net-helpers.js'
import { resolveRange } from '../src/console/time.js'
import {
  inlineConsoleWorker,
  threadConsoleWorker,
  type ConsoleWorker,
  type WorkRules,
} from '../src/console/worker.js'
import type { Db } from '../src/db/open.js'
import { consoleHarness } from './console-harness.js'
import { seedWeek } from './console-seed.js'

let h: ReturnType<typeof consoleHarness> | undefined
let server: ServerType | undefined
const workers: ConsoleWorker[] = []
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()))
  server = undefined
  for (const w of workers.splice(0)) await w.close()
  await h?.close()
  h = undefined
})

const TZ = 'America/Mexico_City'
const RULES: WorkRules = {
  dashboard: { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ },
  campaigns: {
    phoneRules: { defaultRegion: 'MX', allowedRegions: ['MX'] },
    timeZone: TZ,
    passByMinutes: 2,
    hereNowMinutes: 15,
  },
}

type Browser = Awaited<ReturnType<NonNullable<typeof h>['signedIn']>>
const upload = async (b: Browser, csv: string) => {
  const form = new FormData()
  form.set('_csrf', await b.csrf())
  form.set('file', new File([csv], 'envios.csv', { type: 'text/csv' }))
  return b.request('/campaigns/import', { method: 'POST', body: form })
}

/** `n` sends of one campaign, a new number each. */
const sends = (n: number, campaign = 'Marzo') =>
  'phone,campaign,sent_at\r\n' +
  Array.from({ length: n }, (_, i) => `55${30_000_000 + i},${campaign},2026-02-24 09:00\r\n`).join(
    '',
  )

const sendsIn = (db: Db) =>
  (db.prepare('SELECT COUNT(*) AS n FROM campaign_sends').get() as { n: number }).n

/** A GET over a real socket: the portal answers it only when its event loop gets a turn. */
function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('long console work and the guests', () => {
  it('answers guests over HTTP between the chunks of a 2,000-row import', async () => {
    h = consoleHarness()
    const c = h
    const b = await c.signedIn('maria', 'manager')
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: c.app.portal.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve(info.port),
      )
    })
    // Eight chunks of 250 rows: enough turns of the event loop to see guests answered between them.
    const rows = 2_000
    let done = false
    const importing = upload(b, sends(rows)).finally(() => (done = true))
    // Each answer is stamped with how many rows were written when it came back.
    const seen: number[] = []
    while (!done) {
      expect(await get(port, '/healthz')).toBe(200)
      seen.push(sendsIn(c.db))
    }
    const res = await importing
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Importadas 2000 filas: 2000 nuevas, 0 ya estaban.')
    // Some guests were answered while the rows were being written, not only before or after.
    expect(seen.some((n) => n > 0 && n < rows)).toBe(true)
    expect(sendsIn(c.db)).toBe(rows)
  })

  it('starts its thread with the first long work and ends it when no work came for a while', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const thread = threadConsoleWorker(h.db, RULES, () => {}, 50)
    workers.push(thread)
    // No thread while nobody asks: a second V8 instance is memory the box needs elsewhere.
    expect(thread.running()).toBe(false)
    const now = h.clock.now()
    const week = resolveRange({ range: '7' }, now, TZ)
    const first = await thread.figures(week, now)
    expect(thread.running()).toBe(true)
    await until(() => !thread.running())
    // Asked again, it starts again and answers the same.
    expect(await thread.figures(week, now)).toEqual(first)
    expect(thread.running()).toBe(true)
  })

  it('does the long work in a worker thread with the same answers as on the portal thread', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const thread = threadConsoleWorker(h.db, RULES, (l) => h!.logs.push(l))
    const inline = inlineConsoleWorker(h.db, RULES, () => {})
    workers.push(thread)
    const now = h.clock.now()
    const week = resolveRange({ range: '7' }, now, TZ)
    expect(await thread.figures(week, now)).toEqual(await inline.figures(week, now))

    const csv = sends(300) + '12,Marzo,2026-02-24\r\n'
    expect(await thread.checkCampaignCsv(csv)).toEqual(await inline.checkCampaignCsv(csv))
    const checked = await thread.checkCampaignCsv(sends(300))
    expect(checked).toEqual(await inline.checkCampaignCsv(sends(300)))
    if (!checked.ok) throw new Error('refused')
    expect(checked.rows[299]).toEqual({
      campaign: 'Marzo',
      phone: '+525530000299',
      sentAt: Date.parse('2026-02-24T09:00:00-06:00'),
    })
    h.db
      .prepare(
        `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by)
         VALUES ('Marzo', '+525512345601', @at, @at, 'test')`,
      )
      .run({ at: Date.parse('2026-02-24T09:00:00-06:00') })
    expect(await thread.campaignReports(7, now)).toEqual(await inline.campaignReports(7, now))
    for (const q of ['ana', 'nunez', '55 1234 5602', '3456', ''])
      expect(await thread.searchCustomers(q), q).toEqual(await inline.searchCustomers(q))
    expect((await thread.searchCustomers('nunez')).map((c) => c.name)).toEqual(['Carla Núñez'])
    expect(await thread.campaignReport('Marzo', 7, now)).toEqual(
      await inline.campaignReport('Marzo', 7, now),
    )

    const form = new FormData()
    form.set('_csrf', 'token')
    form.set('file', new File(['a,b\r\nñ,2\r\n'], 'x.csv'))
    const body = new Request('http://x/', { method: 'POST', body: form })
    const type = body.headers.get('content-type')!
    const bytes = await body.arrayBuffer()
    expect(await thread.readMultipart(bytes.slice(0), type)).toEqual({
      _csrf: 'token',
      file: 'a,b\r\nñ,2\r\n',
    })
    expect(await thread.readMultipart(new TextEncoder().encode('junk').buffer, type)).toEqual({})

    const year = resolveRange({ range: 'custom', from: '2026-01-01', to: '2026-03-02' }, now, TZ)
    const text = async (w: ConsoleWorker) =>
      new Response(w.visitsCsv({ range: year, timeZone: TZ, passByMinutes: 2, pageSize: 2 })).text()
    const csvOut = await text(thread)
    expect(csvOut).toBe(await text(inline))
    expect(csvOut.split('\r\n').length).toBeGreaterThan(5)
    expect(h.logs.filter((l) => l.includes('worker thread'))).toEqual([])
  })

  it('imports, reports and exports through the worker thread from the console pages', async () => {
    h = consoleHarness({}, { consoleWorker: threadConsoleWorker })
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const res = await upload(b, sends(500))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Importadas 500 filas: 500 nuevas, 0 ya estaban.')
    const page = await (await b.get('/campaigns')).text()
    expect(/<td class="num">(\d+)<\/td>/.exec(page)?.[1]).toBe('500')
    expect((await b.get('/')).status).toBe(200)
    const csv = await b.submit('/export/visits.csv', { from: '2026-02-20', to: '2026-03-02' })
    expect(csv.status).toBe(200)
    expect((await csv.text()).split('\r\n').filter(Boolean).length).toBeGreaterThan(1)
  })

  it('answers on the portal thread when the worker thread cannot start, and says so in the log', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const db = h.db
    // The same database, but a file name the thread cannot open.
    const broken = new Proxy(db, {
      get(target, key) {
        if (key === 'name') return '/nonexistent/branchgate.db'
        const v = Reflect.get(target, key, target)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const logs: string[] = []
    const thread = threadConsoleWorker(broken, RULES, (l) => logs.push(l))
    workers.push(thread)
    const now = h.clock.now()
    const week = resolveRange({ range: '7' }, now, TZ)
    const inline = inlineConsoleWorker(db, RULES, () => {})
    expect(await thread.figures(week, now)).toEqual(await inline.figures(week, now))
    expect(await thread.campaignReports(7, now)).toEqual([])
    expect(logs.join('\n')).toMatch(/console: worker thread could not start/)
  })
})

describe('what a campaign page lists', () => {
  it('lists the first 500 walk-ins and counts the rest in the figures', async () => {
    h = consoleHarness()
    const db = h.db
    const sentAt = Date.parse('2026-02-24T09:00:00-06:00')
    db.transaction(() => {
      for (let i = 1; i <= 502; i++) {
        const phone = `+5255${30_000_000 + i}`
        db.prepare(
          `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
           VALUES (@i, @phone, @name, 'es', 1, 1, 1)`,
        ).run({ i, phone, name: `Cliente ${i}` })
        const start = sentAt + 86_400_000 + i * 60_000
        db.prepare(
          `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
           VALUES (@id, @i, 'demo', @start, @end, @end, 'left')`,
        ).run({ id: `v-${i}`, i, start, end: start + 20 * 60_000 })
        db.prepare(
          `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by)
           VALUES ('Marzo', @phone, @sentAt, 1, 'test')`,
        ).run({ phone, sentAt })
      }
    })()
    const b = await h.signedIn('maria', 'manager')
    const html = await (await b.get('/campaigns/report?c=Marzo&days=7')).text()
    expect(/id="c-walkins">([^<]*)</.exec(html)?.[1]).toBe('502')
    expect(html.split('<tbody>')[1]!.match(/<tr>/g)).toHaveLength(500)
    expect(html).toContain('Y 2 visitas más, contadas en las cifras de arriba.')
  })
})

describe('what an import accepts', () => {
  it(`refuses a file of more than ${IMPORT_MAX_ROWS} rows in one sentence, and imports nothing`, async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const res = await upload(b, sends(IMPORT_MAX_ROWS + 1))
    expect(res.status).toBe(413)
    const html = await res.text()
    expect(html).toContain(
      'El archivo es demasiado grande: cada importación acepta hasta 100 000 filas y 4 MB.',
    )
    expect(html).not.toContain('Línea 1:')
    expect(sendsIn(h.db)).toBe(0)
  })

  it('refuses a file over 4 MB, and one over the 5 MB form limit, with the same sentence', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    await b.get('/?lang=en') // the sentence in English, this time
    const padding = (bytes: number) =>
      'phone,campaign,sent_at,notes\r\n' + `5512345601,Marzo,2026-02-24,${'x'.repeat(bytes)}\r\n`
    for (const size of [4.5 * 1024 * 1024, 6 * 1024 * 1024]) {
      const res = await upload(b, padding(size))
      expect(res.status, String(size)).toBe(413)
      const html = await res.text()
      expect(html, String(size)).toContain(
        'The file is too large: one import takes up to 100,000 rows and 4 MB.',
      )
      expect(html, String(size)).toContain('name="file"')
    }
    expect(sendsIn(h.db)).toBe(0)
  })

  it('lists the first hundred problems of a file wrong throughout, and counts the rest', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const csv =
      'phone,campaign,sent_at\r\n' +
      Array.from({ length: 300 }, (_, i) => `12${i},Marzo,2026-02-24\r\n`).join('')
    const res = await upload(b, csv)
    expect(res.status).toBe(422)
    const html = await res.text()
    expect(html.match(/<li><strong>Línea/g)).toHaveLength(100)
    expect(html).toContain('Línea 101:</strong> Celular no válido: «1299».')
    expect(html).toContain('Y 200 problemas más en otras filas.')
    expect(sendsIn(h.db)).toBe(0)
  })
})
