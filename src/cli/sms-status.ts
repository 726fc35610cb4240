import type { Command } from './specs.js'
import { SPECS } from './specs.js'
import { systemClock, type Clock } from '../clock.js'
import { ConfigError, type Config } from '../config.js'
import { auditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { smsStatements } from '../db/sms.js'
import { withContext } from './context.js'
import { cliActor } from './actor.js'
import { smsStatusLines } from '../sms/status.js'

type Out = (line: string) => void
type SmsCommand = Command & {
  run(argv: string[], env: NodeJS.ProcessEnv, out?: Out): Promise<number>
}

/** Runs `body` with the config and the existing database (never creates one). */
async function withDb(
  argv: string[],
  env: NodeJS.ProcessEnv,
  body: (config: Config, db: Db) => number,
): Promise<number> {
  try {
    return await withContext(argv, env, (ctx) => body(ctx.config, ctx.db), { services: false })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(`branchgate: ${err.message}`)
    return 2
  }
}

/**
 * `branchgate sms-status`: whether codes can be sent (circuit breaker, daily budget, blocked
 * prefixes) and, per provider over the last 24 hours, sent, failed, p50 and p95 latency.
 */
export function smsStatusCommand(clock: Clock = systemClock): SmsCommand {
  return {
    ...SPECS['sms-status'],
    run: (argv, env, out: Out = console.log) =>
      withDb(argv, env, (config, db) => {
        for (const line of smsStatusLines(db, config, clock.now())) out(line)
        return 0
      }),
  }
}

/**
 * `branchgate sms-resume`: a manager ends a pause early — the circuit breaker, or with
 * `--prefix +52551234` one blocked prefix. Recorded in the audit log.
 */
export function smsResumeCommand(clock: Clock = systemClock): SmsCommand {
  return {
    ...SPECS['sms-resume'],
    run: (argv, env, out: Out = console.log) =>
      withDb(argv, env, (_config, db) => {
        const i = argv.indexOf('--prefix')
        const prefix = i >= 0 ? (argv[i + 1] ?? '') : null
        if (prefix !== null && !/^\+\d{4,11}$/.test(prefix)) {
          console.error('branchgate: --prefix needs a number prefix such as +52551234')
          return 2
        }
        const now = clock.now()
        const sms = smsStatements(db)
        const holds = sms
          .activeHolds(now)
          .filter((h) =>
            prefix === null ? h.scope === 'branch' : h.scope === 'prefix' && h.key === prefix,
          )
        if (holds.length === 0) {
          out(prefix === null ? 'sms sending is not paused' : `prefix ${prefix} is not blocked`)
          return 0
        }
        const audit = auditStatements(db)
        db.transaction(() => {
          for (const h of holds) {
            sms.liftHold(h.id, now)
            audit.record({
              at: now,
              actor: cliActor(env),
              action: 'sms.hold.lift',
              subject: h.key || null,
              reason: 'sms-resume',
              detail: { scope: h.scope, until: h.until },
            })
          }
        })()
        out(prefix === null ? 'sms sending resumed' : `prefix ${prefix} unblocked`)
        return 0
      }),
  }
}
