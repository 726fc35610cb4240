import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { parsePhone, type PhoneRules } from '../customers/phone.js'
import { CsvSyntaxError, parseCsv } from './csv.js'
import { fold } from './customers.js'
import { instantOfWallTime } from '../time.js'

/** A refused row of an import: its line in the file (0: the whole file) and why (a message key and values). */
export interface ImportProblem {
  line: number
  key: string
  value?: string
}

export type ImportResult =
  { ok: true; rows: number; added: number; duplicates: number; campaigns: string[] } | ImportRefusal

/** A file refused whole: its first problems by line, how many more, and the HTTP status. */
export interface ImportRefusal {
  ok: false
  problems: ImportProblem[]
  /** Problems found beyond the ones listed. */
  more: number
  status: 413 | 422
}

/** One promotion sent, as read from a checked file. */
export interface CampaignSend {
  campaign: string
  phone: string
  sentAt: number
}

/** What one import accepts: a bigger file is split by the manager (repeats are skipped). */
export const IMPORT_MAX_ROWS = 100_000
export const IMPORT_MAX_BYTES = 4 * 1024 * 1024
/** Problems listed for a refused file; a file wrong throughout is not a page of 100,000 lines. */
const PROBLEMS_LISTED = 100
/**
 * Rows checked (~50 µs each, mostly libphonenumber) or written (~10 µs each) between two turns
 * given back to the event loop: a few milliseconds of work at a time when the import runs on the
 * portal's thread.
 */
const CHECK_CHUNK_ROWS = 200
const WRITE_CHUNK_ROWS = 250

/** Lets the event loop answer what is waiting (sockets, timers) before the next chunk. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

const HEADERS: Record<'phone' | 'campaign' | 'sent_at', string[]> = {
  phone: ['phone', 'telefono', 'celular', 'movil', 'numero'],
  campaign: ['campaign', 'campana', 'promocion'],
  sent_at: ['sent_at', 'sent', 'enviado', 'fecha_envio', 'fecha', 'date'],
}

/**
 * When a promotion was sent: ISO 8601 with a zone, or a branch-local date and time written
 * YYYY-MM-DD[ HH:MM[:SS]] or DD/MM/YYYY[ HH:MM[:SS]]. Null when unreadable.
 */
export function parseSentAt(text: string, timeZone: string): number | null {
  const t = text.trim()
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    const ms = Date.parse(t)
    return Number.isNaN(ms) ? null : ms
  }
  let m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(t)
  let parts: number[] | null = m
    ? [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0))
    : null
  if (!parts) {
    m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(t)
    if (m) parts = [m[3], m[2], m[1], m[4], m[5], m[6]].map((x) => Number(x ?? 0))
  }
  if (!parts) return null
  const [y, mo, d, h, mi, s] = parts as [number, number, number, number, number, number]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null
  const wall = Date.UTC(y, mo - 1, d, h, mi, s)
  if (new Date(wall).getUTCDate() !== d) return null
  return instantOfWallTime(wall, timeZone)
}

/** The refusal of a file over IMPORT_MAX_ROWS or IMPORT_MAX_BYTES. */
export function tooBigImport(): ImportRefusal {
  return {
    ok: false,
    problems: [{ line: 0, key: 'campaigns.err.tooBig' }],
    more: 0,
    status: 413,
  }
}

/**
 * Reads and checks a campaign CSV (header row: phone, campaign, sent_at; Spanish names accepted)
 * without writing anything. Every row is checked; the first problems are listed by line. Gives
 * the event loop a turn every few hundred rows (`pause`), so that even on the portal's thread a
 * big file does not hold guests up for long.
 */
