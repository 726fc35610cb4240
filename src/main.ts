import { serve, type ServerType } from '@hono/node-server'
import { createHmac } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { createApp } from './app.js'
import { readOptions } from './cli/options.js'
import { SPECS } from './cli/specs.js'
import { systemClock } from './clock.js'
import type { Config } from './config.js'
import { pidFile, readConfig, readPem } from './config-file.js'
import { threadConsoleWorker } from './console/worker.js'
import { prepareDataDir } from './data-dir.js'
import { startCheckpointer } from './db/checkpointer.js'
import { closeDb, openDb } from './db/open.js'
import { openConfiguredGate } from './gate/configured.js'
import { openNeighbourFeed } from './gate/neighbour-monitor.js'
import { createNeighbourWatch, withLoopbackDemoMac } from './gate/neighbours.js'
import { JOBS, startJobs } from './jobs.js'
import { createLog, logKey } from './log.js'
import type { NeighbourWatchState } from './observe/state.js'
import { createObserver, createServiceMetrics } from './observe/observer.js'
import { configHash, versionInfo, versionLine } from './version.js'
import { parseMac, type Mac } from './mac.js'
import { createSecret, readSecret } from './secret.js'
import { createServices, presenceStepOf, visitPolicyOf, type Services } from './services.js'
import { templateWarnings } from './sms/segments.js'
import { admitStaff } from './access/session-jobs.js'
import { fatalReport } from './errors.js'
import { planReload } from './reload.js'
import { replaceable } from './replaceable.js'
import { branchOffsetSeconds, createSyncJob } from './sync/schedule.js'
import { createKernelPresence } from './visits/kernel-presence.js'
import { createPresenceTracker } from './visits/presence.js'

type Fetch = (req: Request, env: any) => Response | Promise<Response>

/**
 * Binds a listener whose requests wait for `app` (a portal on port 0 gets its app once the bound
 * port is known). Rejects with a sentence when it cannot bind.
 */
function listen(
  app: Promise<Fetch>,
  l: { host: string; port: number },
  what: string,
  secure?: { key: Buffer; cert: Buffer },
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    // Once the app is known, its answer is passed on as it comes: a Response given at once
    // (the splash page's fast path) is written by @hono/node-server without a microtask.
    let known: Fetch | null = null
    void app.then((f) => (known = f)).catch(() => {})
    const fetch: Fetch = (req, env) => (known ? known(req, env) : app.then((f) => f(req, env)))
    const options = { fetch, hostname: l.host, port: l.port }
    const server = secure
      ? serve({ ...options, createServer: createHttpsServer, serverOptions: secure }, () =>
          resolve(server),
        )
      : serve(options, () => resolve(server))
    server.once('error', (err) =>
      reject(new Error(`cannot listen for the ${what} on ${l.host}:${l.port}: ${err.message}`)),
    )
  })
}

/** How long a stop waits for requests in flight (and a sync batch) before it exits anyway. */
const STOP_GRACE_MS = 10_000
const portOf = (s: ServerType) => (s.address() as AddressInfo).port

/**
 * The composition root: config, data folder, database, firewall, services, app, listeners, jobs,
 * and a clean stop. What the operator must fix (options, config, data files) is thrown as an
 * OperatorError before anything is written; the process boundary prints it and exits 2.
 */
