/**
 * Branch-local time. Everything is stored as UTC epoch milliseconds; the branch speaks in its own
 * days and hours (`branch.timeZone`). One place computes zone offsets, so reports, the SMS budget
 * and the CLI agree on where a local day starts, across DST changes.
 */

const HOUR = 3_600_000
const DAY = 24 * HOUR

// Building an Intl formatter costs far more than using one: keep one per zone.
const formatters = new Map<string, Intl.DateTimeFormat>()

function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** Milliseconds to add to a UTC instant to get the wall-clock time of `timeZone` at that instant. */
export function offsetAt(ms: number, timeZone: string): number {
  const p: Record<string, number> = {}
  for (const part of wallClockFormat(timeZone).formatToParts(ms)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value)
  }
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!)
  return wall - Math.floor(ms / 1000) * 1000
}

/** The UTC instant at which the wall clock of `timeZone` shows `wall` (a wall time read as UTC). */
export function instantOfWallTime(wall: number, timeZone: string): number {
  // Twice: the offset at the guess may differ from the offset at the answer across a DST change.
  const guess = wall - offsetAt(wall, timeZone)
  return wall - offsetAt(guess, timeZone)
}

function computeStartOfDay(now: number, timeZone: string): number {
  const wall = now + offsetAt(now, timeZone)
  return instantOfWallTime(wall - (((wall % (24 * HOUR)) + 24 * HOUR) % (24 * HOUR)), timeZone)
}

// The SMS budget asks on every code sent; an answer holds for the whole local day.
const lastDay = new Map<string, { start: number; next: number }>()

function localDay(now: number, timeZone: string): { start: number; next: number } {
  const known = lastDay.get(timeZone)
  if (known && now >= known.start && now < known.next) return known
  const start = computeStartOfDay(now, timeZone)
  const day = { start, next: computeStartOfDay(start + 36 * HOUR, timeZone) }
  if (lastDay.size > 16) lastDay.clear()
  lastDay.set(timeZone, day)
  return day
}

/** Epoch ms of the start of the local calendar day containing `now` in `timeZone`. */
export function startOfLocalDay(now: number, timeZone: string): number {
  return localDay(now, timeZone).start
}

/** Epoch ms when the next local day starts. */
export function startOfNextLocalDay(now: number, timeZone: string): number {
  return localDay(now, timeZone).next
}

/** Weekday (0 = Sunday) and milliseconds since local midnight of an instant in a time zone. */
export function localDayTime(ms: number, timeZone: string): { weekday: number; msOfDay: number } {
  const wall = ms + offsetAt(ms, timeZone)
  const msOfDay = ((wall % DAY) + DAY) % DAY
  return { weekday: new Date(wall - msOfDay).getUTCDay(), msOfDay }
}

// Formatters for people: one per (language, zone, style), built once.
const peopleFormats = new Map<string, Intl.DateTimeFormat>()

/**
 * A cached Intl formatter of branch-local time: `locale` is a BCP 47 tag ('es-MX', 'en-US', or
 * 'sv-SE' for the machine-readable `2026-03-02 09:00`), `options` the Intl style.
 */
export function branchTimeFormat(
  locale: string,
  timeZone: string,
  options: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  const key = `${locale} ${timeZone} ${JSON.stringify(options)}`
  let f = peopleFormats.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { ...options, timeZone })
    if (peopleFormats.size > 256) peopleFormats.clear()
    peopleFormats.set(key, f)
  }
  return f
}

const ISO_DATE: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit' }
const ISO_TIME: Intl.DateTimeFormatOptions = {
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
}

/** The branch's local date of an instant, `2026-03-02` (commands, CSV, file names). */
export function localDate(ms: number, timeZone: string): string {
  return branchTimeFormat('sv-SE', timeZone, ISO_DATE).format(ms)
}

/** The branch's local time of an instant, `2026-03-02 09:00`, or `09:00` without the date. */
export function localTime(ms: number, timeZone: string, withDate = true): string {
  return branchTimeFormat(
    'sv-SE',
    timeZone,
    withDate ? { ...ISO_DATE, ...ISO_TIME } : ISO_TIME,
  ).format(ms)
}
