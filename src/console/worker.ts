import { readFileSync } from 'node:fs'
import { atRoot, COMPILED } from '../paths.js'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { systemClock } from '../clock.js'
import { auditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import type { PhoneRules } from '../customers/phone.js'
import {
  checkCampaignCsv,
  createCampaigns,
  yieldToEventLoop,
  type CampaignReport,
  type CampaignSend,
  type ImportRefusal,
} from './campaigns.js'
import { createCustomerDesk, type CustomerSummary } from './customers.js'
import { createDashboard, type DashboardFigures, type VisitReportRules } from './dashboard.js'
import { visitsCsvStream, type VisitsExportOptions } from './exports.js'
import { formFields } from './form.js'
import { createTrends, type TrendDays, type Trends } from './trends.js'
import type { DateRange } from './time.js'

/** What the console's long work needs to know besides the database (from the config). */
export interface WorkRules {
  dashboard: VisitReportRules
  campaigns: {
    phoneRules: PhoneRules
    timeZone: string
    passByMinutes: number
    hereNowMinutes: number
  }
}

export type CampaignCsvCheck = { ok: true; rows: CampaignSend[] } | ImportRefusal

/**
 * Where the console's long work runs: the dashboard of a year (hundreds of milliseconds of SQL),
 * the campaign reports over 100,000 recipients, the check of a 100,000-row import (5 s of phone
 * parsing), a year's CSV export (seconds). The portal shares the process; on its thread that
 * work would keep guests waiting for as long. Writes stay on the portal's connection (one
 * writer; the import writes in chunks, see Campaigns.importRows).
 */
export interface ConsoleWorker {
  figures(range: DateRange, now: number): Promise<DashboardFigures>
  /** The trends page's period and the one before it (issue 18). */
  trends(days: TrendDays, now: number): Promise<Trends>
  /** Customers by phone or name (a name search reads every customer). */
  searchCustomers(query: string): Promise<CustomerSummary[]>
  campaignReports(days: number, now: number): Promise<CampaignReport[]>
  campaignReport(campaign: string, days: number, now: number): Promise<CampaignReport | null>
  /**
   * The fields of a multipart form post (uploaded files as UTF-8 text); a malformed body reads
   * as empty. Parsing a 4 MB upload is ~100 ms of JavaScript.
   */
  readMultipart(body: ArrayBuffer, contentType: string): Promise<Record<string, string>>
  /** Reads and checks an import; writes nothing. */
  checkCampaignCsv(text: string): Promise<CampaignCsvCheck>
  /** The visits CSV of a range, pulled chunk by chunk. */
  visitsCsv(opts: VisitsExportOptions): ReadableStream<Uint8Array>
  /** Ends the thread, if any; later calls start it again. */
  close(): Promise<void>
  /** Whether a thread runs now (always false inline). */
  running(): boolean
}

/** Builds a ConsoleWorker over the database (the composition root picks one). */
export type ConsoleWorkerFactory = (
  db: Db,
  rules: WorkRules,
  log: (line: string) => void,
  /** ms without long work after which a thread is ended (default THREAD_IDLE_MS). */
  idleMs?: number,
) => ConsoleWorker

/** The work itself, over one connection: what both kinds of worker run. */
export function workOn(db: Db, rules: WorkRules) {
  const dashboard = createDashboard(db, rules.dashboard)
  const trends = createTrends(db, dashboard, rules.dashboard.timeZone)
  // Only its search runs here: a name search folds every customer's name in JavaScript.
  const customers = createCustomerDesk({
    db,
    clock: systemClock,
    audit: auditStatements(db),
    erasure: null,
    phoneRules: rules.campaigns.phoneRules,
  })
  const campaigns = createCampaigns({
    db,
    clock: systemClock,
    audit: auditStatements(db),
    ...rules.campaigns,
  })
  return {
    figures: (range: DateRange, now: number) => dashboard.figures(range, now),
    trends: (days: TrendDays, now: number) => trends.trends(days, now),
    searchCustomers: (query: string) => customers.search(query),
    campaignReports: (days: number, now: number) => campaigns.reports(days, now),
    campaignReport: (campaign: string, days: number, now: number) =>
      campaigns.report(campaign, days, now),
    readMultipart: (body: ArrayBuffer, contentType: string) => formFields(body, contentType),
    checkCampaignCsv: (text: string) => checkCampaignCsv(text, rules.campaigns),
    visitsCsv: (opts: VisitsExportOptions) => visitsCsvStream(db, opts),
  }
}
type Work = ReturnType<typeof workOn>

/** On the portal's own thread: for tests and an in-memory database. Freezes guests meanwhile. */
export const inlineConsoleWorker: ConsoleWorkerFactory = (db, rules) => {
  const work = workOn(db, rules)
  return {
    figures: async (range, now) => work.figures(range, now),
    trends: async (days, now) => work.trends(days, now),
    searchCustomers: async (query) => work.searchCustomers(query),
    campaignReports: async (days, now) => work.campaignReports(days, now),
    campaignReport: async (campaign, days, now) => work.campaignReport(campaign, days, now),
    readMultipart: (body, contentType) => work.readMultipart(body, contentType),
    checkCampaignCsv: (text) => work.checkCampaignCsv(text),
    visitsCsv: (opts) => work.visitsCsv(opts),
    close: async () => {},
    running: () => false,
  }
}

/**
 * Checked sends packed for the trip between threads. Structured-cloning 100,000 small objects
 * held the portal's thread for over 400 ms in one block while it read them; three typed arrays
 * (moved, not copied) and one string cost it a few milliseconds.
 */
export interface PackedSends {
  campaigns: string[]
  campaignIndex: Uint32Array
  /** The E.164 numbers joined by "\n". */
  phones: string
  sentAt: Float64Array
}

export function packSends(rows: readonly CampaignSend[]): PackedSends {
  const campaigns: string[] = []
  const index = new Map<string, number>()
  const campaignIndex = new Uint32Array(rows.length)
  const sentAt = new Float64Array(rows.length)
  rows.forEach((r, i) => {
    let c = index.get(r.campaign)
    if (c === undefined) index.set(r.campaign, (c = campaigns.push(r.campaign) - 1))
    campaignIndex[i] = c
    sentAt[i] = r.sentAt
  })
  return { campaigns, campaignIndex, phones: rows.map((r) => r.phone).join('\n'), sentAt }
}

/** Unpacks on the portal's thread a few thousand rows at a time, with a turn in between. */
export async function unpackSends(
  p: PackedSends,
  pause: () => Promise<void> = yieldToEventLoop,
): Promise<CampaignSend[]> {
  const rows: CampaignSend[] = new Array(p.sentAt.length)
  let start = 0
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % 5000 === 0) await pause()
    const end = p.phones.indexOf('\n', start)
    rows[i] = {
      campaign: p.campaigns[p.campaignIndex[i]!]!,
      phone: p.phones.slice(start, end === -1 ? undefined : end),
      sentAt: p.sentAt[i]!,
    }
    start = end + 1
  }
  return rows
}