export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  readOptions('serve', SPECS.serve.usage, argv, {})
  const loaded = readConfig(argv, env)
  let config: Config = loaded.config
  const file = loaded.file
  const consoleTls = config.console.tls
    ? {
        cert: readPem('console.tls.certFile', config.console.tls.certFile, env),
        key: readPem('console.tls.keyFile', config.console.tls.keyFile, env),
      }
    : null
  const tls = config.listen.tls
  const portalTls = tls
    ? {
        cert: readPem('listen.tls.certFile', tls.certFile, env),
        key: readPem('listen.tls.keyFile', tls.keyFile, env),
      }
    : null
  const dataDir = prepareDataDir(config.dataDir)
  // Check what is there before creating anything: a damaged key must not leave a new database
  // behind, nor a damaged database a new key.
  const existingSecret = readSecret(dataDir)
  const dbFile = path.join(dataDir, 'branchgate.db')
  const db = openDb(dbFile)
  const secret = existingSecret ?? createSecret(dataDir)
  // Plain text unless log.format is json; MACs hashed and numbers masked in either (src/log.ts).
  const log = createLog({
    format: config.log.format,
    branch: config.branch.id,
    key: logKey(secret),
  })
  const clock = systemClock
  const fail = (message: string): never => {
    log(`branchgate: ${message}`)
    closeDb(db)
    process.exit(1)
  }

  // Everything that can refuse the start is built and checked before any port is opened: the
  // firewall, the services, the apps (the notice files are read there). A refusal then leaves
  // nothing open behind it (the database is closed, the gate stopped) and the operator's
  // sentence is the only trace.
  const gateHandle = await openConfiguredGate(config, { clock, log, role: 'service' }).catch(
    (err: Error) => fail(`cannot set up the firewall: ${err.message}`),
  )
  const refuse = async (err: unknown): Promise<never> => {
    await gateHandle.stop()
    closeDb(db)
    throw err
  }
  // The registry first: the services report to it (null when metrics.enabled is false).
  let prometheus: ReturnType<typeof createServiceMetrics>
  let services: Services
  try {
    prometheus = createServiceMetrics(config)
    services = createServices({
      config,
      db,
      gate: gateHandle.gate,
      clock,
      secret,
      log,
      ...(prometheus ? { metrics: prometheus.metrics } : {}),
    })
  } catch (err) {
    return refuse(err)
  }
  let tracker: ReturnType<typeof createPresenceTracker> | null = null
  let watchState: (() => NeighbourWatchState) | null = null
  const observer = prometheus
    ? createObserver({
        services,
        prometheus,
        dbFile,
        presence: () => tracker?.lastSweep() ?? null,
        neighbours: () => watchState?.() ?? null,
      })
    : null
  try {
    const n = await services.access.rebuildGate()
    log(`gate ${config.gate.backend}: ${n} device(s) let through from the database`)
  } catch (err) {
    fail(`cannot set up the firewall: ${(err as Error).message}`)
  }
  for (const warning of templateWarnings(config)) log(warning)

  const demoMac = parseMac(
    '02' + createHmac('sha256', secret).update('demo-mac').digest('hex').slice(0, 10),
  ) as Mac
  // The neighbour table kept from the kernel's changes instead of a process per request
  // (src/gate/neighbours.ts): read on a netlink socket of the service's own
  // (src/gate/neighbour-monitor.ts), else through `ip monitor neigh`.
  const feed = openNeighbourFeed()
  if (typeof feed === 'string')
    log(`neighbours: the table's changes through ip monitor (in this process: ${feed})`)
  const neighbourWatch = createNeighbourWatch({
    log,
    ...(typeof feed === 'string' ? {} : { feed }),
  })
  const watchWay = typeof feed === 'string' ? 'ip' : 'netlink'
  watchState = () => ({ ...neighbourWatch.state(), way: watchWay })
  // Only the demo invents a MAC for loopback; a real gate knows devices by the kernel alone.
  const neighbours =
    config.gate.backend === 'dry-run'
      ? withLoopbackDemoMac(neighbourWatch, demoMac)
      : neighbourWatch
  // A publicUrl on port 0 is the default of a portal on port 0 (tests, the demo on PORT=0): it
  // follows the bound port, known once the listener is up; the apps ask for it per redirect
  // (the services use publicUrl's host name alone, the same either way).
  let publicUrl = config.publicUrl
  const edges = {
    neighbours,
    publicUrl: () => publicUrl,
    // The console's long work (a year's dashboard, a 100,000-row import...) never on the
    // portal's thread.
    consoleWorker: threadConsoleWorker,
    ...(observer && !config.metrics.listen ? { observe: observer.routes } : {}),
  }
  let built: ReturnType<typeof createApp>
  try {
    built = createApp(services, edges)
  } catch (err) {
    neighbourWatch.close()
    return refuse(err)
  }

  // Checked: now the listeners.
  let ready!: (apps: { portal: Fetch; admin: Fetch; metrics: Fetch }) => void
  const apps = new Promise<{ portal: Fetch; admin: Fetch; metrics: Fetch }>((r) => (ready = r))
  const portalApp = apps.then((a) => a.portal)
  let servers: ServerType[] = []
  let metricsServer: ServerType | null = null
  try {
    servers = [
      await listen(portalApp, config.listen.portal, 'portal'),
      await listen(
        apps.then((a) => a.admin),
        config.listen.admin,
        'console',
        consoleTls ?? undefined,
      ),
    ]
    if (tls && portalTls) servers.push(await listen(portalApp, tls, 'portal over TLS', portalTls))
    // /metrics and /readyz on a listener of their own on the management LAN (metrics.listen).
    if (config.metrics.enabled && config.metrics.listen)
      metricsServer = await listen(
        apps.then((a) => a.metrics),
        config.metrics.listen,
        'metrics',
      )
  } catch (err) {
    for (const s of servers) s.close()
    fail((err as Error).message)
  }
  if (metricsServer) servers.push(metricsServer)
  const [portalServer, adminServer] = servers as [ServerType, ServerType]
  // Not mounted again for it: that compiled every view twice and kept two apps' worth of
  // closures (with the console's includes compiled once, src/views.ts, the service's RSS after
  // 100 pages went 104 -> 99.5 MB in the bench's startup section).
  if (new URL(config.publicUrl).port === '0') {
    publicUrl = `http://localhost:${portOf(portalServer)}`
    config = { ...config, publicUrl }
  }
  const { portal, admin, consoleWorker } = built
  ready({
    portal: portal.fetch,
    admin: admin.fetch,
    metrics: observer ? observer.routes.fetch : () => new Response(null, { status: 404 }),
  })

  // Demo: nobody can sign in to the console yet, so create `admin` and print its password once.
  const consoleAuth = services.consoleAuth
  if (file === null) {
    const first = await consoleAuth.createFirstAdmin()
    if (first) {
      console.log(
        `[console] user=${first.name} password=${first.password} (one-time: you choose a new one at first sign-in)`,
      )
    }
  } else if (consoleAuth.count() === 0) {
    log('console: no console user yet; create one with: branchgate user add NAME --role admin')
  }

  const shown = (h: string) => (h === '0.0.0.0' || h === '::' ? 'localhost' : h)
  log(
    // The version first: a fleet's journals say which build runs where.
    `${versionLine()} ${file ? `with ${file}` : 'in demo mode (no config file)'}: branch ${config.branch.id}`,
  )
  log(`portal  on http://${shown(config.listen.portal.host)}:${portOf(portalServer)}`)
  log(
    `console on ${consoleTls ? 'https' : 'http'}://${shown(config.listen.admin.host)}:${portOf(adminServer)}`,
  )
  if (tls && servers[2])
    log(
      `portal  on https://${shown(tls.host)}:${portOf(servers[2])} (RFC 8908 API at /api/captive)`,
    )
  if (metricsServer)
    log(`metrics on http://${shown(config.metrics.listen!.host)}:${portOf(metricsServer)}/metrics`)

  // Its long-lived ip (the neighbour table per sweep) ends with the jobs, at stop.
  const presenceSource = createKernelPresence({
    gate: services.gate,
    device: config.gate.backend === 'nftables' ? config.gate.guestInterface : null,
    log,
  })
  tracker = createPresenceTracker({
    db,
    source: presenceSource,
    visits: services.visitRows,
    book: services.visits,
    policy: { ...visitPolicyOf(config), rememberMs: config.remember.days * 86_400_000 },
    staffMacs: services.staffMacs,
    monotonic: { now: () => performance.now() },
    stepMs: presenceStepOf(config),
    memory: services.presenceMemory,
    log,
  })
  const offsetSeconds = branchOffsetSeconds(config.branch.id, config.sync.offsetMaxSeconds)
  // The CRM runner behind a door: live reload swaps in one for a new CRM target.
  const syncRunner = replaceable(services.syncRunner())
  const sync = createSyncJob({ runner: syncRunner.value, offsetSeconds, clock, log })
  log(
    `sync: ${config.sync.adapter.type === 'none' ? 'no CRM configured; events accumulate in the outbox' : `to ${config.sync.adapter.type}`}, schedule "${config.sync.schedule}" + ${offsetSeconds} s offset for this branch`,
  )
  const jobs = startJobs(
    JOBS,
    {
      tracker,
      session: services.session,
      sms: services.smsRows,
      sync,
      retention: services.retention,
      allowance: services.allowance,
      log,
      metrics: services.metrics,
      ...(observer ? { firewallCheck: observer.firewallCheck } : {}),
    },
    config,
    clock,
  )
  // After the jobs' first runs at start: what the start wrote (the migrations, the retention's
  // record of its run) is copied into the database now, and the checkpoint thread starts when
  // something writes again (src/db/checkpointer.ts).
  const checkpointer = startCheckpointer(db, dbFile, log)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping`)
    // Jobs first: a sweep or a revocation in flight still needs the gate and the database. The
    // sync's waits end at once; a batch in flight is finished, or abandoned at the limit
    // below (it is sent again next time).
    const jobsStopped = Promise.all([
      sync.stop(),
      // Then one last count of the kernel's per-device bytes: the next start counts from zero.
      jobs
        .stop()
        .then(() =>
          services.allowance
            .sweep(clock.now())
            .catch((err) => log(`allowance: last count failed: ${(err as Error).message}`)),
        ),
      checkpointer.stop(),
      consoleWorker.close(),
    ]).finally(() => {
      neighbourWatch.close()
      presenceSource.close()
    })
    rmSync(pidFile(config), { force: true })
    let gateStopped = false
    const stopGate = () => {
      if (!gateStopped) gateHandle.stop() // its timers and the captive resolver's process
      gateStopped = true
    }
    let open = servers.length
    const done = async () => {
      if (--open > 0) return
      await jobsStopped
      // The gate last: a login still in flight above needed it to let its phone through.
      stopGate()
      // Open visits' last activity and devices' last seen the presence sweeps kept in memory
      // (written once a step, src/visits/presence.ts).
      try {
        tracker.flush()
      } catch (err) {
        log(
          `presence: cannot write the last activity of open visits and devices: ${(err as Error).message}`,
        )
      }
      closeDb(db)
      log('stopped')
      process.exit(0)
    }
    // Upgrades restart the service (issue 14): a request in flight (a guest typing the code as
    // the package is upgraded) is answered before the exit; only idle connections end now.
    for (const s of servers) {
      s.close(done)
      ;(s as any).closeIdleConnections?.()
    }
    setTimeout(() => {
      stopGate()
      closeDb(db)
      process.exit(0)
    }, STOP_GRACE_MS).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  // Live reload (systemctl reload branchgate, branchgate reload): one at a time, in order.
  let running = config
  let reloads = Promise.resolve()
  const reload = async () => {
    let wanted: Config
    try {
      wanted = readConfig(argv, env).config
    } catch (err) {
      log(`reload refused, the running config stays: ${fatalReport(err).text}`)
      return
    }
    // Like at start: a publicUrl on port 0 follows the bound port.
    if (new URL(wanted.publicUrl).port === '0') wanted = { ...wanted, publicUrl: running.publicUrl }
    const plan = planReload(running, wanted)
    if (plan.live.length === 0 && plan.restart.length === 0) {
      log('reload: the config file is unchanged')
      return
    }
    const touched = (prefix: string) => plan.live.some((k) => k.startsWith(prefix))
    try {
      if (touched('gate.walledGarden') && plan.next.gate.backend === 'nftables')
        await gateHandle.replaceWalledGarden(plan.next.gate.walledGarden)
      const before = new Set(services.staffMacs)
      services.applyLiveConfig(plan.next)
      if (touched('sync.')) {
        syncRunner.replace(services.syncRunner())
        // The new CRM hears now what waited, not at the next tick.
        void sync.runNow()
      }
      for (const warning of templateWarnings(plan.next)) log(warning)
      const added = plan.next.staffMacs.filter((m) => !before.has(m))
      if (added.length) await admitStaff(services.session, added, clock.now())
    } catch (err) {
      log(`reload: applying the new config failed (${(err as Error).message}); restart to be sure`)
      return
    }
    running = plan.next
    if (plan.live.length) log(`reload: applied ${plan.live.join(', ')}`)
    if (plan.restart.length)
      log(
        `reload: needs a restart to apply ${plan.restart.join(', ')} (systemctl restart branchgate; guests stay let through)`,
      )
  }
  process.on('SIGHUP', () => {
    log('SIGHUP: reloading the config')
    reloads = reloads.then(reload)
  })

  // Last, once SIGTERM and SIGHUP are handled: the pid file, and the line that says it is ready.
  writeFileSync(pidFile(config), `${process.pid}\n`)
  log(
    `data in ${dataDir}; gate ${config.gate.backend}; sms ${config.sms.providers.map((p) => p.type).join(' > ')}`,
  )
  if (config.gate.backend === 'dry-run') log('gate is dry-run: nobody is really let through (demo)')
  log.event('service.started', {
    version: versionInfo().version,
    commit: versionInfo().commit,
    branch: config.branch.id,
    configHash: configHash(config),
    gate: config.gate.backend,
    metrics: !config.metrics.enabled
      ? 'off'
      : config.metrics.listen
        ? 'own listener'
        : 'admin listener',
  })
}
