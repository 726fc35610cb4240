import { serve, type ServerType } from '@hono/node-server'
import { createHmac } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { createApp, staffMacsOfConfig, visitPolicyOf } from './app.js'
import { systemClock } from './clock.js'
import { threadConsoleWorker } from './console/worker.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { accessStatements } from './db/access.js'
import { startCheckpointer } from './db/checkpointer.js'
import { closeDb, openDb, type Db } from './db/open.js'
import { createDryRunGate } from './gate/dry-run.js'
import type { Gate } from './gate/gate.js'
import { createKernelNeighbours, withLoopbackDemoMac } from './gate/neighbours.js'
import { JOBS, startJobs } from './jobs.js'
import { createKernelPresence } from './visits/kernel-presence.js'
import { createPresenceTracker } from './visits/presence.js'
import { nftablesGateFor, type NftablesGate } from './gate/nftables.js'
import { createWalledGarden, resolveWithSystem } from './gate/walled-garden.js'
import { parseMac, type Mac } from './mac.js'
import { createSecret, readSecret } from './secret.js'
import { readOptions } from './cli/options.js'
import { prepareDataDir } from './data-dir.js'
import { DataFileError, fatalReport } from './errors.js'
import { smsStatements } from './db/sms.js'
import { createSmsChain } from './sms/providers.js'
import { buildSyncRunner } from './sync/build.js'
import { branchOffsetSeconds, createSyncJob } from './sync/schedule.js'

const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`)

/** Reads `--config FILE` (or BRANCHGATE_CONFIG) and the environment; exits non-zero when invalid. */
export function readConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { config: Config; file: string | null } {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='))
  const file =
    i < 0
      ? (env.BRANCHGATE_CONFIG ?? null)
      : argv[i] === '--config'
        ? (argv[i + 1] ?? '')
        : argv[i]!.slice('--config='.length)
  let text: string | null = null
  if (file !== null) {
    if (file === '') throw new ConfigError(['--config needs a file name'])
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new ConfigError([`cannot read config file ${file}: ${(err as Error).message}`])
    }
  }
  return { config: loadConfig(text, env), file }
}

/** Where `serve` writes its process id, for `branchgate stop`. */
export const pidFile = (config: Config) => path.join(path.resolve(config.dataDir), 'branchgate.pid')

/**
 * The gate for the config. With nftables the table is installed by the first rebuild; the walled
 * garden's host names are resolved now and every `refreshMinutes`.
 */
async function buildGate(config: Config, clock: typeof systemClock) {
  if (config.gate.backend !== 'nftables')
    return { gate: createDryRunGate(clock, log) as Gate, stop: () => {} }
  const g = config.gate
  const gate: NftablesGate = nftablesGateFor(config, g, { clock, log })
  const garden = createWalledGarden({ ...g.walledGarden, resolve: resolveWithSystem, log })
  await gate.setGarden(await garden.addresses())
  const timer = setInterval(() => {
    garden
      .addresses()
      .then((a) => gate.setGarden(a))
      .catch((err) => log(`walled garden: refresh failed: ${(err as Error).message}`))
  }, g.walledGarden.refreshMinutes * 60_000)
  timer.unref()
  return {
    gate: gate as Gate,
    stop: () => {
      clearInterval(timer)
      // The table stays: the kernel's timeouts keep governing access while branchgate is down.
      gate.close()
    },
  }
}

/** Start-up: the let-through set rebuilt from the live authorizations, in one batch. */
export async function rebuildGate(gate: Gate, db: Db, now: number): Promise<number> {
  const live = accessStatements(db).allLive(now)
  await gate.replaceAll(live.map((a) => ({ mac: a.mac as Mac, until: a.ends_at })))
  return live.length
}

export const SERVE_USAGE = 'branchgate serve [--config FILE]'

/** Reads a PEM file named in the config; a DataFileError names the key and the file. */
function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new DataFileError(
      file,
      `cannot read ${key} ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix the path in the config file or the file's rights`,
    )
  }
}

/**
 * The composition root: config, database, adapters, app, listeners, and a clean stop. What the
 * operator must fix (options, config, data files) is thrown as an OperatorError before anything
 * is written; the process boundary prints it and exits 2.
 */
