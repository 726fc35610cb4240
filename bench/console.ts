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
import { figure } from './figures.js'
import { serve, type ServerType } from '@hono/node-server'
import { PerformanceObserver } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { createApp } from '../src/app.js'
import { createServices } from '../src/services.js'
import { systemClock } from '../src/clock.js'
import {
  inlineConsoleWorker,
  threadConsoleWorker,
  type ConsoleWorkerFactory,
} from '../src/console/worker.js'
import { startCheckpointer } from '../src/db/checkpointer.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { plainIp } from '../src/gate/neighbours.js'
import { parseMac, type Mac } from '../src/mac.js'

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

/** The p-th percentile (0–100) of some latencies, in ms. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

// The other machines, in their own thread (its own event loop, so a frozen portal cannot hold
// the clock that measures it). Guests: an open loop, a GET /healthz every 10 ms on a kept-alive
// connection and a POST /login every 50 ms from a new phone (its own loopback address, its own
// number, its own connection); each latency runs from the request's start to the response's
// end, and every request sent before the stop is counted, however late it is answered. The
// office PC: the manager's console requests, over HTTP to the console's own listener.
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
let running = false, healthz = [], login = [], failed = {}, n = 0, timers = [], open = 0
const fail = (why) => (failed[why] = (failed[why] || 0) + 1)
let report = () => {}
function req(opts, body, into) {
  const t0 = performance.now()
  open++
  const done = () => { open--; if (open === 0 && !running) report() }
  const r = http.request({ host: '127.0.0.1', port: workerData.portal, ...opts }, (res) => {
    res.resume()
    res.on('end', () => { into.push(performance.now() - t0); if (res.statusCode >= 400) fail(res.statusCode); done() })
  })
  r.on('error', (err) => { fail(err.code); done() })
  r.end(body)
}
parentPort.on('message', (m) => {
  if (m === 'start') {
    running = true; healthz = []; login = []; failed = {}
    timers.push(setInterval(() => req({ path: '/healthz', agent }, undefined, healthz), 10))
    timers.push(setInterval(() => {
      n++
      const body = new URLSearchParams({ name: 'Cliente Bench', phone: '55' + String(20000000 + n), consent: 'yes' }).toString()
      req({ path: '/login', method: 'POST', agent: false, localAddress: '127.0.' + (1 + Math.floor(n / 250) % 250) + '.' + (1 + (n % 250)),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), connection: 'close' } }, body, login)
    }, 50))
  } else if (m === 'stop') {
    running = false; timers.forEach(clearInterval); timers = []
    report = () => { report = () => {}; parentPort.postMessage({ healthz, login, failed }) }
    if (open === 0) report()
  } else if (m.office) {
    const { port, path, method, headers, body } = m.office
    const r = http.request({ host: '127.0.0.1', port, path, method, headers: { ...headers, host: '127.0.0.1:' + port,
      ...(body ? { 'content-length': body.byteLength } : {}) } }, (res) => {
      let bytes = 0
      res.on('data', (d) => (bytes += d.length))
      res.on('end', () => parentPort.postMessage({ office: res.statusCode, bytes }))
    })
    r.on('error', (err) => parentPort.postMessage({ office: 0, error: err.message }))
    r.end(body ? Buffer.from(body) : undefined)
  }
})
parentPort.postMessage('ready')
`

/**
 * Guests while a manager works: the portal answers /healthz and logins while the console, in
 * the same process as main.ts runs them, imports 100,000 campaign rows, exports a year's CSV,
 * shows the year's dashboard and erases customers. Once with the console's long work in its
 * worker thread (as main.ts wires it), once on the portal's own thread in chunks that yield
 * (the alternative), after a baseline with nothing running. Target: p99 < 100 ms for /healthz
 * and for a login while the work runs. "Longest stall": the longest the portal's thread went
 * without a turn of its event loop.
 */
