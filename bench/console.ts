import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createDashboard } from '../src/console/dashboard.js'
import { createConsole } from '../src/console/index.js'
import { loadConfig } from '../src/config.js'
import { loadViews } from '../src/views.js'
import { visitsCsvStream } from '../src/console/exports.js'
import { localMidnight, resolveRange } from '../src/console/time.js'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import { uuidv7 } from '../src/ids.js'
import type { BenchSection } from './run.js'

const TZ = 'America/Mexico_City'

/**
 * A synthetic year of a busy branch: `visitsPerDay` visits a day between 9:00 and 18:00 local,
 * drawn from `customers` customers (a few regulars come often), dwell 1–90 minutes.
 */
export function seedYear(
  db: Db,
  opts: { firstDay: string; days: number; visitsPerDay: number; customers: number },
) {
  // mulberry32: small, seeded, good enough to spread customers and times.
  let seed = 42
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const insertCustomer = db.prepare(
    `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@id, @phone, @name, 'es', @at, @at, @at)`,
  )
  const insertVisit = db.prepare(
    `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
     VALUES (@id, @customerId, 'bench', @start, @end, @end, 'left')`,
  )
  const start = localMidnight(opts.firstDay, TZ)
  db.transaction(() => {
    for (let i = 1; i <= opts.customers; i++) {
      insertCustomer.run({
        id: i,
        phone: `+5255${String(10_000_000 + i)}`,
        name: `Cliente ${i}`,
        at: start,
      })
    }
    for (let d = 0; d < opts.days; d++) {
      for (let v = 0; v < opts.visitsPerDay; v++) {
        const at = start + d * 86_400_000 + 9 * 3_600_000 + Math.floor(rnd() * 9 * 3_600_000)
        // Skewed: low ids are regulars.
        const customerId = 1 + Math.floor(rnd() ** 2 * opts.customers)
        const dwell = 60_000 + Math.floor(rnd() * 89 * 60_000)
        insertVisit.run({ id: uuidv7(at), customerId, start: at, end: at + dwell })
      }
    }
  })()
}

const mb = () => `${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`

const section: BenchSection = {
  name: 'console',
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), 'branchgate-bench-'))
    const db = openDb(path.join(dir, 'branchgate.db'))
    try {
      const t0 = performance.now()
      seedYear(db, { firstDay: '2025-01-01', days: 365, visitsPerDay: 500, customers: 40_000 })
      db.pragma('optimize')
      const count = (db.prepare('SELECT COUNT(*) AS n FROM visits').get() as { n: number }).n
      console.log(
        `seeded ${count} visits, 40000 customers in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      )

      const now = localMidnight('2025-12-31', TZ) + 12 * 3_600_000
      const range = resolveRange({ range: 'custom', from: '2025-01-01', to: '2025-12-31' }, now, TZ)
      const dashboard = createDashboard(db, { passByMinutes: 2, hereNowMinutes: 15, timeZone: TZ })
      const coldStart = performance.now()
      dashboard.figures(range, now)
      console.log(
        `dashboard 365 days, first call (statements compiled, cache cold): ${(performance.now() - coldStart).toFixed(0)} ms`,
      )
      const times: number[] = []
      for (let i = 0; i < 5; i++) {
        const s = performance.now()
        const f = dashboard.figures(range, now)
        times.push(performance.now() - s)
        if (i === 0)
          console.log(
            `figures: ${f.visits} visits, ${f.customers} customers, median dwell ${f.medianDwellMinutes?.toFixed(1)} min`,
          )
      }
      times.sort((a, b) => a - b)
      console.log(
        `dashboard 365 days, warm: median ${times[2]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times[4]!.toFixed(0)} ms (target ≤ 300 ms)`,
      )

      // The whole page as the server answers it: queries, SVG charts and tables (365 rows).
      const config = loadConfig(JSON.stringify({ dataDir: dir, branch: { timeZone: TZ } }), {})
      const clock = { now: () => now }
      const { app, auth } = createConsole({
        config,
        db,
        clock,
        views: loadViews(),
        access: { setDeviceState: async () => ({ visitId: null }), liveUntil: () => null } as never,
        clientAddress: () => '127.0.0.1',
        log: () => {},
      })
      await auth.add('bench', 'manager', 'sintetico-2025-x', 'bench')
      const { token } = await auth.login('bench', 'sintetico-2025-x', '127.0.0.1')
      const pageTimes: number[] = []
      let size = 0
      for (let i = 0; i < 5; i++) {
        const s = performance.now()
        const res = await app.request('/?range=custom&from=2025-01-01&to=2025-12-31', {
          headers: { cookie: `bg_console=${token}` },
        })
        size = (await res.text()).length
        pageTimes.push(performance.now() - s)
      }
      pageTimes.sort((a, b) => a - b)
      console.log(
        `dashboard page 365 days (queries + SVG + tables, ${(size / 1024).toFixed(0)} KiB HTML): median ${pageTimes[2]!.toFixed(0)} ms`,
      )

      global.gc?.()
      const before = mb()
      const s = performance.now()
      let bytes = 0
      let peak = process.memoryUsage().rss
      const reader = visitsCsvStream(db, { range, timeZone: TZ, passByMinutes: 2 }).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        bytes += value.byteLength
        peak = Math.max(peak, process.memoryUsage().rss)
      }
      const secs = (performance.now() - s) / 1000
      console.log(
        `CSV export 365 days: ${count} rows, ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${secs.toFixed(2)} s = ${Math.round(count / secs)} rows/s (target ≥ 50000)`,
      )
      console.log(
        `RSS before ${before}, peak during ${(peak / 1024 / 1024).toFixed(0)} MiB, after ${mb()}`,
      )
    } finally {
      closeDb(db)
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default section
