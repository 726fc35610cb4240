import type { Db } from '../db/open.js'
import {
  UTF8_BOM,
  csvField,
  csvLine,
  spreadsheetPhone,
  spreadsheetSafe,
  type CsvDelimiter,
} from './csv.js'
import { localClock, offsetSegments, type DateRange } from './time.js'
import { visitStanding } from '../visits/rules.js'
import { localTime } from '../time.js'

export interface VisitsExportOptions {
  range: DateRange
  timeZone: string
  passByMinutes: number
  delimiter?: CsvDelimiter
  /** Column titles, in the reader's language. */
  header?: readonly string[]
  /** Rows read from SQLite per chunk written to the stream. */
  pageSize?: number
}

export const VISITS_CSV_HEADER = [
  'visit_id',
  'started_local',
  'ended_local',
  'last_seen_local',
  'dwell_minutes',
  'pass_by',
  'staff',
  'customer_id',
  'customer_name',
  'phone',
  'end_reason',
] as const

interface VisitExportRow {
  id: string
  started_at: number
  last_seen_at: number
  ended_at: number | null
  end_reason: string | null
  customer_id: number | null
  name: string | null
  phone_e164: string | null
  erased_at: number | null
  /** Only in the visit list query. */
  staff?: number
}

// Keyset pages over visits_console (started_at, id): the row value is the index's lower bound, so
// each page starts where the last one ended. (With `started_at >= @from` as the bound, as the
// planner chose when both were written plainly, every page walked the index from the range's
// start again: a year's export read 3.3 million index entries for 182,500 rows.) The range's
// start stays a filter only (`+`), and the first page starts just before it.
export const VISIT_PAGE = `FROM visits v LEFT JOIN customers c ON c.id = v.customer_id
    WHERE (v.started_at, v.id) > (@afterStart, @afterId) AND v.started_at < @to
      AND +v.started_at >= @from
    ORDER BY v.started_at, v.id
    LIMIT @limit`

/** Bytes of one chunk of the export (some 1,700 lines of ~150 bytes; a page may take several). */
const CHUNK_BYTES = 256 << 10

/**
 * The visits of a range as CSV (RFC 4180, UTF-8 with BOM, branch-local times), streamed.
 * Each pull reads one page by keyset (started_at, id), so no statement stays open between pulls
 * (better-sqlite3 would refuse other queries meanwhile) and a year of visits never sits in
 * memory.
 */
export function visitsCsvStream(db: Db, opts: VisitsExportOptions): ReadableStream<Uint8Array> {
  // Rows as arrays (`.raw()`): no object with nine named properties per visit.
  const page = db
    .prepare(
      `SELECT v.id, v.started_at, v.last_seen_at, v.ended_at, v.end_reason, v.customer_id,
              c.name, c.phone_e164, c.erased_at
       ${VISIT_PAGE}`,
    )
    .raw()
  // Staff are few: read them once rather than probing devices for every row.
  const staff = new Set(
    (
      db
        .prepare(
          `SELECT DISTINCT customer_id FROM devices WHERE is_staff = 1 AND customer_id IS NOT NULL`,
        )
        .all() as Array<{ customer_id: number }>
    ).map((r) => r.customer_id),
  )
  const d = opts.delimiter ?? ','
  const limit = opts.pageSize ?? 5000
  const minMs = opts.passByMinutes * 60_000
  // A day past the range: visits started on its last day end after it.
  const segments = offsetSegments(opts.range.fromMs, opts.range.toMs + 86_400_000, opts.timeZone)
  const local = localClock(segments, opts.timeZone)
  let afterStart = opts.range.fromMs - 1
  let afterId = ''
  let started = false
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        // Each line is written into the chunk's bytes as it is made: no string of the whole
        // page to join, flatten and encode again (that was a sixth of the export's CPU).
        let chunk = Buffer.allocUnsafe(CHUNK_BYTES)
        let at = 0
        const write = (line: string) => {
          // UTF-8 takes at most 3 bytes per UTF-16 unit.
          if (at + line.length * 3 > chunk.length) {
            if (at > 0) controller.enqueue(chunk.subarray(0, at))
            chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, line.length * 3))
            at = 0
          }
          at += chunk.write(line, at)
        }
        if (!started) {
          write(UTF8_BOM + csvLine(opts.header ?? VISITS_CSV_HEADER, d))
          started = true
        }
        const rows = page.all({
          from: opts.range.fromMs,
          to: opts.range.toMs,
          afterStart,
          afterId,
          limit,
        }) as VisitExportCells[]
        for (const [
          id,
          startedAt,
          lastSeenAt,
          endedAt,
          endReason,
          customerId,
          name,
          phone,
          erasedAt,
        ] of rows) {
          const dwell = (endedAt ?? lastSeenAt) - startedAt
          // A visit still going is not a pass-by yet: its pass_by cell stays empty until it ends.
          const standing = visitStanding(startedAt, endedAt, { minMs })
          // The cells as csvLine writes them; only text from the database may need quotes.
          write(
            csvField(id, d) +
              d +
              local(startedAt) +
              d +
              (endedAt === null ? '' : local(endedAt)) +
              d +
              local(lastSeenAt) +
              d +
              (dwell / 60_000).toFixed(1) +
              d +
              (standing === 'open' ? '' : standing === 'pass-by' ? '1' : '0') +
              d +
              (customerId !== null && staff.has(customerId) ? '1' : '0') +
              d +
              (customerId === null ? '' : String(customerId)) +
              d +
              (erasedAt ? '' : csvField(spreadsheetSafe(name ?? ''), d)) +
              d +
              (erasedAt ? '' : csvField(spreadsheetPhone(phone), d)) +
              d +
              csvField(endReason, d) +
              '\r\n',
          )
        }
        const last = rows[rows.length - 1]
        if (last) {
          afterStart = last[1]
          afterId = last[0]
        }
        if (at > 0) controller.enqueue(chunk.subarray(0, at))
        if (rows.length < limit) controller.close()
      },
    },
    { highWaterMark: 1 },
  )
}

