import { systemClock, type Clock } from '../clock.js'
import { SPECS } from './specs.js'
import { ConfigError } from '../config.js'
import type { VisitReportRow } from '../db/visits.js'
import { withContext } from './context.js'
import { csvField, spreadsheetPhone } from '../console/csv.js'
import { maskPhone } from '../customers/phone.js'
import { visitFigures } from '../visits/figures.js'
import { dwellMs } from '../visits/rules.js'
import { instantOfWallTime, localDate, localTime } from '../time.js'
import { UsageError } from '../errors.js'
import type { OptionSpec } from './options.js'

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Which local days to list, as epoch-ms bounds [from, to). */
export interface VisitRange {
  from: number
  to: number
  label: string
}

/** The instant local midnight starts the day `yyyy-mm-dd` in the time zone. */
export function localMidnight(day: string, timeZone: string): number {
  const m = DAY_RE.exec(day)
  if (!m) throw new UsageError('visits', `dates are written YYYY-MM-DD, got ${JSON.stringify(day)}`)
  const guess = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)
  if (Number.isNaN(guess) || new Date(guess).toISOString().slice(0, 10) !== day) {
    throw new UsageError('visits', `no such date: ${day}`)
  }
  return instantOfWallTime(guess, timeZone)
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

/** Reads `--today` or `--from DAY --to DAY` (both inclusive, local days of the branch). */
export function parseVisitRange(argv: string[], now: number, timeZone: string): VisitRange {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    if (i < 0) return undefined
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--'))
      throw new UsageError('visits', `${flag} needs a date (YYYY-MM-DD)`)
    return v
  }
  const fromArg = value('--from')
  const toArg = value('--to')
  if (argv.includes('--today') || (fromArg === undefined && toArg === undefined)) {
    if (fromArg !== undefined || toArg !== undefined)
      throw new UsageError('visits', 'use either --today or --from/--to')
    const today = localDate(now, timeZone)
    return {
      from: localMidnight(today, timeZone),
      to: localMidnight(nextDay(today), timeZone),
      label: today,
    }
  }
  const fromDay = fromArg ?? toArg!
  const toDay = toArg ?? fromArg!
  const from = localMidnight(fromDay, timeZone)
  const to = localMidnight(nextDay(toDay), timeZone)
  if (to <= from) throw new UsageError('visits', `--to (${toDay}) comes before --from (${fromDay})`)
  return { from, to, label: fromDay === toDay ? fromDay : `${fromDay} to ${toDay}` }
}

/** "1 h 05 min", "12 min", "45 s". */
export function formatDwell(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  if (minutes < 1) return `${Math.floor(ms / 1000)} s`
  if (minutes < 60) return `${minutes} min`
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}

/**
 * The visits as a table: customer, arrival, departure, dwell (local time of the branch), then a
 * summary line. Pass-bys are marked and left out of the average; open visits show as "here".
 */
export function formatVisits(
  rows: readonly VisitReportRow[],
  range: VisitRange,
  timeZone: string,
): string[] {
  const manyDays = localDate(range.from, timeZone) !== localDate(range.to - 1, timeZone)
  const table = rows.map((v) => {
    const end = v.ended_at ?? v.last_seen_at
    return [
      v.name ?? '(erased)',
      v.phone_e164 ? maskPhone(v.phone_e164) : '',
      localTime(v.started_at, timeZone, manyDays),
      v.ended_at === null ? 'here' : localTime(v.ended_at, timeZone, manyDays),
      formatDwell(dwellMs(v.started_at, end)),
      v.ended_at === null ? 'open' : v.pass_by ? 'pass-by' : '',
    ]
  })
  const head = ['CUSTOMER', 'PHONE', 'ARRIVAL', 'DEPARTURE', 'DWELL', '']
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
  const lines = [`visits ${range.label} (${timeZone}): ${rows.length}`]
  if (rows.length)
    for (const r of [head, ...table])
      lines.push(
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
  const f = visitFigures(rows)
  const avg = f.averageDwellMs === null ? '—' : formatDwell(f.averageDwellMs)
  lines.push(
    `${f.customers} customer(s); ${f.passBys} pass-by(s); average dwell ${avg} (closed visits, pass-bys left out)`,
  )
  return lines
}

/**
 * The visits as CSV for a spreadsheet: local times of the branch (YYYY-MM-DD HH:MM), dwell in
 * whole minutes, full phone number (the file is for the branch's own use).
 */
export function visitsCsv(rows: readonly VisitReportRow[], timeZone: string): string[] {
  // A cell starting with = + - @ is a formula to a spreadsheet: names are typed by guests, so such
  // cells get a leading apostrophe (OWASP's CSV-injection advice); quotes as RFC 4180 says.
  const cell = (text: string) => {
    const v = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
  }
  const lines = ['visit_id,customer_id,customer,phone,arrival,departure,dwell_minutes,pass_by,open']
  for (const v of rows) {
    const end = v.ended_at ?? v.last_seen_at
    lines.push(
      [
        v.id,
        v.customer_id === null ? '' : String(v.customer_id),
        cell(v.name ?? ''),
        // ="+52…": kept as text by spreadsheets (see spreadsheetPhone), so no apostrophe here.
        csvField(spreadsheetPhone(v.phone_e164)),
        localTime(v.started_at, timeZone, true),
        v.ended_at === null ? '' : localTime(v.ended_at, timeZone, true),
        String(Math.round(dwellMs(v.started_at, end) / 60_000)),
        // A visit still going is not a pass-by yet: the cell stays empty until it ends.
        v.ended_at === null || v.pass_by === null ? '' : String(v.pass_by),
        v.ended_at === null ? '1' : '0',
      ].join(','),
    )
  }
  return lines
}

/** `branchgate visits`: what happened at the branch, from the database. */
export const visitsCommand = {
  ...SPECS.visits,
  async run(
    argv: string[],
    env: NodeJS.ProcessEnv,
    out: (line: string) => void = console.log,
    clock: Clock = systemClock,
  ) {
    try {
      return await withContext(
        argv,
        env,
        (ctx) => {
          const tz = ctx.config.branch.timeZone
          const range = parseVisitRange(argv, clock.now(), tz)
          const rows = ctx.services.visitRows.between(range.from, range.to)
          const lines = argv.includes('--csv') ? visitsCsv(rows, tz) : formatVisits(rows, range, tz)
          for (const line of lines) out(line)
          return 0
        },
        { clock },
      )
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`branchgate: ${err.message}`)
        return 2
      }
      throw err
    }
  },
}
