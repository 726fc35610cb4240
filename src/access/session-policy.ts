import type { OpeningHours } from './config.js'
import { localDayTime } from '../time.js'

/** How long access lasts. */
export interface SessionPolicy {
  /** session.hours */
  hours: number
  /** branch.openingHours, or null when not configured. */
  openingHours: OpeningHours | null
  /** branch.timeZone (IANA). */
  timeZone: string
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
/** "09:00-14:00,16:00-19:00" as [open, close) pairs in minutes since local midnight. */
export function parseRanges(text: string): Array<[number, number]> {
  const minutes = (hm: string) => Number(hm.slice(0, 2)) * 60 + Number(hm.slice(3, 5))
  return text.split(',').map((r) => {
    const [open = '00:00', close = '00:00'] = r.split('-')
    return [minutes(open), minutes(close)]
  })
}

/**
 * When the branch closes next, if it is open at `now` (epoch ms); null when it is closed or has
 * no opening hours. Counted in local wall time from `now`: a DST change in the middle of an
 * opening range (they happen at night) would shift it by the change.
 */
export function closingTime(
  now: number,
  openingHours: OpeningHours | null,
  timeZone: string,
): number | null {
  if (!openingHours) return null
  const { weekday, msOfDay } = localDayTime(now, timeZone)
  const today = openingHours[DAYS[weekday]!]
  if (!today) return null
  for (const [open, close] of parseRanges(today)) {
    if (msOfDay >= open * 60_000 && msOfDay < close * 60_000)
      return now + (close * 60_000 - msOfDay)
  }
  return null
}

/**
 * Until when a device let through at `now` stays through: `session.hours`, cut at the branch's
 * closing time when the branch is open by its configured hours.
 */
export function sessionUntil(now: number, policy: SessionPolicy): number {
  const byHours = now + Math.round(policy.hours * 3_600_000)
  const closes = closingTime(now, policy.openingHours, policy.timeZone)
  return closes === null ? byHours : Math.min(byHours, closes)
}
