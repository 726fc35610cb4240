import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseCsv } from '../src/console/csv.js'
import { visitsCsvStream } from '../src/console/exports.js'
import { resolveRange } from '../src/console/time.js'
import { consoleHarness } from './console-harness.js'
import { local } from './console-seed.js'
import { tempDir } from './helpers.js'

// A real spreadsheet engine reads our CSV: LibreOffice Calc, headless (Debian's
// libreoffice-calc-nogui; .ci/run installs it).
const soffice = spawnSync('soffice', ['--version'], { encoding: 'utf8' })
const why =
  soffice.error || soffice.status !== 0
    ? 'soffice (LibreOffice) is not installed: apt-get install libreoffice-calc-nogui'
    : null
if (why) console.warn(`skipping the spreadsheet test: ${why}`)

let h: ReturnType<typeof consoleHarness>
let t: ReturnType<typeof tempDir>
afterEach(() => {
  h?.close()
  t?.remove()
})

const TZ = 'America/Mexico_City'

describe('the visits CSV in a spreadsheet', () => {
  it.skipIf(why !== null)(
    'keeps the mobile number as text with its +, and a formula-like name as plain text',
    async () => {
      h = consoleHarness()
      t = tempDir()
      h.db
        .exec(`INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
                 VALUES (1, '+525523456701', 'Ana López', 'es', 0, 0, 0),
                        (2, '+525587654321', '=HYPERLINK("http://evil.example","x")', 'es', 0, 0, 0)`)
      const visit = h.db.prepare(
        `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
         VALUES (@id, @c, 'demo', @s, @s + 600000, @s + 600000, 'absent')`,
      )
      visit.run({ id: 'v1', c: 1, s: local('2026-03-02T08:00') })
      visit.run({ id: 'v2', c: 2, s: local('2026-03-02T08:30') })
      const range = resolveRange({ range: 'today' }, h.clock.now(), TZ)
      const csv = await new Response(
        visitsCsvStream(h.db, { range, timeZone: TZ, passByMinutes: 2 }),
      ).arrayBuffer()
      const input = path.join(t.dir, 'visits.csv')
      writeFileSync(input, Buffer.from(csv))

      // One conversion, in a private profile: read the file as Calc opens a CSV (UTF-8, comma,
      // its default options otherwise), then write every cell's text as Calc displays it.
      execFileSync(
        'soffice',
        [
          `-env:UserInstallation=file://${path.join(t.dir, 'lo-profile')}`,
          '--headless',
          '--infilter=Text - txt - csv (StarCalc):44,34,76,1',
          '--convert-to',
          'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true',
          '--outdir',
          path.join(t.dir, 'out'),
          input,
        ],
        { stdio: 'ignore', timeout: 120_000 },
      )
      const shown = parseCsv(readFileSync(path.join(t.dir, 'out', 'visits.csv'), 'utf8'))
      const [header, ...rows] = shown.map((r) => r.fields)
      const phone = header!.indexOf('phone')
      const name = header!.indexOf('customer_name')
      expect(rows.map((r) => r[phone])).toEqual(['+525523456701', '+525587654321'])
      // The guest-typed formula stays text: Calc shows it, apostrophe and all, and runs nothing.
      expect(rows.map((r) => r[name])).toEqual([
        'Ana López',
        `'=HYPERLINK("http://evil.example","x")`,
      ])
    },
    180_000,
  )
})