type Call = {
  [K in Exclude<keyof Work, 'visitsCsv'>]: { op: K; args: Parameters<Work[K]> }
}[Exclude<keyof Work, 'visitsCsv'>]
/** A message to the thread. */
export type ToThread =
  | ({ id: number } & Call)
  | { id: number; op: 'csv.open'; args: [VisitsExportOptions] }
  | { id: number; op: 'csv.next'; stream: number }
  | { id: number; op: 'csv.close'; stream: number }
type Request = ToThread extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never
/** A message from the thread: `ready` once, then one answer per request. */
export type FromThread =
  | { ready: true }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string }

// Compiled, the thread runs dist/console-worker.js (a bundle of worker-thread.ts). From src/
// (the tests), it runs TypeScript: tsx's ESM API, found by its package's own export map, is
// registered first.
const BOOT = `
const { workerData } = require('node:worker_threads')
import(workerData.tsx).then((m) => { m.register(); return import(workerData.entry) })
`

function tsxApiUrl(): string {
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json')
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
    exports: Record<string, { import: { default: string } }>
  }
  return pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default))
    .href
}

/**
 * In a worker thread with its own read-only connection to the database file (WAL: it reads
 * while the portal writes). Why a thread and not chunks that yield on the portal's thread, as
 * measured by `npm run bench -- console` (182,500 visits; /healthz p99 while the work runs,
 * 4 ms idle): importing 100,000 rows, 12 ms in the thread against 1,300 ms on the portal's
 * thread even with the check and the writes in chunks (parsing the 4 MB CSV and the campaign
 * reports' SQL cannot be cut); the year's CSV export, 9 ms against 3,200 ms (a stream's pulls
 * follow each other without a turn of the event loop); the year's dashboard, 9 ms against
 * 500 ms (single SQL statements). The thread also puts the box's second core to work. Started
 * by the first long work and ended after THREAD_IDLE_MS without any; if it cannot start, the
 * work runs inline (logged) so the console still answers.
 */
/** Milliseconds without long work after which the console's thread is ended. */
export const THREAD_IDLE_MS = 5 * 60_000

