import Database from 'better-sqlite3'
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb, readMigrations, type Migration } from '../src/db/open.js'
import { DataFileError } from '../src/errors.js'
import { tempDir } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

function dbFile() {
  const t = tempDir()
  cleanups.push(t.remove)
  return path.join(t.dir, 'branchgate.db')
}

const ALL = readMigrations()
const LATEST = Math.max(...ALL.map((m) => m.version))
const extra = (version: number, name: string, sql = `CREATE TABLE t${version} (x INTEGER);`) => ({
  version,
  name: `${version}-${name}`,
  sql,
})
const recorded = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare('SELECT name, version FROM schema_migrations ORDER BY version, name').all()
  } finally {
    db.close()
  }
}
const backupsBeside = (file: string) =>
  readdirSync(path.dirname(file)).filter((f) => f.startsWith('branchgate.db.before-'))

describe('migrations tracked by name', () => {
  it('records every migration by name, and user_version keeps the highest number for older builds', () => {
    const file = dbFile()
    closeDb(openDb(file))
    expect(recorded(file)).toEqual(ALL.map((m) => ({ name: m.name, version: m.version })))
    const db = new Database(file, { readonly: true })
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST)
    db.close()
  })

  it('applies a migration that landed after a higher-numbered one ran (by name, in number order)', () => {
    const file = dbFile()
    // A box ran a build with feature B's migration (1001) before feature A's (1000) landed.
    closeDb(openDb(file, [...ALL, extra(1001, 'feature-b')]))
    const db = openDb(file, [...ALL, extra(1000, 'feature-a'), extra(1001, 'feature-b')])
    expect(
      db.prepare(`SELECT name FROM sqlite_master WHERE name IN ('t1000', 't1001')`).all(),
    ).toHaveLength(2)
    expect(db.pragma('user_version', { simple: true })).toBe(1001)
    closeDb(db)
    expect(recorded(file).slice(-2)).toEqual([
      { name: '1000-feature-a', version: 1000 },
      { name: '1001-feature-b', version: 1001 },
    ])
  })

  it('takes a database from before tracking (user_version only) as it is and runs nothing twice', () => {
    const file = dbFile()
    // What every earlier branchgate wrote: migrations 1..8 and user_version 8, no tracking table.
    const old = new Database(file)
    for (const m of ALL.filter((m) => m.version <= 8)) old.exec(m.sql)
    old.pragma('user_version = 8')
    old
      .prepare(
        `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES ('+525512345678', 'Ana', 'es', 1, 1, 1)`,
      )
      .run()
    old.close()
    const db = openDb(file)
    expect(db.prepare('SELECT name FROM customers').all()).toEqual([{ name: 'Ana' }])
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST)
    const rows = db
      .prepare('SELECT name, applied_at FROM schema_migrations ORDER BY version')
      .all() as Array<{ name: string; applied_at: number | null }>
    // 1..8 recorded without a time (applied before tracking), the rest applied now.
    expect(rows.filter((r) => r.applied_at === null).map((r) => r.name)).toEqual(
      ALL.filter((m) => m.version <= 8).map((m) => m.name),
    )
    expect(rows.filter((r) => r.applied_at !== null).map((r) => r.name)).toEqual(
      ALL.filter((m) => m.version > 8).map((m) => m.name),
    )
    closeDb(db)
  })
})

describe('a backup before migrating', () => {
  it('copies the database next to itself before the first pending migration, readable and complete', () => {
    const file = dbFile()
    const db = openDb(file)
    db.prepare(
      `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES ('+525512345678', 'Ana', 'es', 1, 1, 1)`,
    ).run()
    closeDb(db)
    expect(backupsBeside(file)).toEqual([])
    const next = extra(1000, 'next-release')
    closeDb(openDb(file, [...ALL, next], { now: () => Date.UTC(2026, 4, 1, 12, 0, 0) }))
    expect(backupsBeside(file)).toEqual([
      'branchgate.db.before-1000-next-release.2026-05-01T12-00-00Z.bak',
    ])
    const copy = new Database(path.join(path.dirname(file), backupsBeside(file)[0]!), {
      readonly: true,
    })
    expect(copy.prepare('SELECT name FROM customers').all()).toEqual([{ name: 'Ana' }])
    expect(copy.prepare(`SELECT 1 FROM sqlite_master WHERE name = 't1000'`).get()).toBeUndefined()
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok')
    copy.close()
    // Nothing pending: no new copy.
    closeDb(openDb(file, [...ALL, next]))
    expect(backupsBeside(file)).toHaveLength(1)
  })

  it('takes no copy of a new, empty database', () => {
    const file = dbFile()
    closeDb(openDb(file))
    expect(backupsBeside(file)).toEqual([])
  })

  it('keeps the newest three automatic copies', () => {
    const file = dbFile()
    closeDb(openDb(file))
    const migrations: Migration[] = [...ALL]
    for (let i = 0; i < 5; i++) {
      migrations.push(extra(1000 + i, `step-${i}`))
      closeDb(openDb(file, migrations, { now: () => Date.UTC(2026, 0, 1 + i) }))
      // Each copy's time on disk follows its name, as it would over five real releases.
      for (const f of backupsBeside(file)) {
        const day = Number(/2026-01-(\d\d)/.exec(f)![1])
        utimesSync(path.join(path.dirname(file), f), day * 86_400, day * 86_400)
      }
    }
    expect(backupsBeside(file).sort()).toEqual([
      'branchgate.db.before-1002-step-2.2026-01-03T00-00-00Z.bak',
      'branchgate.db.before-1003-step-3.2026-01-04T00-00-00Z.bak',
      'branchgate.db.before-1004-step-4.2026-01-05T00-00-00Z.bak',
    ])
  })

  it('does not migrate when the copy cannot be made, and leaves the database as it was', () => {
    const file = dbFile()
    closeDb(openDb(file))
    const before = readFileSync(file)
    let caught: unknown
    try {
      openDb(file, [...ALL, extra(1000, 'next')], { dir: path.join(path.dirname(file), 'gone') })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(DataFileError)
    expect((caught as Error).message).toMatch(
      /^cannot back up .*branchgate\.db to .*before-1000-next.* before migrating it to 1000-next \(.*\): free some space or make .* writable; branchgate left the database as it was$/,
    )
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(recorded(file).map((r: any) => r.name)).not.toContain('1000-next')
  })
})

describe('a database from a newer branchgate', () => {
  it('is refused when its user_version is higher than this build knows, and left untouched', () => {
    const file = dbFile()
    closeDb(openDb(file, [...ALL, extra(1000, 'future')]))
    const before = readFileSync(file)
    expect(() => openDb(file)).toThrow(
      `${file} was written by a newer branchgate (schema 1000; this one knows up to ${LATEST}): run that newer version, or restore a backup made by this one (branchgate restore FILE); branchgate left it untouched`,
    )
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(existsSync(`${file}-wal`)).toBe(false)
  })

  it('is refused when it carries a migration this build does not know, even with a lower number', () => {
    const file = dbFile()
    // A newer build added 5-hotfix between two of ours: user_version alone would not tell.
    closeDb(openDb(file, [...ALL, extra(5, 'hotfix-from-newer')]))
    expect(() => openDb(file)).toThrow(
      /was written by a newer branchgate \(migration 5-hotfix-from-newer, unknown to this one\)/,
    )
  })
})
