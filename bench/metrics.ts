/**
 * `npm run bench -- metrics` (issue 13): what watching a branch costs.
 *
 * 1. One scrape of /metrics (state read from SQLite, gauges set, the exposition written) with
 *    10,000 devices let through, as the admin listener serves it. Target ≤ 10 ms.
 * 2. What the instrumentation adds to the server's CPU per login: the portal section's load
 *    (20 concurrent phones, each login a new phone) against the real app with metrics off and
 *    on, two servers side by side loaded in alternate blocks (ABBA). Target ≤ 3 %. The direct
 *    cost of the calls a login makes (the funnel steps, the timings, the provider's try, the
 *    User-Agent read) is measured too, in a tight loop, and given as a share of the CPU a login
 *    costs with metrics off.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { figure } from './figures.js'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createApp } from '../src/app.js'
import { systemClock } from '../src/clock.js'
import { loadConfig } from '../src/config.js'
import { closeDb, openDb } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import type { Mac } from '../src/mac.js'
import { osGroupOfUserAgent } from '../src/observe/labels.js'
import { createObserver, createServiceMetrics } from '../src/observe/observer.js'
import { createServices } from '../src/services.js'
import { loginVerify, start, stop, unpinSelf } from './portal.js'
import type { BenchSection } from './run.js'

const ms = (n: number) => `${n.toFixed(2)} ms`
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!

async function scrapeWith10k(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchgate-bench-metrics-'))
  const config = loadConfig(JSON.stringify({ dataDir: dir }))
  const dbFile = path.join(dir, 'branchgate.db')
  const db = openDb(dbFile)
  try {
    const N = 10_000
    const now = systemClock.now()
    const gate = createDryRunGate(systemClock)
    const insert = db.prepare(
      `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason) VALUES (?, NULL, ?, ?, 'manual-allow')`,
    )
    const macs: Mac[] = []
    db.transaction(() => {
      for (let i = 0; i < N; i++) {
        const hex = i.toString(16).padStart(6, '0')
        const mac = `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}` as Mac
        macs.push(mac)
        insert.run(mac, now, now + 8 * 3_600_000)
      }
    })()
    await gate.replaceAll(macs.map((mac) => ({ mac, until: now + 8 * 3_600_000 })))
    const prometheus = createServiceMetrics(config, { processMetrics: true })!
    const services = createServices({
      config,
      db,
      gate,
      clock: systemClock,
      secret: Buffer.alloc(32, 9),
      log: () => {},
      metrics: prometheus.metrics,
    })
    const observer = createObserver({ services, prometheus, dbFile })
    const t0 = performance.now()
    await observer.firewallCheck.run(systemClock.now())
    const checkMs = performance.now() - t0
    const { admin } = createApp(services, {
      neighbours: { macFor: async () => null },
      observe: observer.routes,
    })
    const scrape = async () => {
      const res = await admin.request('http://127.0.0.1:8081/metrics')
      return res.text()
    }
    for (let i = 0; i < 20; i++) await scrape() // warm-up
    const times: number[] = []
    let size = 0
    let series = 0
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < 200; i++) {
      const s = performance.now()
      const text = await scrape()
      times.push(performance.now() - s)
      size = text.length
      series = text.split('\n').filter((l) => l && !l.startsWith('#')).length
      // Scrapes come seconds apart: let the loop turn between them, as it does in the service.
      await new Promise((r) => setImmediate(r))
    }
    const cpu = process.cpuUsage(cpu0)
    times.sort((a, b) => a - b)
    console.log(
      `scrape of /metrics, ${N.toLocaleString('en')} devices let through (200 scrapes): p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}; CPU ${ms((cpu.user + cpu.system) / 1000 / 200)} per scrape`,
    )
    figure('scrape.p99', '  scrape of /metrics with 10,000 devices, p99', pct(times, 99), 'ms', {
      target: { op: '<=', value: 10 },
    })
    console.log(
      `  ${series} series, ${(size / 1024).toFixed(1)} KB; the firewall check it reads (a job, once a minute, dry-run set): ${ms(checkMs)}`,
    )
  } finally {
    closeDb(db)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The calls one login makes into the metrics, in a tight loop: µs per login. */
