import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  formatDwell,
  localMidnight,
  parseVisitRange,
  visitsCommand,
  visitsCsv,
} from '../src/cli/visits.js'
import { openDb, closeDb } from '../src/db/open.js'
import { FakeClock } from './fakes/clock.js'
import { visitFigures } from '../src/visits/figures.js'
import { tempDir } from './helpers.js'

const TZ = 'America/Mexico_City'
let cleanup: (() => void) | undefined
afterEach(() => cleanup?.())

describe('branchgate visits', () => {
  it('reads local days of the branch, --to inclusive', () => {
    expect(localMidnight('2026-03-02', TZ)).toBe(Date.parse('2026-03-02T06:00:00Z'))
    // Madrid changes to summer time on 2026-03-29
    expect(localMidnight('2026-03-29', 'Europe/Madrid')).toBe(Date.parse('2026-03-28T23:00:00Z'))
    expect(localMidnight('2026-03-30', 'Europe/Madrid')).toBe(Date.parse('2026-03-29T22:00:00Z'))
    const now = Date.parse('2026-03-02T05:00:00Z') // still March 1st in Mexico City
    expect(parseVisitRange(['--today'], now, TZ)).toEqual({
      from: Date.parse('2026-03-01T06:00:00Z'),
      to: Date.parse('2026-03-02T06:00:00Z'),
      label: '2026-03-01',
    })
    expect(parseVisitRange(['--from', '2026-03-01', '--to', '2026-03-02'], now, TZ)).toMatchObject({
      from: Date.parse('2026-03-01T06:00:00Z'),
      to: Date.parse('2026-03-03T06:00:00Z'),
    })
    expect(() => parseVisitRange(['--from', '2026-02-30'], now, TZ)).toThrow(/no such date/)
    expect(() => parseVisitRange(['--from', '2026-03-05', '--to', '2026-03-01'], now, TZ)).toThrow(
      /comes before/,
    )
  })

  it('writes dwell the way people read it', () => {
    expect(formatDwell(45_000)).toBe('45 s')
    expect(formatDwell(12 * 60_000 + 59_000)).toBe('12 min')
    expect(formatDwell(65 * 60_000)).toBe('1 h 05 min')
  })

  it('prints customer, arrival, departure and dwell in the branch time zone from a real database', async () => {
    const t = tempDir()
    cleanup = t.remove
    const config = path.join(t.dir, 'branchgate.json')
    writeFileSync(config, JSON.stringify({ dataDir: t.dir }))
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    const at = (hhmm: string) => Date.parse(`2026-03-02T${hhmm}:00-06:00`)
    db.exec(`INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
             VALUES (1, '+525512345678', 'Ana López', 'es', 0, 0, 0), (2, '+525587654321', 'Beto', 'es', 0, 0, 0)`)
    const insert = db.prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason, pass_by)
       VALUES (@id, @c, 'demo', @s, @l, @e, @r, @p)`,
    )
    insert.run({ id: 'a', c: 1, s: at('09:05'), l: at('10:10'), e: at('10:10'), r: 'absent', p: 0 })
    insert.run({ id: 'b', c: 2, s: at('11:00'), l: at('11:01'), e: at('11:01'), r: 'absent', p: 1 })
    insert.run({ id: 'c', c: 1, s: at('16:30'), l: at('16:50'), e: null, r: null, p: 0 })
    insert.run({
      id: 'd',
      c: 2,
      s: at('09:00') + 86_400_000,
      l: at('09:30') + 86_400_000,
      e: at('09:30') + 86_400_000,
      r: 'absent',
      p: 0,
    })
    closeDb(db)

    const lines: string[] = []
    const clock = new FakeClock(at('17:00'))
    const code = await visitsCommand.run(
      ['--config', config, '--today'],
      {},
      (l) => lines.push(l),
      clock,
    )
    expect(code).toBe(0)
    expect(lines).toEqual(
      [
        'visits 2026-03-02 (America/Mexico_City): 3',
        'CUSTOMER   PHONE   ARRIVAL  DEPARTURE  DWELL      ',
        'Ana López  +52…78  09:05    10:10      1 h 05 min',
        'Beto       +52…21  11:00    11:01      1 min       pass-by',
        'Ana López  +52…78  16:30    here       20 min      open',
        '2 customer(s); 1 pass-by(s); average dwell 1 h 05 min (closed visits, pass-bys left out)',
      ].map((l) => l.trimEnd()),
    )

    const range: string[] = []
    await visitsCommand.run(
      ['--config', config, '--from', '2026-03-02', '--to', '2026-03-03'],
      {},
      (l) => range.push(l),
      clock,
    )
    expect(range[0]).toBe('visits 2026-03-02 to 2026-03-03 (America/Mexico_City): 4')
    expect(range.at(-2)).toContain('2026-03-03 09:00')

    const csv: string[] = []
    await visitsCommand.run(['--config', config, '--today', '--csv'], {}, (l) => csv.push(l), clock)
    expect(csv).toEqual([
      'visit_id,customer_id,customer,phone,arrival,departure,dwell_minutes,pass_by,open',
      'a,1,Ana López,"=""+525512345678""",2026-03-02 09:05,2026-03-02 10:10,65,0,0',
      'b,2,Beto,"=""+525587654321""",2026-03-02 11:00,2026-03-02 11:01,1,1,0',
      'c,1,Ana López,"=""+525512345678""",2026-03-02 16:30,,20,,1',
    ])
  })

  it('keeps a guest-typed name from becoming a spreadsheet formula', () => {
    const row = {
      id: 'x',
      customer_id: 1,
      name: '=HYPERLINK("http://evil","hi")',
      phone_e164: null,
      started_at: 0,
      last_seen_at: 0,
      ended_at: 0,
      end_reason: 'absent',
      pass_by: 0 as const,
    }
    expect(visitsCsv([row], 'UTC')[1]).toBe(
      'x,1,"\'=HYPERLINK(""http://evil"",""hi"")",,1970-01-01 00:00,1970-01-01 00:00,0,0,0',
    )
  })

  it('refuses a config whose database does not exist, with exit code 2', async () => {
    const t = tempDir()
    cleanup = t.remove
    const config = path.join(t.dir, 'branchgate.json')
    writeFileSync(config, JSON.stringify({ dataDir: path.join(t.dir, 'nothing') }))
    expect(await visitsCommand.run(['--config', config, '--today'], {}, () => {})).toBe(2)
  })

  it('sums visits up: open ones and pass-bys out of the average, erased customers still counted', () => {
    const v = (
      id: string,
      customer: number | null,
      start: number,
      end: number | null,
      passBy: 0 | 1 = 0,
    ) => ({
      id,
      customer_id: customer,
      name: null,
      phone_e164: null,
      started_at: start * 60_000,
      last_seen_at: (end ?? start) * 60_000,
      ended_at: end === null ? null : end * 60_000,
      end_reason: null,
      pass_by: passBy,
    })
    expect(
      visitFigures([
        v('a', 1, 0, 30),
        v('b', 1, 60, 61, 1),
        v('c', null, 0, 10),
        v('d', null, 5, 25),
        v('e', 2, 90, null),
      ]),
    ).toEqual({ visits: 5, customers: 4, open: 1, passBys: 1, averageDwellMs: 20 * 60_000 })
    expect(visitFigures([])).toEqual({
      visits: 0,
      customers: 0,
      open: 0,
      passBys: 0,
      averageDwellMs: null,
    })
  })
})
