import { existsSync } from 'node:fs'
import path from 'node:path'
import { systemClock, type Clock } from '../clock.js'
import { ConfigError, type Config } from '../config.js'
import { OperatorError } from '../errors.js'
import { accessStatements } from '../db/access.js'
import { auditStatements } from '../db/audit.js'
import { closeDb, openDb, type Db } from '../db/open.js'
import { createDeviceAccess, type DeviceAccess } from '../access/device-access.js'
import { createDryRunGate } from '../gate/dry-run.js'
import type { Gate } from '../gate/gate.js'
import { nftablesGateFor, type NftablesGate } from '../gate/nftables.js'
import { readConfig } from '../main.js'
import { visitPolicyOf } from '../app.js'
import { visitStatements } from '../db/visits.js'
import { uuidv7 } from '../ids.js'
import { createVisitBook } from '../visits/book.js'
import { loadOrCreateSecret } from '../secret.js'
import { buildOutbox } from '../sync/build.js'

/** What a one-shot command needs: the config, the database, the gate and the one change path. */
export interface CliContext {
  config: Config
  db: Db
  gate: Gate
  /** The nftables gate, when that is the configured backend. */
  nft: NftablesGate | null
  access: DeviceAccess
  clock: Clock
  log: (line: string) => void
  close(): void
}

/**
 * Opens what a command needs. The gate only changes elements of the running table: the table
 * itself is installed by `serve`.
 */
export function openCliContext(
  argv: string[],
  env: NodeJS.ProcessEnv,
  clock: Clock = systemClock,
): CliContext {
  const { config } = readConfig(argv, env)
  const log = (line: string) => console.error(line)
  const file = path.join(path.resolve(config.dataDir), 'branchgate.db')
  // A one-shot command never creates a database: a typo in --config must not start an empty one.
  if (!existsSync(file))
    throw new ConfigError([`no database at ${file}: run branchgate serve with this config first`])
  const db = openDb(file)
  const nft =
    config.gate.backend === 'nftables' ? nftablesGateFor(config, config.gate, { clock, log }) : null
  const gate: Gate = nft ?? createDryRunGate(clock)
  const access = createDeviceAccess({
    db,
    gate,
    clock,
    access: accessStatements(db),
    audit: auditStatements(db),
    log,
    visits: createVisitBook({
      db,
      visits: visitStatements(db),
      branchId: config.branch.id,
      policy: visitPolicyOf(config),
      newId: uuidv7,
      outbox: buildOutbox(db, {
        branchId: config.branch.id,
        sync: config.sync,
        secret: loadOrCreateSecret(path.resolve(config.dataDir)),
      }),
    }),
  })
  return {
    config,
    db,
    gate,
    nft,
    access,
    clock,
    log,
    close() {
      nft?.close()
      closeDb(db)
    },
  }
}

/** Runs a command body with a context, turning config errors into exit code 2. */
export async function withContext(
  argv: string[],
  env: NodeJS.ProcessEnv,
  body: (ctx: CliContext) => Promise<number>,
): Promise<number> {
  let ctx: CliContext
  try {
    ctx = openCliContext(argv, env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`branchgate: ${err.message}`)
      return 2
    }
    // A damaged data file: the boundary in cli.ts says which and what to do.
    if (err instanceof OperatorError) throw err
    console.error(`branchgate: ${(err as Error).message}`)
    return 1
  }
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

/** The branch's local time for `ms`, e.g. "2026-03-02 09:00". */
export function localTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(ms)
}
