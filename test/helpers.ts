import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createApp, type AppEdges } from '../src/app.js'
import type { ScryptCost } from '../src/console/passwords.js'
import { createServices, type ServiceDeps } from '../src/services.js'
import { loadConfig, type Config, type ConfigEnv } from '../src/config.js'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import type { Metrics } from '../src/observe/metrics.js'
import { FakeClock } from './fakes/clock.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakeSms } from './fakes/sms.js'

/** scrypt at 1/32 of production's cost: console tests sign in hundreds of times. */
export const TEST_SCRYPT_COST: ScryptCost = Object.freeze({ N: 1024, r: 8, p: 1 })

/**
 * The services and both apps wired as main.ts wires them (src/services.ts, then createApp), with
 * the test's fakes at the edges; one object, so a test reaches `login`, `access`, `portal`...
 */
export function wireApp(deps: ServiceDeps & AppEdges) {
  const services = createServices({ passwordCost: TEST_SCRYPT_COST, ...deps })
  return { ...services, ...createApp(services, deps) }
}

/** A temporary folder removed by the returned function. */
export function tempDir(prefix = 'branchgate-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A real SQLite file in a temp folder with the production migrations applied. */
export function tempDb(): { db: Db; file: string; close: () => void } {
  const t = tempDir()
  const file = path.join(t.dir, 'branchgate.db')
  const db = openDb(file)
  return {
    db,
    file,
    close: () => {
      closeDb(db)
      t.remove()
    },
  }
}

export const PHONE_IP = '10.20.0.15'
export const PHONE_MAC = '3a:11:22:33:44:55'

/**
 * The whole portal on a real SQLite file with hand-made fakes for the outside world.
 * `request(path, init, ip)` goes through app.request() as if from the TCP peer `ip`.
 */
export function portalHarness(
  configOverrides: Record<string, unknown> = {},
  env: ConfigEnv = {},
  /**
   * `knownNeighbours`: the neighbour fake answers `known`, so the splash fast path runs;
   * `metrics`: where the funnel and timings go (default: nowhere).
   */
  opts: { knownNeighbours?: boolean; metrics?: Metrics } = {},
) {
  const t = tempDir()
  const config: Config = loadConfig(JSON.stringify({ dataDir: t.dir, ...configOverrides }), env)
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  const sms = new FakeSms()
  const neighbours = new FakeNeighbours().set(PHONE_IP, PHONE_MAC)
  if (opts.knownNeighbours) neighbours.knowing()
  const gate = createDryRunGate(clock)
  const logs: string[] = []
  const secret = Buffer.alloc(32, 7)
  const app = wireApp({
    config,
    db,
    gate,
    sms,
    neighbours,
    clock,
    secret,
    log: (l) => logs.push(l),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  })
  const request = (p: string, init: RequestInit = {}, ip: string = PHONE_IP) =>
    app.portal.request(p, init, { incoming: { socket: { remoteAddress: ip } } })
  const post = (
    p: string,
    fields: Record<string, string>,
    ip: string = PHONE_IP,
    headers: Record<string, string> = {},
  ) =>
    request(
      p,
      {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      },
      ip,
    )
  return {
    app,
    config,
    db,
    clock,
    sms,
    neighbours,
    gate,
    logs,
    secret,
    request,
    post,
    close: () => {
      closeDb(db)
      t.remove()
    },
  }
}

/** Pulls the hidden challenge id out of a code page. */
export function challengeOf(html: string): string {
  const m = /name="challenge" value="([^"]+)"/.exec(html)
  if (!m) throw new Error(`no challenge in page:\n${html.slice(0, 2000)}`)
  return m[1]!
}
