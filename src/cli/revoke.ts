import type { Command } from './specs.js'
import { SPECS } from './specs.js'
import { GateError } from '../errors.js'
import { parseMac } from '../mac.js'
import { cliActor } from './actor.js'
import { withContext } from './context.js'
import { readOptions } from './options.js'

/** `branchgate revoke MAC`: cuts a device off now (reason revoke). */
export const revokeCommand: Command = {
  ...SPECS.revoke,
  run: (argv, env, out = console.log) =>
    withContext(
      argv,
      env,
      async (ctx) => {
        const { args } = readOptions('revoke', SPECS.revoke.usage, argv, {}, 1)
        const mac = parseMac(args[0] ?? '')
        if (!mac || args.length !== 1) {
          console.error(
            'branchgate revoke: give one MAC address, e.g. branchgate revoke 3a:11:22:33:44:55',
          )
          return 2
        }
        const wasLive = ctx.services.access.liveUntil(mac) !== null
        try {
          await ctx.services.access.setDeviceState({
            next: 'blocked',
            mac,
            reason: 'revoke',
            actor: cliActor(env),
          })
        } catch (err) {
          if (!(err instanceof GateError)) throw err
          console.error(`branchgate revoke: the firewall refused: ${err.message}`)
          return 1
        }
        out(wasLive ? `${mac} revoked` : `${mac} was not let through; it is blocked`)
        return 0
      },
      { gate: true },
    ),
}
