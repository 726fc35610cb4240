import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Command } from '../cli.js'
import { systemClock, type Clock } from '../clock.js'
import { ConfigError } from '../config.js'
import { closeDb, openDb } from '../db/open.js'
import { readConfig } from '../main.js'
import { smsStatusLines } from '../sms/status.js'

/**
 * `branchgate sms-status`: whether codes can be sent (circuit breaker, daily budget, blocked
 * prefixes) and, per provider over the last 24 hours, sent, failed, p50 and p95 latency.
 */
export function smsStatusCommand(clock: Clock = systemClock): Command & {
  run(argv: string[], env: NodeJS.ProcessEnv, out?: (line: string) => void): Promise<number>
} {
  return {
    name: 'sms-status',
    usage: 'branchgate sms-status [--config FILE]',
    summary: 'SMS sending: breaker, daily budget, blocked prefixes, per-provider figures',
    async run(argv, env, out: (line: string) => void = console.log) {
      let config
      try {
        config = readConfig(argv, env).config
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        console.error(`branchgate: ${err.message}`)
        return 2
      }
      const file = path.join(path.resolve(config.dataDir), 'branchgate.db')
      // Never create a database here: a typo in --config must not start an empty one.
      if (!existsSync(file)) {
        console.error(
          `branchgate: no database at ${file}: run branchgate serve with this config first`,
        )
        return 2
      }
      const db = openDb(file)
      try {
        for (const line of smsStatusLines(db, config, clock.now())) out(line)
      } finally {
        closeDb(db)
      }
      return 0
    },
  }
}
