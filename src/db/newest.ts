import type { Statement } from 'better-sqlite3'

/**
 * The first `limit` values of a one-column query sorted newest first, returned oldest first.
 *
 * The limit is not a bound parameter (`LIMIT @limit`): SQLite reads a bound LIMIT's value while
 * planning, so such a statement is compiled again on every run, and three of them ran in every
 * code sent (issue 20). The query is stepped instead, and left after `limit` rows, which reads
 * no more of the index than the LIMIT did. `statement` must be plucked (one value per row).
 */
export function newestFirst<T>(statement: Statement, params: object, limit: number): T[] {
  const out: T[] = []
  if (limit <= 0) return out
  for (const value of statement.iterate(params) as IterableIterator<T>) {
    out.push(value)
    if (out.length >= limit) break
  }
  return out.reverse()
}
