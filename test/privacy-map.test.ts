import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { ROOT } from './net-helpers.js'
import { tempDb } from './helpers.js'

/**
 * docs/privacy.md, the data map, checked against the schema the migrations build: every column
 * of every table is either a row of "Personal fields" (with where it is shown, why, where it
 * goes and how long it is kept) or listed under "Not personal", and the map names nothing that
 * does not exist.
 */

const MAP = readFileSync(path.join(ROOT, 'docs/privacy.md'), 'utf8')
const COLUMN = /^`([a-z_]+)\.([a-z0-9_]+)`$/

/** The text of the `## title` section, up to the next `## `. */
function section(title: string): string {
  const start = MAP.indexOf(`\n## ${title}\n`)
  if (start < 0) throw new Error(`docs/privacy.md has no "## ${title}" section`)
  const end = MAP.indexOf('\n## ', start + 1)
  return MAP.slice(start, end < 0 ? undefined : end)
}

interface MapRow {
  column: string
  cells: string[]
}

/** The rows of the Personal fields tables, by their `table.column` first cell. */
function personalRows(): MapRow[] {
  const rows: MapRow[] = []
  for (const line of section('Personal fields').split('\n')) {
    if (!line.startsWith('| `')) continue
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim())
    const m = COLUMN.exec(cells[0]!)
    if (!m) throw new Error(`a Personal fields row must start with \`table.column\`: ${line}`)
    rows.push({ column: `${m[1]}.${m[2]}`, cells })
  }
  return rows
}

function notPersonal(): string[] {
  return [...section('Not personal').matchAll(/`([a-z_]+)\.([a-z0-9_]+)`/g)].map(
    (m) => `${m[1]}.${m[2]}`,
  )
}

const db = tempDb()
afterAll(() => db.close())

/** Every column of every table of a migrated database (hidden and generated ones too). */
function schemaColumns(): string[] {
  const tables = db.db
    .prepare(
      `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
    )
    .pluck()
    .all() as string[]
  return tables.flatMap((t) =>
    (db.db.prepare(`SELECT name FROM pragma_table_xinfo(?)`).pluck().all(t) as string[]).map(
      (c) => `${t}.${c}`,
    ),
  )
}

/** Whether `a.b.c` is a key of the configuration (defaults filled in). */
const config = loadConfig('{}', {}) as unknown as Record<string, unknown>
function isConfigKey(key: string): boolean {
  let at: unknown = config
  for (const part of key.split('.')) {
    if (at === null || typeof at !== 'object' || !(part in at)) return false
    at = (at as Record<string, unknown>)[part]
  }
  return true
}

describe('the data map (docs/privacy.md)', () => {
  it('names every column of the schema once, as personal or as not personal, and no column that does not exist', () => {
    const schema = schemaColumns()
    expect(schema.length).toBeGreaterThan(100) // the schema was read
    const personal = personalRows().map((r) => r.column)
    const other = notPersonal()
    const mapped = [...personal, ...other]
    expect(
      schema.filter((c) => !mapped.includes(c)),
      'columns the map does not place: add them to Personal fields or Not personal',
    ).toEqual([])
    expect(
      mapped.filter((c) => !schema.includes(c)),
      'columns the map names that the schema does not have',
    ).toEqual([])
    expect(
      mapped.filter((c, i) => mapped.indexOf(c) !== i),
      'columns named twice',
    ).toEqual([])
  })

  it('says for each personal field what it holds, why, who sees it, where it goes and how long it is kept, with keys that exist', () => {
    const rows = personalRows()
    const schema = schemaColumns()
    expect(rows.length).toBeGreaterThan(50)
    for (const r of rows) {
      expect(r.cells, r.column).toHaveLength(6)
      for (const cell of r.cells) expect(cell, `${r.column}: an empty cell`).not.toBe('')
      // The purpose cell names purposes of the Purposes table.
      expect(r.cells[2], r.column).toMatch(/^P\d(, P\d)*$/)
      for (const p of r.cells[2]!.split(', '))
        expect(section('Purposes'), `${r.column}: ${p}`).toContain(`| ${p} |`)
      // Every configuration key (or column) the kept cell names exists.
      for (const m of r.cells[5]!.matchAll(/`([a-z][a-zA-Z_]*(?:\.[a-zA-Z_]+)+)`/g))
        expect(
          isConfigKey(m[1]!) || schema.includes(m[1]!),
          `${r.column}: \`${m[1]}\` is neither a configuration key nor a column`,
        ).toBe(true)
    }
    // Every retention key is where some field's keeping is said.
    const kept = rows.map((r) => r.cells[5]).join('\n')
    const retention = config.privacy as { retention: Record<string, unknown> }
    for (const key of [
      ...Object.keys(retention.retention).map((k) => `privacy.retention.${k}`),
      'privacy.blockingDays',
    ])
      expect(kept, `no field is kept by ${key}`).toContain(`\`${key}\``)
  })
})