export const threadConsoleWorker: ConsoleWorkerFactory = (
  db,
  rules,
  log,
  idleMs = THREAD_IDLE_MS,
) => {
  const inline = inlineConsoleWorker(db, rules, log)
  let worker: Worker | null = null
  let ready: Promise<void> | null = null
  let failedToStart = false
  let nextId = 1
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  // The thread is started by the first long work and ended after THREAD_IDLE_MS without any: a
  // second V8 instance costs some 12 MB the box needs for nothing while no manager looks.
  let openStreams = 0
  let idleTimer: NodeJS.Timeout | null = null
  const settle = () => {
    if (idleTimer) clearTimeout(idleTimer)
    idleTimer = null
    if (pending.size > 0 || openStreams > 0 || !worker) return
    idleTimer = setTimeout(() => {
      const w = worker
      if (!w || pending.size > 0 || openStreams > 0) return
      worker = null
      ready = null
      void w.terminate()
    }, idleMs)
    idleTimer.unref()
  }

  const stopAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err)
    pending.clear()
    worker = null
    ready = null
  }

  function start(): Promise<void> {
    if (ready) return ready
    const w = COMPILED
      ? new Worker(atRoot('dist/console-worker.js'), { workerData: { file: db.name, rules } })
      : new Worker(BOOT, {
          eval: true,
          workerData: {
            tsx: tsxApiUrl(),
            entry: new URL('./worker-thread.ts', import.meta.url).href,
            file: db.name,
            rules,
          },
        })
    worker = w
    // The thread never keeps the process alive on its own (SIGTERM closes it anyway).
    w.unref()
    ready = new Promise<void>((resolve, reject) => {
      let started = false
      w.on('message', (m: FromThread) => {
        if ('ready' in m) {
          started = true
          resolve()
          return
        }
        const p = pending.get(m.id)
        if (!p) return
        pending.delete(m.id)
        if (m.ok) p.resolve(m.value)
        else p.reject(new Error(m.error))
        settle()
      })
      const fail = (err: Error) => {
        if (worker !== w) return
        log(`console: worker thread ${started ? 'stopped' : 'could not start'}: ${err.message}`)
        if (!started) {
          failedToStart = true
          reject(err)
        }
        stopAll(err)
      }
      w.on('error', fail)
      w.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
    })
    ready.catch(() => {})
    return ready
  }

  async function call<T>(message: Request): Promise<T> {
    await start()
    const w = worker
    if (!w) throw new Error('console worker thread stopped')
    const id = nextId++
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      // A posted body is moved to the thread, not copied.
      const moved = message.op === 'readMultipart' ? [message.args[0]] : ([] as ArrayBuffer[])
      w.postMessage({ ...message, id }, moved)
    })
  }

  // Inline only when the thread could not even start (a broken install): answered slowly
  // rather than not at all.
  const viaThread =
    <A extends unknown[], T>(
      op: Call['op'],
      fallback: (...args: A) => Promise<T>,
      received: (value: any) => T | Promise<T> = (value) => value as T,
    ): ((...args: A) => Promise<T>) =>
    async (...args) => {
      if (!failedToStart) {
        try {
          return await received(await call({ op, args } as unknown as Request))
        } catch (err) {
          if (!failedToStart) throw err
        }
      }
      return fallback(...args)
    }

  return {
    figures: viaThread('figures', inline.figures),
    trends: viaThread('trends', inline.trends),
    searchCustomers: viaThread('searchCustomers', inline.searchCustomers),
    campaignReports: viaThread('campaignReports', inline.campaignReports),
    campaignReport: viaThread('campaignReport', inline.campaignReport),
    readMultipart: viaThread('readMultipart', inline.readMultipart),
    checkCampaignCsv: viaThread(
      'checkCampaignCsv',
      inline.checkCampaignCsv,
      (r: CampaignCsvCheck | { ok: true; packed: PackedSends }) =>
        'packed' in r ? unpackSends(r.packed).then((rows) => ({ ok: true, rows })) : r,
    ),
    visitsCsv(opts) {
      if (failedToStart) return inline.visitsCsv(opts)
      let stream: number | null = null
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (stream === null) {
              openStreams++
              stream = await call<number>({ op: 'csv.open', args: [opts] })
            }
            const chunk = await call<Uint8Array | null>({ op: 'csv.next', stream })
            if (chunk) controller.enqueue(chunk)
            else {
              controller.close()
              openStreams--
              settle()
            }
          },
          async cancel() {
            if (stream !== null) {
              openStreams--
              await call({ op: 'csv.close', stream }).catch(() => {})
            }
          },
        },
        { highWaterMark: 1 },
      )
    },
    running: () => worker !== null,
    async close() {
      if (idleTimer) clearTimeout(idleTimer)
      const w = worker
      stopAll(new Error('console worker closed'))
      await w?.terminate()
    },
  }
}