export async function checkCampaignCsv(
  text: string,
  rules: { phoneRules: PhoneRules; timeZone: string },
  pause: () => Promise<void> = yieldToEventLoop,
): Promise<{ ok: true; rows: CampaignSend[] } | ImportRefusal> {
  const refuse = (problems: ImportProblem[], more = 0, status: 413 | 422 = 422) =>
    ({ ok: false, problems, more, status }) as const
  if (Buffer.byteLength(text) > IMPORT_MAX_BYTES) return tooBigImport()
  let records
  try {
    records = parseCsv(text)
  } catch (err) {
    if (err instanceof CsvSyntaxError)
      return refuse([{ line: err.line, key: 'campaigns.err.syntax' }])
    throw err
  }
  const [header, ...body] = records
  if (!header) return refuse([{ line: 1, key: 'campaigns.err.empty' }])
  if (body.length > IMPORT_MAX_ROWS) return tooBigImport()
  const names = header.fields.map((f) => fold(f.trim()).replace(/\s+/g, '_'))
  const col = (k: keyof typeof HEADERS) => names.findIndex((n) => HEADERS[k].includes(n))
  const cols = { phone: col('phone'), campaign: col('campaign'), sent_at: col('sent_at') }
  if (cols.phone < 0 || cols.campaign < 0 || cols.sent_at < 0) {
    return refuse([{ line: header.line, key: 'campaigns.err.header' }])
  }
  if (body.length === 0) return refuse([{ line: header.line, key: 'campaigns.err.empty' }])
  const problems: ImportProblem[] = []
  let found = 0
  const problem = (p: ImportProblem) => {
    if (++found <= PROBLEMS_LISTED) problems.push(p)
  }
  // A file of sends repeats a few dates many times; reading one costs two time-zone lookups.
  const dates = new Map<string, number | null>()
  const rows: CampaignSend[] = []
  for (let i = 0; i < body.length; i++) {
    if (i > 0 && i % CHECK_CHUNK_ROWS === 0) await pause()
    const r = body[i]!
    const phoneText = r.fields[cols.phone]?.trim() ?? ''
    const campaign = (r.fields[cols.campaign] ?? '').trim()
    const sentText = (r.fields[cols.sent_at] ?? '').trim()
    const phone = parsePhone(phoneText, rules.phoneRules)
    let sentAt = dates.get(sentText)
    if (sentAt === undefined) {
      sentAt = parseSentAt(sentText, rules.timeZone)
      if (dates.size < 10_000) dates.set(sentText, sentAt)
    }
    if (!phone.ok)
      problem({ line: r.line, key: `campaigns.err.phone.${phone.reason}`, value: phoneText })
    if (campaign === '' || campaign.length > 80)
      problem({ line: r.line, key: 'campaigns.err.campaign', value: campaign })
    if (sentAt === null) problem({ line: r.line, key: 'campaigns.err.sentAt', value: sentText })
    if (phone.ok && sentAt !== null && campaign !== '' && campaign.length <= 80) {
      rows.push({ campaign, phone: phone.e164, sentAt })
    }
  }
  if (found) return refuse(problems, found - problems.length)
  return { ok: true, rows }
}

export interface CampaignDeps {
  db: Db
  clock: Clock
  audit: AuditStatements
  phoneRules: PhoneRules
  timeZone: string
  passByMinutes: number
  /** Minutes since last seen for an open visit's customer to count as here now (console.hereNowMinutes). */
  hereNowMinutes: number
  /** Turn given back to the event loop between chunks of an import (default: setImmediate). */
  pause?: () => Promise<void>
  /** Told after each chunk of rows is written (tests follow an import with it). */
  onChunkWritten?: (written: number) => void
}

export interface WalkIn {
  phone_e164: string
  sent_at: number
  customer_id: number | null
  name: string | null
  visited_at: number | null
}

export interface CampaignReport {
  campaign: string
  recipients: number
  walkIns: number
  /** walkIns / recipients, 0–1. */
  rate: number
  medianDaysToVisit: number | null
  firstSentAt: number
  lastSentAt: number
  /** Recipients who came, with their first visit after the send: the first WALK_INS_LISTED. */
  visits: WalkIn[]
  /** Walk-ins beyond the ones listed. */
  moreVisits: number
}

/**
 * Walk-ins listed on a campaign's page: 30,000 rows were 4 MB of HTML and a second of the
 * portal's thread to render; the figures above the list count them all.
 */
export const WALK_INS_LISTED = 500

