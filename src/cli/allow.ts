import type { Command } from './specs.js'
import { SPECS } from './specs.js'
import { GateError, UsageError } from '../errors.js'
import { parseMac } from '../mac.js'
import { cliActor } from './actor.js'
import { localTime } from '../time.js'
import { withContext } from './context.js'
import { readOptions, wholeNumber } from './options.js'

const { usage: USAGE, options: OPTIONS } = SPECS.allow

/** `branchgate allow MAC --minutes N`: lets a device through by hand (reason manual-allow). */
export const allowCommand: Command = {
  ...SPECS.allow,
  run: (argv, env, out = console.log) => {
    // Options first: a mistake is told before the database is opened.
    const { args, values } = readOptions('allow', USAGE, argv, OPTIONS, 1)
    const minutesGiven =
      values.minutes === undefined
        ? null
        : wholeNumber('allow', '--minutes', values.minutes, 1, 7 * 24 * 60, 'minutes')
    const mac = parseMac(args[0] ?? '')
    if (!mac) {
      throw new UsageError(
        'allow',
        `give one MAC address, e.g. branchgate allow 3a:11:22:33:44:55 --minutes 60${args[0] ? `, got ${JSON.stringify(args[0])}` : ''}`,
      )
    }
    return withContext(
      argv,
      env,
      async (ctx) => {
        const minutes = minutesGiven ?? ctx.config.session.hours * 60
        const until = ctx.clock.now() + Math.round(minutes * 60_000)
        try {
          await ctx.services.access.setDeviceState({
            next: 'allowed',
            mac,
            customerId: null,
            until,
            reason: 'manual-allow',
            actor: cliActor(env),
          })
        } catch (err) {
          if (!(err instanceof GateError)) throw err
          console.error(`branchgate allow: the firewall refused: ${err.message}`)
          return 1
        }
        out(
          `${mac} let through until ${localTime(until, ctx.config.branch.timeZone)} (${ctx.config.branch.timeZone})`,
        )
        if (!ctx.nft) out('note: the gate is dry-run, so nothing changed in the firewall')
        return 0
      },
      { gate: true },
    )
  },
}
