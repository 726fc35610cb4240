import { existsSync } from 'node:fs'
import path from 'node:path'
import { systemClock, type Clock } from '../clock.js'
import { ConfigError, type Config } from '../config.js'
import { readConfig } from '../config-file.js'
import { prepareDataDir } from '../data-dir.js'
import { closeDb, openDb, type Db } from '../db/open.js'
import { GateError } from '../errors.js'
import { openConfiguredGate } from '../gate/configured.js'
import type { Gate } from '../gate/gate.js'
import type { NftablesGate } from '../gate/nftables.js'
import type { Services } from '../services.js'

/** What a one-shot command works with: the config, the database and the services. */
export interface CliContext {
  config: Config
  db: Db
  services: Services
  /** The nftables gate, when the command opened the gate and that is the configured backend. */
  nft: NftablesGate | null
  clock: Clock
  log: (line: string) => void
}

export interface CliContextOptions {
  /** The command changes or reads the firewall (allow, revoke, status, stop). */
  gate?: boolean
  /**
   * The command may create the database (`user add` on a new install). Otherwise a missing
   * database is refused: a typo in --config must not start an empty one.
   */
  createDatabase?: boolean
  clock?: Clock
  /** Where the services log (default: standard error). */
  log?: (line: string) => void
  /**
   * The command uses `ctx.services` (default true). A command that only reads (status, stop,
   * sms-status, doctor) says false: the services' code is then never loaded nor compiled, and
   * no secret is created, so `branchgate status` starts in less time (bench startup).
   */
  services?: boolean
}

/** The gate of a command that does not touch the firewall: any use is a bug, said plainly. */
const noGate: Gate = new Proxy({} as Gate, {
  get: () => () => Promise.reject(new GateError('this command does not use the firewall')),
})

/** The services of a command that said it does not use them: any use is a bug, said plainly. */
const noServices: Services = new Proxy({} as Services, {
  get: (_, key) => {
    throw new Error(`this command opened its context without services (services.${String(key)})`)
  },
})

/**
 * Opens what a command needs and builds the services the way the service does
 * (src/services.ts). The gate only changes elements of the running table: the table itself is
 * installed by `serve`. A config problem is a ConfigError; the boundary in cli.ts prints it.
 */
export async function openCliContext(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: CliContextOptions = {},
): Promise<CliContext & { close(): void }> {
  const clock = opts.clock ?? systemClock
  const { config } = readConfig(argv, env)
  const log = opts.log ?? ((line: string) => console.error(line))
  const file = path.join(path.resolve(config.dataDir), 'branchgate.db')
  if (!opts.createDatabase && !existsSync(file))
    throw new ConfigError([`no database at ${file}: run branchgate serve with this config first`])
  const dataDir = opts.createDatabase ? prepareDataDir(config.dataDir) : path.dirname(file)
  const db = openDb(file)
  try {
    const handle = opts.gate
      ? await openConfiguredGate(config, { clock, log, role: 'command' })
      : null
    let services = noServices
    if (opts.services !== false) {
      // Loaded on demand: the services are most of the command's code (see `services` above).
      const [{ loadOrCreateSecret }, { createServices }] = await Promise.all([
        import('../secret.js'),
        import('../services.js'),
      ])
      services = createServices({
        config,
        db,
        gate: handle?.gate ?? noGate,
        clock,
        secret: loadOrCreateSecret(dataDir),
        log,
      })
    }
    return {
      config,
      db,
      services,
      nft: handle?.nft ?? null,
      clock,
      log,
      close() {
        handle?.stop()
        closeDb(db)
      },
    }
  } catch (err) {
    closeDb(db)
    throw err
  }
}

/** Runs a command body with a context and closes it after. */
export async function withContext(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  body: (ctx: CliContext) => Promise<number> | number,
  opts: CliContextOptions = {},
): Promise<number> {
  const ctx = await openCliContext(argv, env, opts)
  try {
    return await body(ctx)
  } finally {
    ctx.close()
  }
}

/** `--config FILE` (or `--config=FILE`) removed, so commands can read their own arguments. */
export function withoutConfigArg(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') i++
    else if (!argv[i]!.startsWith('--config=')) out.push(argv[i]!)
  }
  return out
}
