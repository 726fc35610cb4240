import type { Command } from './specs.js'
import { SPECS } from './specs.js'
import { UsageError } from '../errors.js'
import { PASS_MAX_MINUTES } from '../access/passes.js'
import { cliActor } from './actor.js'
import { localTime } from '../time.js'
import { withContext } from './context.js'
import { readOptions, wholeNumber } from './options.js'

const { usage: USAGE, options: OPTIONS } = SPECS.pass

/**
 * `branchgate pass [--name NAME] [--minutes N]` (issue 17): issues a one-time staff pass and
 * prints its code (shown only this once; the database keeps an HMAC of it). Audited.
 */
export const passCommand: Command = {
  ...SPECS.pass,
  run: (argv, env, out = console.log) => {
    const { values } = readOptions('pass', USAGE, argv, OPTIONS, 0)
    const minutes =
      values.minutes === undefined
        ? undefined
        : wholeNumber('pass', '--minutes', values.minutes, 1, PASS_MAX_MINUTES, 'minutes')
    const name = values.name?.normalize('NFC').trim() || null
    if (name !== null && name.length > 80)
      throw new UsageError('pass', `--name takes up to 80 characters, got ${name.length}`)
    return withContext(argv, env, async (ctx) => {
      const p = ctx.services.passes.issue({ name, minutes, actor: cliActor(env) })
      const tz = ctx.config.branch.timeZone
      out(`pass ${p.display}${p.name ? ` for ${p.name}` : ''}`)
      out(
        `one device, ${p.minutes} minutes from when it is typed; usable until ${localTime(p.redeemBy - 1, tz)} (${tz})`,
      )
      out('on the Wi-Fi page: "¿El personal te dio un pase?" / "Did the staff give you a pass?"')
      return 0
    })
  },
}
