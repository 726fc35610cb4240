import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb, readMigrations } from '../src/db/open.js'
import { loadOrCreateSecret } from '../src/secret.js'
import { tempDir } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

function folder() {
  const t = tempDir()
  cleanups.push(t.remove)
  return t.dir
}

describe('database', () => {
  it('creates a fresh file in WAL mode with every migration applied', () => {
    const file = path.join(folder(), 'branchgate.db')
    const db = openDb(file)
    const latest = Math.max(...readMigrations().map((m) => m.version))
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(latest)
    const tables = (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{
        name: string
      }>
    ).map((r) => r.name)
    expect(tables).toEqual(
      expect.arrayContaining([
        'customers',
        'devices',
        'otp_challenges',
        'consents',
        'authorizations',
        'visits',
        'audit_log',
      ]),
    )
    closeDb(db)
  })

  it('opens an already-migrated file without re-running migrations and keeps its data', () => {
    const file = path.join(folder(), 'branchgate.db')
    const db = openDb(file)
    db.prepare(
      `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES ('+525512345678', 'Ana', 'es', 1, 1, 1)`,
    ).run()
    closeDb(db)
    const again = openDb(file)
    expect(again.prepare('SELECT name FROM customers').all()).toEqual([{ name: 'Ana' }])
    closeDb(again)
  })

  it('applies only the migrations a file has not seen yet', () => {
    const file = path.join(folder(), 'branchgate.db')
    const [first] = readMigrations()
    const db = openDb(file, [first!])
    expect(db.pragma('user_version', { simple: true })).toBe(1)
    closeDb(db)
    const extra = { version: 999, name: '999-test', sql: 'CREATE TABLE only_once (x INTEGER);' }
    const db2 = openDb(file, [...readMigrations(), extra])
    expect(db2.pragma('user_version', { simple: true })).toBe(999)
    closeDb(db2)
    // Running again must not try to create the table twice.
    const db3 = openDb(file, [...readMigrations(), extra])
    closeDb(db3)
  })

  it('keeps exactly one customer per verified number', () => {
    const db = openDb(path.join(folder(), 'branchgate.db'))
    const insert = db.prepare(
      `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES ('+525512345678', 'Ana', 'es', 1, 1, 1)`,
    )
    insert.run()
    expect(() => insert.run()).toThrow(/UNIQUE/)
    closeDb(db)
  })

  it('leaves no -wal file behind after a clean close', () => {
    const file = path.join(folder(), 'branchgate.db')
    const db = openDb(file)
    db.prepare(`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'x')`).run()
    closeDb(db)
    expect(existsSync(file + '-wal')).toBe(false)
  })
})

describe('install secret', () => {
  it('is created once with mode 0600 and read back the same', () => {
    const dir = folder()
    const a = loadOrCreateSecret(dir)
    const b = loadOrCreateSecret(dir)
    expect(a.length).toBe(32)
    expect(b.equals(a)).toBe(true)
    expect(statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600)
  })
})