/** A row of the export's page, as `.raw()` gives it (the columns in SELECT order). */
type VisitExportCells = [
  id: string,
  startedAt: number,
  lastSeenAt: number,
  endedAt: number | null,
  endReason: string | null,
  customerId: number | null,
  name: string | null,
  phone: string | null,
  erasedAt: number | null,
]

export interface VisitListRow {
  id: string
  started_at: number
  last_seen_at: number
  ended_at: number | null
  end_reason: string | null
  customer_id: number | null
  name: string | null
  erased: boolean
  staff: boolean
  dwellMinutes: number
  /** Still going: no end yet, so not a pass-by whatever its length so far. */
  open: boolean
  /** Ended, and shorter than visits.minMinutes. */
  passBy: boolean
}

/** The visits of a range one page at a time (keyset on started_at, id), for checking figures by hand. */
export function createVisitList(db: Db, passByMinutes: number) {
  const page = db.prepare(`
    SELECT v.id, v.started_at, v.last_seen_at, v.ended_at, v.end_reason, v.customer_id,
           c.name, c.erased_at,
           EXISTS (SELECT 1 FROM devices d WHERE d.customer_id = v.customer_id AND d.is_staff = 1) AS staff
    ${VISIT_PAGE}`)
  return (range: DateRange, after: { start: number; id: string } | null, limit = 100) => {
    const rows = page.all({
      from: range.fromMs,
      to: range.toMs,
      afterStart: after?.start ?? range.fromMs - 1,
      afterId: after?.id ?? '',
      limit: limit + 1,
    }) as VisitExportRow[]
    const more = rows.length > limit
    const list: VisitListRow[] = rows.slice(0, limit).map((r) => {
      const dwell = (r.ended_at ?? r.last_seen_at) - r.started_at
      const standing = visitStanding(r.started_at, r.ended_at, {
        minMs: passByMinutes * 60_000,
      })
      return {
        id: r.id,
        started_at: r.started_at,
        last_seen_at: r.last_seen_at,
        ended_at: r.ended_at,
        end_reason: r.end_reason,
        customer_id: r.customer_id,
        name: r.erased_at ? null : r.name,
        erased: r.erased_at !== null,
        staff: r.staff === 1,
        dwellMinutes: dwell / 60_000,
        open: standing === 'open',
        passBy: standing === 'pass-by',
      }
    })
    const last = list[list.length - 1]
    return { rows: list, next: more && last ? `${last.started_at}.${last.id}` : null }
  }
}
export type VisitList = ReturnType<typeof createVisitList>

/**
 * The customers who accept offers now (issue 15), as CSV for the marketing team: the latest
 * consent of each has marketing and is not withdrawn; blocked (erased) customers are never in
 * it. Small (one row per customer), so built at once.
 */
export function marketingCsv(
  db: Db,
  opts: { timeZone: string; header: readonly string[]; delimiter?: CsvDelimiter },
): string {
  const rows = db
    .prepare(
      `SELECT c.phone_e164, c.name, c.locale, k.given_at, k.notice_version
       FROM customers c
       JOIN consents k ON k.id = (SELECT id FROM consents WHERE customer_id = c.id
                                  ORDER BY given_at DESC, id DESC LIMIT 1)
       WHERE c.erased_at IS NULL AND k.withdrawn_at IS NULL
         AND EXISTS (SELECT 1 FROM json_each(k.purposes) WHERE value = 'marketing')
       ORDER BY c.id`,
    )
    .all() as Array<{
    phone_e164: string
    name: string
    locale: string
    given_at: number
    notice_version: string
  }>
  const delimiter = opts.delimiter ?? ','
  let out = UTF8_BOM + csvLine(opts.header, delimiter)
  for (const r of rows) {
    out += csvLine(
      [
        spreadsheetPhone(r.phone_e164),
        spreadsheetSafe(r.name),
        r.locale,
        localTime(r.given_at, opts.timeZone),
        spreadsheetSafe(r.notice_version),
      ],
      delimiter,
    )
  }
  return out
}
