import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { createApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { closeDb, openDb } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { createObserver, createServiceMetrics, providerNames } from '../src/observe/observer.js'
import type { NeighbourWatchState } from '../src/observe/state.js'
import { createServices } from '../src/services.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakeSms } from './fakes/sms.js'
import { TEST_SCRYPT_COST, tempDir } from './helpers.js'

export const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148'
export const ANDROID_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36'
export const WINDOWS_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0'

/**
 * The portal and the admin side wired as main.ts wires them with metrics on: the prom-client
 * registry handed to the services, the observer's /metrics and /readyz in front of the console.
 * Real SQLite file, dry-run gate, fake SMS, a clock the test moves.
 */
export function metricsHarness(configOverrides: Record<string, unknown> = {}) {
  const t = tempDir()
  const config: Config = loadConfig(JSON.stringify({ dataDir: t.dir, ...configOverrides }))
  const dbFile = path.join(t.dir, 'branchgate.db')
  const db = openDb(dbFile)
  const clock = new FakeClock()
  const sms = new FakeSms()
  const neighbours = new FakeNeighbours()
  const gate = createDryRunGate(clock)
  const logs: string[] = []
  // The configured providers (whose health the state reads) and the fake that really sends.
  const prometheus = createServiceMetrics(config, {
    providers: [...providerNames(config), sms.name],
    processMetrics: false,
  })!
  const services = createServices({
    config,
    db,
    gate,
    sms,
    clock,
    secret: Buffer.alloc(32, 7),
    log: (l) => logs.push(l),
    passwordCost: TEST_SCRYPT_COST,
    metrics: prometheus.metrics,
  })
  /** What the neighbour watch says at each scrape (a test sets it; none by default). */
  const watch: { state: NeighbourWatchState | null } = { state: null }
  const observer = createObserver({ services, prometheus, dbFile, neighbours: () => watch.state })
  const app = createApp(services, { neighbours, observe: observer.routes })

  const request = (p: string, init: RequestInit = {}, ip = '10.20.0.15') =>
    app.portal.request(p, init, { incoming: { socket: { remoteAddress: ip } } })
  const post = (p: string, fields: Record<string, string>, ip: string, ua: string) =>
    request(
      p,
      {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': ua },
      },
      ip,
    )
  /** GET /metrics on the admin side, as Prometheus asks for it. */
  const scrape = async (headers: Record<string, string> = {}) => {
    const res = await app.admin.request('http://127.0.0.1:8081/metrics', { headers })
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') }
  }
  return {
    config,
    db,
    dbFile,
    clock,
    sms,
    neighbours,
    watch,
    gate,
    logs,
    services,
    observer,
    app,
    request,
    post,
    scrape,
    close: () => {
      closeDb(db)
      t.remove()
    },
  }
}

/**
 * The value of one sample of a scrape: `name{a="b",…}` with exactly these labels (besides the
 * `branch` every series carries).
 */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const s of samples(text)) {
    if (s.name !== name) continue
    const keys = Object.keys(s.labels).filter((k) => k !== 'branch' || 'branch' in labels)
    if (keys.length !== Object.keys(labels).length) continue
    if (keys.every((k) => s.labels[k] === labels[k])) return s.value
  }
  return undefined
}

/** Every sample of an exposition: name, labels, value. */
export function samples(
  text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/** Why promtool cannot be used here, or null (Debian's `prometheus` package has it). */
export function promtoolMissing(): string | null {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? null : 'promtool not found (apt-get install prometheus)'
}
