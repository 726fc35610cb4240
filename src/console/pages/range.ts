import type { Context } from 'hono'
import { resolveRange, type DateRange, type RangeKind } from '../time.js'

/** The report period a page's query asks for (`range`, `from`, `to`); `fallback` when none. */
export function rangeOf(
  c: Context,
  now: number,
  timeZone: string,
  fallback?: RangeKind,
): DateRange {
  const range = c.req.query('range') ?? fallback
  return resolveRange({ range, from: c.req.query('from'), to: c.req.query('to') }, now, timeZone)
}
