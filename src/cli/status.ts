import type { Command } from './specs.js'
import { SPECS } from './specs.js'
import { gateStatusStatements } from '../db/gate-status.js'
import { smsStatusLines } from '../sms/status.js'
import { localTime } from '../time.js'
import { withContext } from './context.js'

/** `branchgate status`: the devices let through now, and whether the firewall agrees. */
export const statusCommand: Command = {
  ...SPECS.status,
  run: (argv, env, out = console.log) =>
    withContext(
      argv,
      env,
      async (ctx) => {
        const live = gateStatusStatements(ctx.db).live(ctx.clock.now())
        const tz = ctx.config.branch.timeZone
        let inKernel: Set<string> | null = null
        if (ctx.nft) {
          try {
            inKernel = new Set((await ctx.nft.list()).map((e) => e.mac))
          } catch (err) {
            out(`firewall: cannot read the set (${(err as Error).message})`)
          }
        }
        out(
          `branch ${ctx.config.branch.id}, gate ${ctx.config.gate.backend}: ${live.length} device(s) let through`,
        )
        if (live.length) {
          const rows = live.map((d) => [
            d.mac,
            d.customer_name ?? `(${d.reason})`,
            localTime(d.ends_at, tz),
            inKernel === null ? '' : inKernel.has(d.mac) ? 'yes' : 'MISSING',
          ])
          const head = ['MAC', 'CUSTOMER', `UNTIL (${tz})`, inKernel === null ? '' : 'IN FIREWALL']
          const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
          for (const r of [head, ...rows])
            out(
              r
                .map((c, i) => c.padEnd(widths[i]!))
                .join('  ')
                .trimEnd(),
            )
        }
        if (inKernel) {
          const known = new Set(live.map((d) => d.mac))
          const stray = [...inKernel].filter((m) => !known.has(m))
          if (stray.length) out(`in the firewall but not in the database: ${stray.join(', ')}`)
        }
        // Whether the portal can text codes now: circuit breaker, daily budget, per-provider figures.
        for (const line of smsStatusLines(ctx.db, ctx.config, ctx.clock.now())) out(line)
        return 0
      },
      { gate: true, services: false },
    ),
}