/** Campaign sends imported from CSV, and the walk-ins they brought. */
export function createCampaigns(deps: CampaignDeps) {
  const { db } = deps
  const insert = db.prepare(
    `INSERT INTO campaign_sends (campaign, phone_e164, sent_at, imported_at, imported_by)
     VALUES (@campaign, @phone, @sentAt, @now, @actor) ON CONFLICT DO NOTHING`,
  )
  const list = db.prepare(
    `SELECT campaign, MIN(sent_at) AS firstSentAt, MAX(sent_at) AS lastSentAt FROM campaign_sends
     GROUP BY campaign ORDER BY lastSentAt DESC`,
  )
  // Each recipient's first send of the campaign, and their first real visit within the window:
  // one that has lasted visits.minMinutes, ended or not. A visit still going whose customer is
  // "here now" (seen within console.hereNowMinutes, as on the dashboard) has lasted until now.
  const recipients = db.prepare(`
    WITH r AS (
      SELECT phone_e164, MIN(sent_at) AS sent_at FROM campaign_sends WHERE campaign = @campaign GROUP BY phone_e164
    )
    SELECT r.phone_e164, r.sent_at, c.id AS customer_id, c.name,
      (SELECT MIN(v.started_at) FROM visits v
        WHERE v.customer_id = c.id AND v.started_at >= r.sent_at AND v.started_at < r.sent_at + @windowMs
          AND CASE
                WHEN v.ended_at IS NOT NULL THEN v.ended_at
                WHEN v.last_seen_at >= @hereSince THEN MAX(v.last_seen_at, @now)
                ELSE v.last_seen_at
              END - v.started_at >= @minMs) AS visited_at
    FROM r LEFT JOIN customers c ON c.phone_e164 = r.phone_e164 AND c.erased_at IS NULL
    ORDER BY visited_at IS NULL, visited_at`)

  const writeChunk = db.transaction((rows: CampaignSend[], actor: string, now: number) => {
    let added = 0
    for (const r of rows) added += insert.run({ ...r, now, actor }).changes
    return added
  })
  const pause = deps.pause ?? yieldToEventLoop

  return {
    /**
     * Writes the rows of a checked file (checkCampaignCsv), 250 per transaction with a turn of
     * the event loop between them: 100,000 rows are a second of writing, which guests
     * must not wait behind. Repeats are skipped, so a file cut short by a crash is imported
     * again whole. Audit-logged once, with the totals.
     */
    async importRows(rows: readonly CampaignSend[], actor: string): Promise<ImportResult> {
      const now = deps.clock.now()
      let added = 0
      for (let i = 0; i < rows.length; i += WRITE_CHUNK_ROWS) {
        if (i > 0) await pause()
        added += writeChunk(rows.slice(i, i + WRITE_CHUNK_ROWS), actor, now)
        deps.onChunkWritten?.(Math.min(i + WRITE_CHUNK_ROWS, rows.length))
      }
      const campaigns = [...new Set(rows.map((r) => r.campaign))]
      deps.audit.record({
        at: now,
        actor,
        action: 'campaign.import',
        detail: { rows: rows.length, added, campaigns },
      })
      return { ok: true, rows: rows.length, added, duplicates: rows.length - added, campaigns }
    },

    /** Every campaign with its walk-in figures for a window of `days` after each send. */
    reports(days: number, now = deps.clock.now()): CampaignReport[] {
      return (
        list.all() as Array<{ campaign: string; firstSentAt: number; lastSentAt: number }>
      ).map((c) => this.report(c.campaign, days, now, c)) as CampaignReport[]
    },

    /** `now` decides who is "here now"; the worker thread is given the console's clock reading. */
    report(
      campaign: string,
      days: number,
      now = deps.clock.now(),
      span?: { firstSentAt: number; lastSentAt: number },
    ): CampaignReport | null {
      const rows = recipients.all({
        campaign,
        windowMs: days * 86_400_000,
        minMs: deps.passByMinutes * 60_000,
        now,
        hereSince: now - deps.hereNowMinutes * 60_000,
      }) as WalkIn[]
      if (rows.length === 0) return null
      const came = rows.filter((r) => r.visited_at !== null)
      const delays = came.map((r) => (r.visited_at! - r.sent_at) / 86_400_000).sort((a, b) => a - b)
      const mid = delays.length / 2
      const medianDays = delays.length
        ? delays.length % 2
          ? delays[Math.floor(mid)]!
          : (delays[mid - 1]! + delays[mid]!) / 2
        : null
      const sent = rows.map((r) => r.sent_at)
      return {
        campaign,
        recipients: rows.length,
        walkIns: came.length,
        rate: came.length / rows.length,
        medianDaysToVisit: medianDays,
        firstSentAt: span?.firstSentAt ?? Math.min(...sent),
        lastSentAt: span?.lastSentAt ?? Math.max(...sent),
        visits: came.slice(0, WALK_INS_LISTED),
        moreVisits: Math.max(0, came.length - WALK_INS_LISTED),
      }
    },
  }
}
export type Campaigns = ReturnType<typeof createCampaigns>
