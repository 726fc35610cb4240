/**
 * A server for the bench, run in its own process so the load generator does not share its event
 * loop. `portal`: the real app on a temp SQLite file, dry-run gate, an in-process SMS provider (in the
 * failover chain, as main.ts wires providers) that hands codes to the parent over IPC, and neighbours mapping 127.0.X.Y to a MAC per address.
 * `portal-metrics`: the same with the service's metrics on (prom-client registry with Node's own
 * figures, every try and step reported), to weigh what instrumentation costs a login.
 * `hello`: a bare Hono "hello" server, the ceiling. `stub`: the three routes of a login answered
 * with fixed pages and no work, to measure the load generator and the machine on their own.
 *
 * Messages from the parent: 'cpu' answers with this process's CPU time so far (µs); 'held', with
 * how long each WAL restart or truncation so far held the portal's writers back (ms).
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createApp } from '../src/app.js'
import { createServices } from '../src/services.js'
import { systemClock } from '../src/clock.js'
import { loadConfig } from '../src/config.js'
import { startCheckpointer } from '../src/db/checkpointer.js'
import { openDb, setBusyPolicy } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { plainIp } from '../src/gate/neighbours.js'
import { parseMac, type Mac } from '../src/mac.js'
import { benchMac } from './bench-phones.js'
import { smsStatements } from '../src/db/sms.js'
import { ridersOf } from '../src/db/riders.js'
import { attemptRecorder } from '../src/sms/metrics.js'
import { createFailoverSender } from '../src/sms/sender.js'
import { createServiceMetrics } from '../src/observe/observer.js'
import { createLog, logKey, type Log, type LogFields, type LogLevel } from '../src/log.js'

const mode = process.argv[2]
// The parent may be gone (it stops this server as soon as a run fails, while codes are still on
// their way): a message then is dropped, not an EPIPE that kills the process and hides the cause.
const send = (m: unknown) => {
  if (process.connected) process.send!(m, () => {})
}

// Codes reach the load generator in one IPC message per event-loop turn: a message per code would
// cost the portal a pipe write per login, which a real SMS provider's HTTP call does not.
let codes: Array<{ to: string; code: string }> = []
function deliver(to: string, code: string) {
  if (codes.length === 0) setImmediate(() => send({ codes: codes.splice(0) }))
  codes.push({ to, code })
}

// Each WAL restart's or truncation's hold on the writers (src/db/checkpointer.ts), in ms.
const held: number[] = []
process.on('message', (m) => {
  if (m === 'cpu') {
    const u = process.cpuUsage()
    send({ cpu: u.user + u.system })
  } else if (m === 'held') send({ held })
})

function listen(fetch: Parameters<typeof serve>[0]['fetch'], cleanUp = () => {}) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
    send({ port: info.port }),
  )
  process.on('disconnect', () =>
    server.close(() => {
      cleanUp()
      process.exit(0)
    }),
  )
}

if (mode === 'hello') {
  const app = new Hono()
  app.get('/', (c) => c.text('hello'))
  listen(app.fetch)
} else if (mode === 'stub') {
  const app = new Hono()
  const page = (body: string) =>
    `<!doctype html><html><body>${body}${' '.repeat(3000)}</body></html>`
  let n = 0
  app.get('/', (c) => c.html(page('<form method="post" action="/login"></form>')))
  app.post('/login', async (c) => {
    const form = new URLSearchParams(await c.req.text())
    deliver(`+52${form.get('phone')}`, '123456')
    return c.html(page(`<input type="hidden" name="challenge" value="${++n}">`))
  })
  app.post('/verify', async (c) => {
    await c.req.text()
    return c.html(page('<p>Listo</p>'))
  })
  listen(app.fetch)
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchgate-bench-'))
  const config = loadConfig(
    JSON.stringify({
      dataDir: dir,
      // The code limits are the defaults (every bench login is a new phone and number); the
      // branch-wide fraud rules stay on (their cost is part of a login) with limits out of reach.
      sms: { fraud: { perPrefixPerHour: 1e9, branchPerHour: 1e9, dailyBudget: 1e9 } },
    }),
  )
  const file = path.join(dir, 'branchgate.db')
  // The service's log, to standard error (bench/portal.ts passes it through): a failed request's
  // cause is in its line. Routine info events (one per login) are left out: writing them would
  // be part of the figures, and they say nothing about a failure.
  const full = createLog({
    format: 'text',
    branch: 'bench',
    key: logKey(Buffer.alloc(32, 9)),
    write: (line) => process.stderr.write(`portal-server: ${line}\n`),
  })
  const log: Log = Object.assign((line: string) => full(line), {
    event: (name: string, fields?: LogFields, level: LogLevel = 'info') => {
      if (level !== 'info') full.event(name, fields, level)
    },
  })
  const db = openDb(file)
  // How often SQLite refused BEGIN IMMEDIATE before busy_timeout ran out (asked again: src/db/open.ts).
  let refusals = 0
  setBusyPolicy(db, {
    onRetry: () => {
      if (refusals++ === 0)
        setTimeout(() => {
          log(`database: BEGIN IMMEDIATE refused ${refusals} time(s) in a second, asked again`)
          refusals = 0
        }, 1000)
    },
  })
  // As main.ts does: checkpoints in a worker, off the event loop.
  // Any restart that kept writers waiting 200 ms or more is logged, to tell a slow disk apart.
  startCheckpointer(db, file, log, {
    slowMs: Number(process.env.BENCH_SLOW_RESTART_MS ?? 200),
    onTick: (t) => {
      if (t.heldMs > 0) held.push(t.heldMs)
    },
  })
  const macs = new Map<string, Mac>()
  const prometheus =
    mode === 'portal-metrics' ? createServiceMetrics(config, { providers: ['in-process'] }) : null
  // As createSmsChain wires it: tries ride in the commit that records the delivery.
  const record = attemptRecorder(smsStatements(db), systemClock, log, setImmediate, ridersOf(db))
  const services = createServices({
    ...(prometheus ? { metrics: prometheus.metrics } : {}),
    config,
    db,
    gate: createDryRunGate(systemClock),
    // As main.ts wires a provider: inside the failover chain, every try recorded for the figures.
    sms: createFailoverSender(
      [
        {
          name: 'in-process',
          async send(m) {
            deliver(m.to, m.code)
            return { provider: 'in-process' }
          },
        },
      ],
      {
        budgetMs: config.sms.sendBudgetMs,
        onAttempt: (a) => {
          record(a)
          prometheus?.metrics.smsAttempt(a)
        },
      },
    ),
    clock: systemClock,
    secret: Buffer.alloc(32, 9),
    log,
  })
  // 127.W.X.Y -> 02:00:00:WW:XX:YY: one device per loopback address, known without a lookup as
  // the service's neighbour watch knows the devices it has seen.
  const known = (ip: string) => {
    let mac = macs.get(ip)
    if (!mac) {
      mac = parseMac(benchMac(plainIp(ip))) as Mac
      macs.set(ip, mac)
    }
    return mac
  }
  const neighbours = { macFor: async (ip: string) => known(ip), known }
  const { portal } = createApp(services, { neighbours })
  // The WAL of a bench run grows to a few hundred MB: leave nothing behind.
  // A request answered 503 (something it did not expect) is logged with how long it took: a
  // database lock waited out for the whole busy timeout reads ~5000 ms, a refusal at once ~0.
  // An answer given at once (the splash page's fast path) is passed on as it is, as main.ts does.
  const timed: typeof portal.fetch = (req, env, ctx) => {
    const t0 = performance.now()
    const answer = portal.fetch(req, env, ctx)
    const check = (res: Response) => {
      if (res.status >= 500)
        log(
          `${req.method} ${new URL(req.url).pathname} answered ${res.status} after ${Math.round(performance.now() - t0)} ms`,
        )
      return res
    }
    return answer instanceof Promise ? answer.then(check) : check(answer)
  }
  listen(timed, () => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
}
