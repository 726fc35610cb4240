import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { newestFirst } from '../src/db/newest.js'

describe('the newest rows of a query, read only as far as needed', () => {
  const setUp = () => {
    const db = new Database(':memory:')
    // Walked through its index, newest first, as the codes' queries are.
    db.exec('CREATE TABLE codes (at INTEGER); CREATE INDEX codes_by_at ON codes (at)')
    const insert = db.prepare('INSERT INTO codes (at) VALUES (?)')
    for (const at of [10, 20, 30, 40, 50]) insert.run(at)
    let stepped = 0
    db.function('seen', (at: unknown) => {
      stepped++
      return at
    })
    const newest = db
      .prepare('SELECT seen(at) FROM codes WHERE at > @since ORDER BY at DESC')
      .pluck()
    return { db, newest, stepped: () => stepped }
  }

  it('gives the newest ones up to the limit, oldest first', () => {
    const { newest } = setUp()
    expect(newestFirst(newest, { since: 0 }, 3)).toEqual([30, 40, 50])
    expect(newestFirst(newest, { since: 35 }, 3)).toEqual([40, 50])
  })

  it('stops reading at the limit, as LIMIT did', () => {
    const { newest, stepped } = setUp()
    newestFirst(newest, { since: 0 }, 2)
    expect(stepped()).toBe(2)
  })

  it('reads nothing for a limit of 0 and leaves the statement ready for the next call', () => {
    const { newest, stepped } = setUp()
    expect(newestFirst(newest, { since: 0 }, 0)).toEqual([])
    expect(stepped()).toBe(0)
    newestFirst(newest, { since: 0 }, 1)
    expect(newestFirst(newest, { since: 0 }, 5)).toEqual([10, 20, 30, 40, 50])
  })
})
