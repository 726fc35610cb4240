import { afterEach, describe, expect, it } from 'vitest'
import { csvField, csvLine, CsvSyntaxError, parseCsv, spreadsheetSafe } from '../src/console/csv.js'
import { visitsCsvStream } from '../src/console/exports.js'
import { resolveRange } from '../src/console/time.js'
import { consoleHarness } from './console-harness.js'
import { seedWeek } from './console-seed.js'

describe('CSV writing (RFC 4180)', () => {
  it('quotes only fields holding a quote, the delimiter or a line break, doubling quotes', () => {
    expect(csvField('Ana')).toBe('Ana')
    expect(csvField('López, Ana')).toBe('"López, Ana"')
    expect(csvField('El "Güero"')).toBe('"El ""Güero"""')
    expect(csvField('dos\nlíneas')).toBe('"dos\nlíneas"')
    expect(csvField('a;b')).toBe('a;b')
    expect(csvField('a;b', ';')).toBe('"a;b"')
    expect(csvField(null)).toBe('')
    expect(csvField(12.5)).toBe('12.5')
    expect(csvLine(['a', 'b,c', ''])).toBe('a,"b,c",\r\n')
  })

  it('defuses names that a spreadsheet would run as a formula', () => {
    expect(spreadsheetSafe('=HYPERLINK("http://x")')).toBe(`'=HYPERLINK("http://x")`)
    expect(spreadsheetSafe('@SUM(A1)')).toBe(`'@SUM(A1)`)
    expect(spreadsheetSafe('Ana')).toBe('Ana')
  })
})

describe('CSV reading', () => {
  it('reads quoted fields, doubled quotes, CRLF and LF, a BOM, and reports the line of each record', () => {
    const text =
      '\uFEFFphone,campaign\r\n"55 1234 5678","Promo ""marzo"""\n5512345679,"dos\nlíneas"\n\n5512345670,x'
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['phone', 'campaign'] },
      { line: 2, fields: ['55 1234 5678', 'Promo "marzo"'] },
      { line: 3, fields: ['5512345679', 'dos\nlíneas'] },
      { line: 6, fields: ['5512345670', 'x'] },
    ])
  })

  it('takes the semicolon of spreadsheets in Spanish', () => {
    expect(parseCsv('phone;campaign\n55 1234 5678;Promo, marzo\n')).toEqual([
      { line: 1, fields: ['phone', 'campaign'] },
      { line: 2, fields: ['55 1234 5678', 'Promo, marzo'] },
    ])
  })

  it('keeps empty fields', () => {
    expect(parseCsv('a,,c\n,,\n')).toEqual([
      { line: 1, fields: ['a', '', 'c'] },
      { line: 2, fields: ['', '', ''] },
    ])
  })

  it('refuses a quote that is never closed, naming its line', () => {
    expect(() => parseCsv('a,b\n1,"open\n2,3\n')).toThrow(CsvSyntaxError)
    try {
      parseCsv('a,b\n1,"open\n2,3\n')
    } catch (err) {
      expect((err as CsvSyntaxError).line).toBe(2)
    }
  })
})

describe('visits CSV export', () => {
  let h: ReturnType<typeof consoleHarness>
  afterEach(() => h?.close())

  const read = async (stream: ReadableStream<Uint8Array>) => {
    const chunks: string[] = []
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>)
      chunks.push(decoder.decode(c, { stream: true }))
    return { text: chunks.join(''), chunks: chunks.length }
  }

  it('streams every visit of the range in pages, with a BOM and branch-local times', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const range = resolveRange(
      { range: 'custom', from: '2026-02-24', to: '2026-03-02' },
      h.clock.now(),
      'America/Mexico_City',
    )
    const { text, chunks } = await read(
      visitsCsvStream(h.db, {
        range,
        timeZone: 'America/Mexico_City',
        passByMinutes: 2,
        pageSize: 2,
      }),
    )
    expect(text.startsWith('\uFEFFvisit_id,started_local,')).toBe(true)
    const lines = text.slice(1).split('\r\n')
    expect(lines.at(-1)).toBe('')
    expect(lines).toHaveLength(1 + 9 + 1)
    expect(chunks).toBeGreaterThanOrEqual(5)
    expect(lines[1]).toBe(
      'v03,2026-02-24 00:10:00,2026-02-24 00:16:00,2026-02-24 00:16:00,6.0,0,0,5,Dana Pérez,"=""+525512345605""",left',
    )
    expect(lines.find((l) => l.startsWith('v07,'))).toContain(',1.0,1,0,2,Beto Ruiz,') // pass-by
    expect(lines.find((l) => l.startsWith('v06,'))).toContain(',30.0,0,1,4,Sam Staff,') // staff
    expect(lines.find((l) => l.startsWith('v10,'))).toBe(
      'v10,2026-03-02 08:30:00,,2026-03-02 08:58:00,28.0,,0,3,Carla Núñez,"=""+525512345603""",', // still going: no pass_by yet
    )
  })

  it('downloads as a file from the export form, audit-logged', async () => {
    h = consoleHarness()
    seedWeek(h.db)
    const b = await h.signedIn('maria', 'manager')
    const res = await b.submit('/export/visits.csv', {
      from: '2026-02-25',
      to: '2026-02-25',
      delimiter: 'semicolon',
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="visits-2026-02-25_2026-02-25.csv"',
    )
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = new TextDecoder().decode(bytes)
    expect(text.split('\r\n')[0]).toBe(
      'visita;inicio;fin;ultima_vez_visto;minutos;pasada;personal;cliente_id;nombre;celular;motivo_fin',
    )
    expect(text.split('\r\n').filter(Boolean)).toHaveLength(4)
    const audit = h.db
      .prepare(`SELECT actor, detail FROM audit_log WHERE action = 'visits.export'`)
      .get()
    expect(audit).toEqual({
      actor: 'user:maria',
      detail: JSON.stringify({ from: '2026-02-25', to: '2026-02-25', format: 'csv' }),
    })
  })
})
