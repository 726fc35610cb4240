import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
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
  it('lets a transaction that reads then writes wait for another connection holding the write lock', async () => {
    const file = path.join(folder(), 'branchgate.db')
    const db = openDb(file)
    cleanups.push(() => closeDb(db))
    // Another connection (as the checkpoint worker's RESTART does) holds the write lock a moment.
    const holder = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads')
       const db = new (require(workerData.driver))(workerData.file)
       db.exec('BEGIN IMMEDIATE')
       parentPort.postMessage('locked')
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300)
       db.exec('COMMIT')
       db.close()`,
      {
        eval: true,
        workerData: { file, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
      },
    )
    await new Promise((r) => holder.once('message', r))
    // Read first, then write: deferred, SQLite refuses the upgrade at once (database is locked).
    const count = db.transaction(() => {
      const n = (db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n
      db.prepare(
        `INSERT INTO audit_log (at, actor, action, detail) VALUES (1, 't', 'x', '{}')`,
      ).run()
      return n
    })()
    expect(count).toBe(0)
    await holder.terminate()
  })

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

  it('rebuilds the codes and devices tables (migration 8) keeping every row, failed sends marked', () => {
    const file = path.join(folder(), 'branchgate.db')
    const before = readMigrations().filter((m) => m.version < 8)
    const old = openDb(file, before)
    const insert = old.prepare(
      `INSERT INTO otp_challenges (id, phone_e164, mac, name, locale, marketing, code_hmac, created_at, expires_at, status, closed_at)
       VALUES (@id, '+525512345678', '02:00:00:00:00:01', 'Ana', 'es', 0, 'h', @at, @at + 300000, @status, @closed)`,
    )
    insert.run({ id: 'a', at: 1000, status: 'verified', closed: 2000 })
    insert.run({ id: 'b', at: 3000, status: 'send_failed', closed: 3500 })
    insert.run({ id: 'c', at: 4000, status: 'pending', closed: null })
    old.exec(`
      INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
        VALUES (7, '+525512345678', 'Ana', 'es', 1, 1, 1);
      INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at)
        VALUES ('02:00:00:00:00:01', 7, 1, 2, 2);
      INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, pass_by)
        VALUES ('v1', 7, 'b', 10, 20, 30, 1);`)
    closeDb(old)

    const db = openDb(file)
    const rows = db
      .prepare(
        `SELECT id, status, closed_at, send_failed_at, phone_prefix FROM otp_challenges ORDER BY id`,
      )
      .all()
    expect(rows).toEqual([
      {
        id: 'a',
        status: 'verified',
        closed_at: 2000,
        send_failed_at: null,
        phone_prefix: '+52551234',
      },
      {
        id: 'b',
        status: 'send_failed',
        closed_at: 3500,
        send_failed_at: 3500,
        phone_prefix: '+52551234',
      },
      {
        id: 'c',
        status: 'pending',
        closed_at: null,
        send_failed_at: null,
        phone_prefix: '+52551234',
      },
    ])
    // The counts of codes really sent read an index, and skip the failed send.
    const count = `SELECT count(*) AS n FROM otp_challenges WHERE created_at > 0 AND send_failed_at IS NULL`
    expect(db.prepare(count).get()).toEqual({ n: 2 })
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${count}`).all() as Array<{ detail: string }>
    expect(plan.map((p) => p.detail).join()).toMatch(/COVERING INDEX otp_sent_by_created/)
    // Devices were rebuilt too, and visits kept: rows and links to the customer all survive.
    expect(db.prepare('SELECT mac, customer_id, verified_at FROM devices').all()).toEqual([
      { mac: '02:00:00:00:00:01', customer_id: 7, verified_at: 2 },
    ])
    expect(db.prepare('SELECT id, customer_id, ended_at, pass_by FROM visits').all()).toEqual([
      { id: 'v1', customer_id: 7, ended_at: 30, pass_by: 1 },
    ])
    db.prepare('DELETE FROM customers WHERE id = 7').run()
    expect(db.prepare('SELECT customer_id FROM devices').get()).toEqual({ customer_id: null })
    expect(db.pragma('foreign_key_check')).toEqual([])
    closeDb(db)
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
