import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb, readMigrations } from '../src/db/open.js'
import type { Db } from '../src/db/open.js'
import { tempDb, tempDir } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

const customer = (db: Db, id: number) =>
  db
    .prepare(
      `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
       VALUES (?, ?, 'Cliente', 'es', 0, 0, 0)`,
    )
    .run(id, `+5255100000${id}`)
const visit = (db: Db, id: string, customerId: number | null, startedAt: number) =>
  db
    .prepare(
      `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at) VALUES (?, ?, 'b', ?, ?)`,
    )
    .run(id, customerId, startedAt, startedAt)
/** Each customer's kept first visit beside the one the visits hold. */
const firsts = (db: Db) =>
  db
    .prepare(
      `SELECT id, first_visit_at AS kept, (SELECT MIN(started_at) FROM visits WHERE customer_id = c.id) AS actual
       FROM customers c ORDER BY id`,
    )
    .all() as Array<{ id: number; kept: number | null; actual: number | null }>

describe('each customer’s first visit (migration 018, for the dashboard’s new customers)', () => {
  it('follows every visit that comes, goes or moves', () => {
    const t = tempDb()
    cleanups.push(t.close)
    const { db } = t
    customer(db, 1)
    customer(db, 2)
    expect(firsts(db).map((f) => f.kept)).toEqual([null, null])
    visit(db, 'a', 1, 5_000) // an arrival
    visit(db, 'b', 1, 9_000) // a later one: the first stays
    visit(db, 'c', 1, 3_000) // an earlier one (an import, a late write): the first moves back
    visit(db, 'p', null, 1_000) // a staff pass's visit: no customer
    expect(firsts(db)[0]).toEqual({ id: 1, kept: 3_000, actual: 3_000 })
    // Retention or erasure deletes the first visit: the next one is the first.
    db.prepare(`DELETE FROM visits WHERE id = 'c'`).run()
    expect(firsts(db)[0]).toEqual({ id: 1, kept: 5_000, actual: 5_000 })
    // A later visit deleted: nothing moves.
    db.prepare(`DELETE FROM visits WHERE id = 'b'`).run()
    expect(firsts(db)[0]!.kept).toBe(5_000)
    // A clock step rebases open visits' start (src/db/visits.ts).
    db.prepare(`UPDATE visits SET started_at = started_at + 60000 WHERE id = 'a'`).run()
    expect(firsts(db)[0]).toEqual({ id: 1, kept: 65_000, actual: 65_000 })
    // A visit given to another customer moves both customers' first visits.
    visit(db, 'd', 2, 70_000)
    db.prepare(`UPDATE visits SET customer_id = 2 WHERE id = 'a'`).run()
    expect(firsts(db)).toEqual([
      { id: 1, kept: null, actual: null },
      { id: 2, kept: 65_000, actual: 65_000 },
    ])
    // The customer's row deleted (visits first, as erasure does): nothing is left to point at.
    db.prepare(`DELETE FROM visits WHERE customer_id = 2`).run()
    db.prepare(`DELETE FROM customers WHERE id = 2`).run()
    expect(firsts(db)).toEqual([{ id: 1, kept: null, actual: null }])
  })

  it('is filled in for the customers and visits a database already had', () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const file = path.join(t.dir, 'branchgate.db')
    const before = readMigrations().filter((m) => m.version < 18)
    const old = openDb(file, before)
    customer(old, 1)
    customer(old, 2)
    customer(old, 3)
    visit(old, 'a', 1, 7_000)
    visit(old, 'b', 1, 4_000)
    visit(old, 'c', 2, 8_000)
    closeDb(old)
    const db = openDb(file)
    cleanups.push(() => closeDb(db))
    expect(firsts(db)).toEqual([
      { id: 1, kept: 4_000, actual: 4_000 },
      { id: 2, kept: 8_000, actual: 8_000 },
      { id: 3, kept: null, actual: null },
    ])
  })
})
