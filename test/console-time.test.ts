import { describe, expect, it } from 'vitest'
import {
  formatLocal,
  localDate,
  localMidnight,
  offsetSegments,
  resolveRange,
} from '../src/console/time.js'

describe('branch-local calendar', () => {
  it('finds local midnight and the local date in a zone without DST', () => {
    expect(localMidnight('2026-03-02', 'America/Mexico_City')).toBe(
      Date.parse('2026-03-02T06:00:00Z'),
    )
    expect(localDate(Date.parse('2026-03-02T05:59:59Z'), 'America/Mexico_City')).toBe('2026-03-01')
  })

  it('splits a year into one segment per daylight-saving change', () => {
    const tz = 'Europe/Madrid'
    const s = offsetSegments(localMidnight('2026-01-01', tz), localMidnight('2027-01-01', tz), tz)
    expect(s.map((x) => [new Date(x.from).toISOString(), x.offset / 3_600_000])).toEqual([
      ['2025-12-31T23:00:00.000Z', 1],
      ['2026-03-29T01:00:00.000Z', 2],
      ['2026-10-25T01:00:00.000Z', 1],
    ])
    expect(formatLocal(Date.parse('2026-03-29T01:30:00Z'), s, tz)).toBe('2026-03-29 03:30:00')
    // A day with 23 hours.
    expect(localMidnight('2026-03-30', tz) - localMidnight('2026-03-29', tz)).toBe(23 * 3_600_000)
  })

  it('reads today, 7 and 30 days and chosen ranges, falling back to today on nonsense', () => {
    const now = Date.parse('2026-03-02T15:00:00Z')
    const tz = 'America/Mexico_City'
    expect(resolveRange({}, now, tz)).toMatchObject({
      kind: 'today',
      from: '2026-03-02',
      to: '2026-03-02',
      days: 1,
    })
    expect(resolveRange({ range: '30' }, now, tz)).toMatchObject({ from: '2026-02-01', days: 30 })
    expect(
      resolveRange({ range: 'custom', from: '2026-03-05', to: '2026-03-01' }, now, tz),
    ).toMatchObject({ from: '2026-03-01', to: '2026-03-05' })
    expect(
      resolveRange({ range: 'custom', from: '2026-02-30', to: '2026-03-01' }, now, tz).kind,
    ).toBe('today')
    expect(
      resolveRange({ range: 'custom', from: '2020-01-01', to: '2026-03-01' }, now, tz).days,
    ).toBe(366)
  })
})