export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  readOptions('serve', SERVE_USAGE, argv, {})
  const { config, file } = readConfig(argv, env)
  const consoleTls = config.console.tls
    ? {
        cert: readPem('console.tls.certFile', config.console.tls.certFile),
        key: readPem('console.tls.keyFile', config.console.tls.keyFile),
      }
    : null
  const tls = config.listen.tls
  const portalTls = tls
    ? {
        cert: readPem('listen.tls.certFile', tls.certFile),
        key: readPem('listen.tls.keyFile', tls.keyFile),
      }
    : null
  const dataDir = prepareDataDir(config.dataDir)
  // Check what is there before creating anything: a damaged key must not leave a new database
  // behind, nor a damaged database a new key.
  const existingSecret = readSecret(dataDir)
  const dbFile = path.join(dataDir, 'branchgate.db')
  const db = openDb(dbFile)
  const secret = existingSecret ?? createSecret(dataDir)
  const checkpointer = startCheckpointer(db, dbFile, log)
  const clock = systemClock

  let built: Awaited<ReturnType<typeof buildGate>>
  try {
    built = await buildGate(config, clock)
    const n = await rebuildGate(built.gate, db, clock.now())
    log(`gate ${config.gate.backend}: ${n} device(s) let through from the database`)
  } catch (err) {
    log(`branchgate: cannot set up the firewall: ${(err as Error).message}`)
    closeDb(db)
    process.exit(1)
  }
  const gate = built.gate
  const demoMac = parseMac(
    '02' + createHmac('sha256', secret).update('demo-mac').digest('hex').slice(0, 10),
  ) as Mac
  // Only the demo invents a MAC for loopback; a real gate knows devices by the kernel alone.
  const neighbours =
    config.gate.backend === 'dry-run'
      ? withLoopbackDemoMac(createKernelNeighbours(), demoMac)
      : createKernelNeighbours()

  const { portal, admin, consoleAuth, consoleWorker, visits, visitRows, session } = createApp({
    config,
    db,
    gate,
    gateBackend: config.gate.backend,
    sms: createSmsChain({ config, sms: smsStatements(db), clock, log }),
    neighbours,
    clock,
    secret,
    log,
    // The console's long work (a year's dashboard, a 100,000-row import...) never on the
    // portal's thread.
    consoleWorker: threadConsoleWorker,
  })

  // Demo: nobody can sign in to the console yet, so create `admin` and print its password once.
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

  const listen = (
    app: { fetch: (r: Request, env: any) => Response | Promise<Response> },
    l: { host: string; port: number },
    what: string,
    secure?: { key: Buffer; cert: Buffer },
  ) =>
    new Promise<ServerType>((resolve, reject) => {
      const options = { fetch: app.fetch, hostname: l.host, port: l.port }
      const server = secure
        ? serve({ ...options, createServer: createHttpsServer, serverOptions: secure }, () =>
            resolve(server),
          )
        : serve(options, () => resolve(server))
      server.once('error', (err) =>
        reject(new Error(`cannot listen for the ${what} on ${l.host}:${l.port}: ${err.message}`)),
      )
    })

  let servers: ServerType[]
  try {
    servers = [
      await listen(portal, config.listen.portal, 'portal'),
      await listen(admin, config.listen.admin, 'console', consoleTls ?? undefined),
    ]
    if (tls && portalTls) servers.push(await listen(portal, tls, 'portal over TLS', portalTls))
  } catch (err) {
    log(`branchgate: ${(err as Error).message}`)
    closeDb(db)
    process.exit(1)
  }
  const shown = (h: string) => (h === '0.0.0.0' || h === '::' ? 'localhost' : h)
  log(
    `branchgate ${file ? `with ${file}` : 'in demo mode (no config file)'}: branch ${config.branch.id}`,
  )
  log(`portal  on http://${shown(config.listen.portal.host)}:${config.listen.portal.port}`)
  log(
    `console on ${consoleTls ? 'https' : 'http'}://${shown(config.listen.admin.host)}:${config.listen.admin.port}`,
  )
  if (tls) log(`portal  on https://${shown(tls.host)}:${tls.port} (RFC 8908 API at /api/captive)`)
  writeFileSync(pidFile(config), `${process.pid}\n`)
  log(
    `data in ${dataDir}; gate ${config.gate.backend}; sms ${config.sms.providers.map((p) => p.type).join(' > ')}`,
  )
  if (config.gate.backend === 'dry-run') log('gate is dry-run: nobody is really let through (demo)')

  const tracker = createPresenceTracker({
    db,
    source: createKernelPresence({
      gate,
      device: config.gate.backend === 'nftables' ? config.gate.guestInterface : null,
      log,
    }),
    visits: visitRows,
    book: visits,
    policy: { ...visitPolicyOf(config), rememberMs: config.remember.days * 86_400_000 },
    staffMacs: staffMacsOfConfig(config),
    monotonic: { now: () => performance.now() },
    log,
  })
  const offsetSeconds = branchOffsetSeconds(config.branch.id, config.sync.offsetMaxSeconds)
  const sync = createSyncJob({
    runner: buildSyncRunner({ db, sync: config.sync, branchId: config.branch.id, clock, log }),
    offsetSeconds,
    clock,
    log,
  })
  log(
    `sync: ${config.sync.adapter.type === 'none' ? 'no CRM configured; events accumulate in the outbox' : `to ${config.sync.adapter.type}`}, schedule "${config.sync.schedule}" + ${offsetSeconds} s offset for this branch`,
  )
  const jobs = startJobs(
    JOBS,
    { tracker, session, sms: smsStatements(db), sync, log },
    config,
    clock,
  )

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping`)
    // Jobs first: a sweep or a revocation in flight still needs the gate and the database. The
    // sync's waits end at once; a batch in flight is finished, or abandoned at the 5 s limit
    // below (it is sent again next time).
    const jobsStopped = Promise.all([
      sync.stop(),
      jobs.stop(),
      checkpointer.stop(),
      consoleWorker.close(),
    ]).finally(() => built.stop())
    rmSync(pidFile(config), { force: true })
    let open = servers.length
    const done = async () => {
      if (--open > 0) return
      await jobsStopped
      closeDb(db)
      log('stopped')
      process.exit(0)
    }
    for (const s of servers) {
      s.close(done)
      ;(s as any).closeAllConnections?.()
    }
    setTimeout(() => {
      closeDb(db)
      process.exit(0)
    }, 5000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // The process boundary of `npm start` (`branchgate serve` has the same one in cli.ts).
  main().catch((err) => {
    const report = fatalReport(err)
    console.error(report.text)
    process.exit(report.exitCode)
  })
}
