import { serve, type ServerType } from '@hono/node-server'
import { createHmac } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { createApp, staffMacsOfConfig, visitPolicyOf } from './app.js'
import { systemClock } from './clock.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { closeDb, openDb } from './db/open.js'
import { createDryRunGate } from './gate/dry-run.js'
import { createKernelNeighbours, withLoopbackDemoMac } from './gate/neighbours.js'
import { JOBS, startJobs } from './jobs.js'
import { createKernelPresence } from './visits/kernel-presence.js'
import { createPresenceTracker } from './visits/presence.js'
import { parseMac, type Mac } from './mac.js'
import { loadOrCreateSecret } from './secret.js'
import { createConsoleSender } from './sms/console.js'
import { createHttpSender } from './sms/http.js'
import { createFailoverSender, type SmsSender } from './sms/sender.js'

const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`)

/** Reads `--config FILE` (or BRANCHGATE_CONFIG) and the environment; exits non-zero when invalid. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): { config: Config; file: string | null } {
  const i = argv.indexOf('--config')
  const file = i >= 0 ? (argv[i + 1] ?? '') : (env.BRANCHGATE_CONFIG ?? null)
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

function buildSms(config: Config): SmsSender {
  return createFailoverSender(
    config.sms.providers.map((p) => (p.type === 'console' ? createConsoleSender() : createHttpSender(p))),
  )
}

/** The composition root: config, database, adapters, app, listeners, and a clean stop. */
export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  let loaded: { config: Config; file: string | null }
  try {
    loaded = readConfig(argv, env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`branchgate: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
  const { config, file } = loaded
  const dataDir = path.resolve(config.dataDir)
  mkdirSync(dataDir, { recursive: true, mode: 0o750 })
  const db = openDb(path.join(dataDir, 'branchgate.db'))
  const secret = loadOrCreateSecret(dataDir)
  const clock = systemClock

  const gate = createDryRunGate(clock, log)
  const demoMac = parseMac(
    '02' + createHmac('sha256', secret).update('demo-mac').digest('hex').slice(0, 10),
  ) as Mac
  const neighbours = withLoopbackDemoMac(createKernelNeighbours(), demoMac)

  const { portal, admin, visits, visitRows, session } = createApp({
    config,
    db,
    gate,
    gateBackend: config.gate.backend,
    sms: buildSms(config),
    neighbours,
    clock,
    secret,
    log,
  })

  const listen = (app: { fetch: (r: Request, env: any) => Response | Promise<Response> }, l: { host: string; port: number }, what: string) =>
    new Promise<ServerType>((resolve, reject) => {
      const server = serve({ fetch: app.fetch, hostname: l.host, port: l.port }, () => resolve(server))
      server.once('error', (err) => reject(new Error(`cannot listen for the ${what} on ${l.host}:${l.port}: ${err.message}`)))
    })

  let servers: ServerType[]
  try {
    servers = [await listen(portal, config.listen.portal, 'portal'), await listen(admin, config.listen.admin, 'console')]
  } catch (err) {
    log(`branchgate: ${(err as Error).message}`)
    closeDb(db)
    process.exit(1)
  }
  const shown = (h: string) => (h === '0.0.0.0' || h === '::' ? 'localhost' : h)
  log(`branchgate ${file ? `with ${file}` : 'in demo mode (no config file)'}: branch ${config.branch.id}`)
  log(`portal  on http://${shown(config.listen.portal.host)}:${config.listen.portal.port}`)
  log(`console on http://${shown(config.listen.admin.host)}:${config.listen.admin.port}`)
  log(`data in ${dataDir}; gate ${config.gate.backend}; sms ${config.sms.providers.map((p) => p.type).join(' > ')}`)
  if (config.gate.backend === 'dry-run') log('gate is dry-run: nobody is really let through (demo)')

  const tracker = createPresenceTracker({
    db,
    source: createKernelPresence({ gate, log }),
    visits: visitRows,
    book: visits,
    policy: { ...visitPolicyOf(config), rememberMs: config.remember.days * 86_400_000 },
    staffMacs: staffMacsOfConfig(config),
    monotonic: { now: () => performance.now() },
    log,
  })
  const jobs = startJobs(JOBS, { tracker, session, log }, config, clock)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping`)
    const jobsStopped = jobs.stop()
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
  main().catch((err) => {
    console.error(`branchgate: ${(err as Error).stack ?? err}`)
    process.exit(1)
  })
}
