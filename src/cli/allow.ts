import { parseArgs } from 'node:util'
import type { Command } from '../cli.js'
import { GateError } from '../errors.js'
import { parseMac } from '../mac.js'
import { cliActor } from './actor.js'
import { localTime, withContext, withoutConfigArg } from './context.js'

/** `branchgate allow MAC --minutes N`: lets a device through by hand (reason manual-allow). */
export const allowCommand: Command = {
  name: 'allow',
  usage: 'branchgate allow MAC [--minutes N]',
  summary: 'let a device through by hand (default: session.hours)',
  run: (argv, env, out = console.log) =>
    withContext(argv, env, async (ctx) => {
      const { positionals, values } = parseArgs({
        args: withoutConfigArg(argv),
        allowPositionals: true,
        options: { minutes: { type: 'string' } },
      })
      const mac = parseMac(positionals[0] ?? '')
      if (!mac || positionals.length !== 1) {
        console.error(
          'branchgate allow: give one MAC address, e.g. branchgate allow 3a:11:22:33:44:55 --minutes 60',
        )
        return 2
      }
      const minutes =
        values.minutes === undefined ? ctx.config.session.hours * 60 : Number(values.minutes)
      if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 7 * 24 * 60) {
        console.error('branchgate allow: --minutes must be a number of minutes between 1 and 10080')
        return 2
      }
      const until = ctx.clock.now() + Math.round(minutes * 60_000)
      try {
        await ctx.access.setDeviceState({
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
    }),
}