function directCostPerLoginUs(): number {
  const config = loadConfig(null)
  const { metrics } = createServiceMetrics(config, {
    providers: ['in-process'],
    processMetrics: false,
  })!
  const ua =
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36'
  const one = () => {
    // GET /: the splash page.
    metrics.funnel('splash', osGroupOfUserAgent(ua))
    // POST /login: asked, the provider's try, sent, the request's time.
    metrics.funnel('code_requested', osGroupOfUserAgent(ua))
    metrics.smsAttempt({ provider: 'in-process', channel: 'sms', latencyMs: 0.4, outcome: 'sent' })
    metrics.funnel('code_sent', osGroupOfUserAgent(ua), { provider: 'in-process', channel: 'sms' })
    metrics.timing({ op: 'portal', route: 'login' }, 0.004)
    // POST /verify: the firewall change, verified, let through, the request's time.
    metrics.timing({ op: 'firewall', change: 'allow' }, 0.0002)
    metrics.funnel('verified', osGroupOfUserAgent(ua))
    metrics.funnel('let_through', osGroupOfUserAgent(ua))
    metrics.timing({ op: 'portal', route: 'verify' }, 0.003)
  }
  for (let i = 0; i < 20_000; i++) one()
  const n = 200_000
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) one()
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / n
}

const section: BenchSection = {
  name: 'metrics',
  async run() {
    await scrapeWith10k()
    // BENCH_METRICS_SCRAPE_ONLY=1: the scrape alone (a quick look while changing it).
    if (process.env.BENCH_METRICS_SCRAPE_ONLY) return
    const perClient = Number(process.env.BENCH_LOGINS_PER_CLIENT ?? 25)
    const rounds = Number(process.env.BENCH_METRICS_ROUNDS ?? 16)
    const offs: number[] = []
    const ons: number[] = []
    const ratios: number[] = []
    // Both servers run side by side for the whole measurement, each warmed up as the portal
    // section warms its server (1,000 logins: V8 is still compiling the login path before that,
    // and the metrics' code is more of it to compile), then loaded in short blocks, off and on in
    // ABBA order. A server per run, started afresh, put the machine's drift between runs and a
    // short warm-up's compilation into the figure: it moved between −4 % and +8 % from one run
    // to the next, wider than the target. Each round gives one ratio (on / off, taken seconds
    // apart), and the figure is their median. Both servers' event loops are pinned to CPU 0, and
    // only one is loaded at a time. `BENCH_METRICS_SAME=1` runs both without metrics: what the
    // method shows where there is nothing to find (an A/A run).
    const same = !!process.env.BENCH_METRICS_SAME
    const servers = await Promise.all([start('portal'), start(same ? 'portal' : 'portal-metrics')])
    try {
      for (const server of servers) await loginVerify(server, 20, 50)
      for (let r = 0; r < rounds; r++) {
        // [off, on], loaded in the order ABBA asks.
        const perLogin = [0, 0]
        for (const i of r % 2 ? [1, 0] : [0, 1])
          perLogin[i] = (await loginVerify(servers[i]!, 20, perClient)).cpuPerLogin
        const [off, on] = perLogin as [number, number]
        offs.push(off)
        ons.push(on)
        ratios.push(on / off)
      }
    } finally {
      await Promise.all(servers.map((s) => stop(s)))
      unpinSelf()
    }
    const list = (a: number[]) => a.map((v) => v.toFixed(2)).join(', ')
    console.log(
      `server CPU per login (ms), ${rounds} rounds (ABBA) of 20 clients × ${perClient} logins on each of two servers side by side${same ? ' (BENCH_METRICS_SAME: both without metrics)' : ''}: metrics off ${list(offs)}; on ${list(ons)}; on / off per round ${ratios.map((x) => x.toFixed(3)).join(', ')}`,
    )
    const off = median(offs)
    figure(
      'perLogin.added',
      "  metrics on vs off, median of the rounds' ratios",
      (median(ratios) - 1) * 100,
      '%',
      { target: { op: '<=', value: 3 } },
    )
    const direct = directCostPerLoginUs()
    figure(
      'perLogin.direct',
      "  the calls a login makes into the metrics, alone, share of a login's CPU with metrics off",
      (direct / 1000 / off) * 100,
      '%',
      { note: `(${direct.toFixed(2)} µs per login)` },
    )
  },
}
export default section