export async function guestsWhileManagersWork(dir: string, db: Db, visitCount: number) {
  const config = loadConfig(
    JSON.stringify({
      dataDir: dir,
      branch: { timeZone: TZ },
      // Every bench login is a new phone and number, never verified: the fraud rules stay on
      // (their cost is part of a login) with limits out of reach.
      sms: {
        fraud: {
          perPrefixPerHour: 1e9,
          branchPerHour: 1e9,
          dailyBudget: 1e9,
          conversion: { minNumbers: 1e9 },
        },
      },
    }),
  )
  const macs = new Map<string, Mac>()
  const build = (consoleWorker: ConsoleWorkerFactory) => {
    const services = createServices({
      config,
      db,
      gate: createDryRunGate(systemClock),
      sms: { name: 'in-process', send: async () => ({ provider: 'in-process' }) },
      clock: systemClock,
      secret: Buffer.alloc(32, 9),
      log: () => {},
    })
    const neighbours = {
      async macFor(ip: string) {
        let mac = macs.get(ip)
        if (!mac) {
          // 127.0.X.Y -> 02:00:00:00:XX:YY: one device per loopback address.
          const [, , x = 0, y = 0] = plainIp(ip).split('.').map(Number)
          const hex = (v: number) => v.toString(16).padStart(2, '0')
          mac = parseMac(`02:00:00:00:${hex(x)}:${hex(y)}`) as Mac
          macs.set(ip, mac)
        }
        return mac
      },
    }
    return { ...services, ...createApp(services, { neighbours, consoleWorker }) }
  }
  // As main.ts runs it: WAL checkpoints in their own thread.
  db.pragma('wal_checkpoint(TRUNCATE)')
  const checkpointer = startCheckpointer(db, db.name, () => {})
  const threaded = build(threadConsoleWorker)
  const inline = build(inlineConsoleWorker)
  const servers: ServerType[] = []
  const listen = (app: { fetch: (r: Request, env: any) => Response | Promise<Response> }) =>
    new Promise<number>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve(info.port),
      )
      servers.push(s)
    })
  const portalPort = await listen(threaded.portal)
  const consolePorts = new Map([
    [threaded, await listen(threaded.admin)],
    [inline, await listen(inline.admin)],
  ])
  const clients = new Worker(CLIENTS, { eval: true, workerData: { portal: portalPort } })
  await new Promise((r) => clients.once('message', r))

  await threaded.consoleAuth.add('gerente', 'admin', 'sintetico-2025-x', 'bench')
  const { token, user } = await threaded.consoleAuth.login(
    'gerente',
    'sintetico-2025-x',
    '127.0.0.1',
  )
  const office = async (
    app: typeof threaded,
    path: string,
    init: { method?: string; body?: ArrayBuffer; type?: string } = {},
  ) => {
    clients.postMessage({
      office: {
        port: consolePorts.get(app),
        path,
        method: init.method ?? 'GET',
        headers: {
          cookie: `bg_console=${token}`,
          ...(init.type ? { 'content-type': init.type } : {}),
        },
        body: init.body,
      },
    })
    const r = (await new Promise((res) => clients.once('message', res))) as {
      office: number
      error?: string
    }
    if (r.office !== 200 && r.office !== 303)
      throw new Error(`${path}: ${r.office} ${r.error ?? ''}`)
  }
  // A form as the browser posts it, encoded before the clock starts (that is the browser's work).
  const form = async (fields: Record<string, string | File>) => {
    const data = new FormData()
    data.set('_csrf', user.csrf)
    for (const [k, v] of Object.entries(fields)) data.set(k, v)
    const req = new Request('http://127.0.0.1/', { method: 'POST', body: data })
    return { method: 'POST', body: await req.arrayBuffer(), type: req.headers.get('content-type')! }
  }
  // 100,000 sends, one campaign: the 40,000 customers' numbers (their visits are walk-ins), then
  // new numbers. 3.7 MB.
  const sends = (campaign: string) =>
    form({
      file: new File(
        [
          'phone,campaign,sent_at\r\n',
          ...Array.from(
            { length: 100_000 },
            (_, i) =>
              `55${String(i < 40_000 ? 10_000_001 + i : 30_000_000 + i)},${campaign},2025-11-24 09:00\r\n`,
          ),
        ],
        'envios.csv',
      ),
    })
  const yearCsv = await form({ from: '2025-01-01', to: '2025-12-31', delimiter: 'comma' })
  const dashboard = '/?range=custom&from=2025-01-01&to=2025-12-31'

  /** `key`: the service's own arrangement, whose target is a figure (the others compare). */
  const measure = async (label: string, work: () => Promise<unknown>, key?: string) => {
    clients.postMessage('start')
    const t0 = performance.now()
    let last = t0
    let stall = 0
    let gc = 0
    const gcs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gc = Math.max(gc, e.duration)
    })
    gcs.observe({ entryTypes: ['gc'] })
    const tick = setInterval(() => {
      const now = performance.now()
      stall = Math.max(stall, now - last)
      last = now
    }, 1)
    await work()
    clearInterval(tick)
    gcs.disconnect()
    const took = (performance.now() - t0) / 1000
    clients.postMessage('stop')
    const r = (await new Promise((res) => clients.once('message', res))) as {
      healthz: number[]
      login: number[]
      failed: Record<string, number>
    }
    const p = (v: number[]) =>
      `p99 ${percentile(v, 99).toFixed(0)} ms (max ${percentile(v, 100).toFixed(0)}, n=${v.length})`
    const worst = Math.max(percentile(r.healthz, 99), percentile(r.login, 99))
    console.log(
      `  ${label}: ${took.toFixed(1)} s; /healthz ${p(r.healthz)}; POST /login ${p(r.login)}${
        Object.keys(r.failed).length
          ? ` (failed: ${Object.entries(r.failed)
              .map(([why, n]) => `${n}× ${why}`)
              .join(', ')})`
          : ''
      }; longest stall ${stall.toFixed(0)} ms (GC pause ${gc.toFixed(0)} ms)${key ? '' : `; ${worst < 100 ? 'ok' : 'OVER'} (target p99 < 100 ms)`}`,
    )
    if (key)
      figure(`guests.${key}`, `    the guests' worst p99 meanwhile`, worst, 'ms', {
        target: { op: '<=', value: 100 },
      })
  }

  console.log(
    `guests while a manager works (portal and console in this process, ${visitCount} visits):`,
  )
  // The thread loads first (about a second of TypeScript); not part of a manager's wait.
  await threaded.consoleWorker.figures(resolveRange({ range: 'today' }, Date.now(), TZ), Date.now())
  const idle = (ms: number) => () => new Promise((r) => setTimeout(r, ms))
  // Each page's template is compiled at its first showing after a start: once, not a figure.
  await measure('warm-up (not a figure)', async () => {
    for (const app of [threaded, inline]) {
      for (const page of ['/', '/campaigns', '/export', '/campaigns/report?c=none', '/customers'])
        await office(app, page).catch(() => {})
    }
    await idle(2000)()
  })
  await measure('nothing running (baseline)', idle(3000))
  for (const [name, app, campaign] of [
    ['worker thread (main.ts)', threaded, 'Promo A'],
    ['portal thread (only the import in chunks)', inline, 'Promo B'],
  ] as const) {
    const upload = await sends(campaign)
    // The worker thread is how the service runs the console: its figures carry the target.
    const key = (k: string) => (app === threaded ? k : undefined)
    await measure(
      `import 100,000 rows (3.7 MB), ${name}`,
      () => office(app, '/campaigns/import', upload),
      key('import'),
    )
    await measure(
      `CSV export of 365 days, ${name}`,
      () => office(app, '/export/visits.csv', yearCsv),
      key('csv'),
    )
    await measure(
      `dashboard of 365 days x3, ${name}`,
      async () => {
        for (let i = 0; i < 3; i++) await office(app, dashboard)
      },
      key('dashboard'),
    )
    await measure(
      `campaign report (90 days) and a name search x3, ${name}`,
      async () => {
        for (let i = 0; i < 3; i++) {
          await office(app, `/campaigns/report?c=${encodeURIComponent(campaign)}&days=90`)
          await office(app, '/customers?q=cliente%201')
        }
      },
      key('report'),
    )
  }
  // The regulars, with the most visits (erasure keeps visits, anonymous, and drops the rest).
  const ids = db.prepare('SELECT id FROM customers ORDER BY id LIMIT 200').all() as Array<{
    id: number
  }>
  const erase = await form({ confirm: 'yes' })
  await measure(
    'erase 200 customers one by one, portal thread',
    async () => {
      for (const { id } of ids) await office(threaded, `/customers/${id}/erase`, erase)
    },
    'erase',
  )

  await clients.terminate()
  await threaded.consoleWorker.close()
  await checkpointer.stop()
  for (const s of servers) await new Promise((r) => s.close(r))
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
      // The year as the service holds it: the seed's one transaction left a 48 MB WAL, copied
      // but never started over, and every page the reports read was looked up in its index
      // first (~20 ms of CPU more per dashboard of the year). In the service the checkpoint
      // thread makes the WAL start over past 1,000 frames (src/db/checkpointer.ts).
      db.pragma('wal_checkpoint(TRUNCATE)')
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
      const cpuTimes: number[] = []
      for (let i = 0; i < 5; i++) {
        const s = performance.now()
        const c = process.cpuUsage()
        const f = dashboard.figures(range, now)
        times.push(performance.now() - s)
        const used = process.cpuUsage(c)
        cpuTimes.push((used.user + used.system) / 1000)
        if (i === 0)
          console.log(
            `figures: ${f.visits} visits, ${f.customers} customers, median dwell ${f.medianDwellMinutes?.toFixed(1)} min`,
          )
      }
      times.sort((a, b) => a - b)
      console.log(
        `dashboard 365 days, warm: min ${times[0]!.toFixed(0)} ms, max ${times[4]!.toFixed(0)} ms`,
      )
      figure('dashboard.warm', 'dashboard 365 days, warm, median of 5', times[2]!, 'ms', {
        target: { op: '<=', value: 120 },
      })
      // Steadier than wall time on a shared machine (the process's CPU, its GC threads included).
      cpuTimes.sort((a, b) => a - b)
      figure('dashboard.cpu', '  process CPU per dashboard, median of the 5', cpuTimes[2]!, 'ms', {
        better: 'lower',
      })

      // The whole page as the server answers it: queries, SVG charts and tables (365 rows).
      const config = loadConfig(JSON.stringify({ dataDir: dir, branch: { timeZone: TZ } }), {})
      const clock = { now: () => now }
      const { consoleAuth, erasure, consents, rights, passes, allowance } = createServices({
        config,
        db,
        gate: createDryRunGate(clock),
        clock,
        secret: Buffer.alloc(32, 9),
        log: () => {},
      })
      const { app, auth } = createConsole({
        config,
        db,
        clock,
        views: loadViews(),
        auth: consoleAuth,
        access: { setDeviceState: async () => ({ visitId: null }), liveUntil: () => null } as never,
        privacy: { erasure, consents, rights },
        clientAddress: () => '127.0.0.1',
        log: () => {},
        passes,
        allowance,
      })
      await auth.add('bench', 'manager', 'sintetico-2025-x', 'bench')
      const { token } = await auth.login('bench', 'sintetico-2025-x', '127.0.0.1')
      const pageTimes: number[] = []
      let size = 0
      for (let i = 0; i < 5; i++) {
        const s = performance.now()
        const res = await app.request(
          'http://127.0.0.1:8081/?range=custom&from=2025-01-01&to=2025-12-31',
          {
            headers: { cookie: `bg_console=${token}` },
          },
        )
        size = (await res.text()).length
        pageTimes.push(performance.now() - s)
      }
      pageTimes.sort((a, b) => a - b)
      console.log(
        `dashboard page 365 days (queries + SVG + tables, ${(size / 1024).toFixed(0)} KiB HTML): median ${pageTimes[2]!.toFixed(0)} ms`,
      )

      global.gc?.()
      const before = mb()
      const rssBefore = process.memoryUsage().rss
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
        `CSV export 365 days: ${count} rows, ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${secs.toFixed(2)} s`,
      )
      figure('csv.rps', 'CSV export 365 days', count / secs, 'rows/s', {
        target: { op: '>=', value: 90_000 },
      })
      console.log(
        `RSS before ${before}, peak during ${(peak / 1024 / 1024).toFixed(0)} MiB, after ${mb()}`,
      )
      // Flat memory: the export streams, so what it adds must not grow with the rows (the file
      // is some 20 MiB; a buffered export would add at least that).
      figure(
        'csv.rssGrowth',
        '  RSS added during the export (peak − before)',
        (peak - rssBefore) / 1048576,
        'MB',
        { target: { op: '<=', value: 16 } },
      )

      await guestsWhileManagersWork(dir, db, count)
    } finally {
      closeDb(db)
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default section
