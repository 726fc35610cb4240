import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { visitsCommand } from '../src/cli/visits.js'
import { visitsCsvStream } from '../src/console/exports.js'
import { resolveRange } from '../src/console/time.js'
import type { Db } from '../src/db/open.js'
import { visitStanding } from '../src/visits/rules.js'
import { consoleHarness } from './console-harness.js'
import { local } from './console-seed.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'

/**
 * Today at the branch (the fake clock says 09:00): Ana is here since 08:59 (one minute so far,
 * still going), Beto came and left within a minute at 08:00 (a pass-by), Carla stayed 30 minutes.
 */
function seedMorning(db: Db) {
  const customer = db.prepare(
    `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@id, @phone, @name, 'es', 0, 0, 0)`,
  )
  customer.run({ id: 1, phone: '+525512345601', name: 'Ana López' })
  customer.run({ id: 2, phone: '+525512345602', name: 'Beto Ruiz' })
  customer.run({ id: 3, phone: '+525512345603', name: 'Carla Núñez' })
  const visit = db.prepare(
    `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason, pass_by)
     VALUES (@id, @c, 'demo', @s, @l, @e, @r, @p)`,
  )
  const at = (hhmm: string) => local(`2026-03-02T${hhmm}`)
  visit.run({ id: 'v1', c: 3, s: at('07:00'), l: at('07:30'), e: at('07:30'), r: 'absent', p: 0 })
  visit.run({ id: 'v2', c: 2, s: at('08:00'), l: at('08:01'), e: at('08:01'), r: 'absent', p: 1 })
  visit.run({ id: 'v3', c: 1, s: at('08:59'), l: at('09:00'), e: null, r: null, p: 0 })
}

const cellsOf = (html: string, table: string) =>
  [
    ...html
      .split(`<table id="${table}">`)[1]!
      .split('</table>')[0]!
      .matchAll(/<tr>(.*?)<\/tr>/gs),
  ]
    .slice(1)
    .map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((c) => c[1]!.trim()))

describe('a visit still going is not a pass-by', () => {
  it('is open, not a pass-by, however short it is so far', () => {
    const policy = { minMs: 2 * 60_000 }
    expect(visitStanding(0, null, policy)).toBe('open')
    expect(visitStanding(0, 60_000, policy)).toBe('pass-by')
    expect(visitStanding(0, 2 * 60_000, policy)).toBe('stay')
  })

  it('reads "en curso" in the visit list and on the customer page, and the dashboard agrees', async () => {
    h = consoleHarness()
    seedMorning(h.db)
    const b = await h.signedIn('maria', 'manager')

    const dash = await (await b.get('/?range=today')).text()
    expect(/id="fig-passbys">([^<]*)</.exec(dash)?.[1]).toBe('1')

    const list = cellsOf(await (await b.get('/visits?range=today')).text(), 'visits')
    // Columns: start, end, minutes, customer, kind.
    expect(list.map((r) => [r[1], r[4]])).toEqual([
      ['07:30', ''],
      ['08:01', 'pasada'],
      ['—', 'en curso'],
    ])

    const ana = cellsOf(await (await b.get('/customers/1')).text(), 'customer-visits')
    expect(ana.map((r) => [r[1], r[3]])).toEqual([['—', 'en curso']])
    const beto = cellsOf(await (await b.get('/customers/2')).text(), 'customer-visits')
    expect(beto.map((r) => r[3])).toEqual(['pasada'])

    const en = cellsOf(await (await b.get('/visits?range=today&lang=en')).text(), 'visits')
    expect(en.map((r) => r[4])).toEqual(['', 'pass-by', 'ongoing'])
  })

  it('leaves pass_by empty in the console CSV until the visit has ended', async () => {
    h = consoleHarness()
    seedMorning(h.db)
    const range = resolveRange({ range: 'today' }, h.clock.now(), TZ)
    const stream = visitsCsvStream(h.db, { range, timeZone: TZ, passByMinutes: 2 })
    const text = await new Response(stream).text()
    const passBy = Object.fromEntries(
      text
        .split('\r\n')
        .slice(1, -1)
        .map((l) => l.split(','))
        .map((f) => [f[0], f[5]]),
    )
    expect(passBy).toEqual({ v1: '0', v2: '1', v3: '' })
  })

  it('leaves pass_by empty in `branchgate visits --csv` until the visit has ended', async () => {
    h = consoleHarness()
    seedMorning(h.db)
    const config = path.join(h.config.dataDir, 'branchgate.json')
    writeFileSync(config, JSON.stringify({ dataDir: h.config.dataDir }))
    const lines: string[] = []
    const code = await visitsCommand.run(
      ['--config', config, '--today', '--csv'],
      {},
      (l) => lines.push(l),
      h.clock,
    )
    expect(code).toBe(0)
    const header = lines[0]!.split(',')
    const col = (name: string) => header.indexOf(name)
    const rows = lines.slice(1).map((l) => l.split(','))
    expect(rows.map((r) => [r[0], r[col('pass_by')], r[col('open')]])).toEqual([
      ['v1', '0', '0'],
      ['v2', '1', '0'],
      ['v3', '', '1'],
    ])
  })
})
