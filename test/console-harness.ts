import { loadConfig, type Config } from '../src/config.js'
import { closeDb, openDb } from '../src/db/open.js'
import type { ConsoleWorkerFactory } from '../src/console/worker.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { FakeClock } from './fakes/clock.js'
import { FakeSmsStats, FakeSyncStatus, RecordingErasureNotifier } from './fakes/console.js'
import { FakeNeighbours } from './fakes/neighbours.js'
import { FakeSms } from './fakes/sms.js'
import { tempDir, wireApp } from './helpers.js'
import path from 'node:path'

export const OFFICE_IP = '192.168.50.10'
export const PASSWORD = 'sucursal-2026-segura'

/**
 * The whole app on a real SQLite file with fakes for the outside world, plus a cookie-keeping
 * browser for the console (admin listener) that goes through app.request().
 */
export function consoleHarness(
  configOverrides: Record<string, unknown> = {},
  opts: {
    realSmsStats?: boolean
    consoleWorker?: ConsoleWorkerFactory
    /** Blocks and deletions write customer.blocked / customer.deleted to the real outbox. */
    realErasure?: boolean
  } = {},
) {
  const t = tempDir()
  const config: Config = loadConfig(JSON.stringify({ dataDir: t.dir, ...configOverrides }), {})
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  const sync = new FakeSyncStatus()
  const smsStats = new FakeSmsStats()
  const erasure = new RecordingErasureNotifier()
  const neighbours = new FakeNeighbours()
  const gate = createDryRunGate(clock)
  const logs: string[] = []
  const sms = new FakeSms()
  const app = wireApp({
    config,
    db,
    gate,
    sms,
    neighbours,
    clock,
    secret: Buffer.alloc(32, 7),
    log: (l) => logs.push(l),
    syncStatus: sync,
    ...(opts.realErasure ? {} : { erasure }),
    ...(opts.realSmsStats ? {} : { smsStats }),
    consoleWorker: opts.consoleWorker,
  })
  // Requests name the console's own authority, as a browser on the office PC does.
  const origin = `http://127.0.0.1:${config.listen.admin.port}`
  const browser = (ip = OFFICE_IP) => new ConsoleBrowser(app.admin, ip, origin)
  return {
    app,
    config,
    db,
    clock,
    sync,
    smsStats,
    erasure,
    gate,
    logs,
    browser,
    sms,
    neighbours,
    /** A browser already signed in as a new user with `role`. */
    async signedIn(name: string, role: 'manager' | 'admin') {
      await app.consoleAuth.add(name, role, PASSWORD, 'test')
      const b = browser()
      const res = await b.login(name, PASSWORD)
      if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`)
      return b
    },
    close: async () => {
      await app.consoleWorker.close()
      closeDb(db)
      t.remove()
    },
  }
}

type Fetcher = {
  request: (path: string, init?: RequestInit, env?: unknown) => Response | Promise<Response>
}

/** Keeps cookies between requests like a browser, and knows the page's CSRF token. */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>()
  lastSetCookies: string[] = []
  constructor(
    private readonly app: Fetcher,
    private readonly ip: string,
    /** Prefixed to paths: the console's own authority (the default listener's). */
    readonly origin = 'http://127.0.0.1:8081',
  ) {}

  async request(p: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size)
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await this.app.request(
      p.startsWith('/') ? this.origin + p : p,
      { ...init, headers },
      { incoming: { socket: { remoteAddress: this.ip } } },
    )
    this.lastSetCookies = res.headers.getSetCookie()
    for (const line of this.lastSetCookies) {
      const [pair = ''] = line.split(';')
      const i = pair.indexOf('=')
      const name = pair.slice(0, i).trim()
      const value = pair.slice(i + 1).trim()
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  get(p: string) {
    return this.request(p)
  }

  post(p: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(p, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    })
  }

  /** Opens the sign-in page (for its CSRF cookie and token) and signs in. */
  async login(name: string, password: string): Promise<Response> {
    const page = await (await this.get('/login')).text()
    return this.post('/login', { _csrf: csrfOf(page), name, password, next: '/' })
  }

  /** The CSRF token printed in a signed-in page. */
  async csrf(): Promise<string> {
    return csrfOf(await (await this.get('/password')).text())
  }

  /** Posts a console form with the session's CSRF token. */
  async submit(p: string, fields: Record<string, string> = {}): Promise<Response> {
    return this.post(p, { _csrf: await this.csrf(), ...fields })
  }
}

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html)
  if (!m) throw new Error(`no CSRF token in page:\n${html.slice(0, 1500)}`)
  return m[1]!
}
