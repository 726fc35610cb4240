import { readFileSync, rmSync } from 'node:fs'
import { SPECS } from './specs.js'
import type { Command } from './specs.js'
import { pidFile } from '../config-file.js'
import { withContext } from './context.js'
import { readOptions } from './options.js'
import { alive, isBranchgate } from './running.js'

/**
 * `branchgate stop [--flush]`: stops the running server (SIGTERM; its firewall table stays, so
 * the kernel keeps governing access). With --flush the table is removed too: everyone is cut
 * off and nobody is caught any more.
 */
export const stopCommand: Command = {
  ...SPECS.stop,
  run: (argv, env, out = console.log) =>
    withContext(
      argv,
      env,
      async (ctx) => {
        const flush = readOptions('stop', SPECS.stop.usage, argv, SPECS.stop.options).values.flush
        const file = pidFile(ctx.config)
        let pid: number | null = null
        try {
          pid = Number(readFileSync(file, 'utf8').trim()) || null
        } catch {
          pid = null
        }
        if (pid !== null && alive(pid) && !isBranchgate(pid)) {
          console.error(
            `branchgate stop: ${file} names process ${pid}, which is not branchgate; removing the stale file`,
          )
          rmSync(file, { force: true })
          pid = null
        }
        if (pid !== null && alive(pid)) {
          process.kill(pid, 'SIGTERM')
          const deadline = Date.now() + 10_000
          // Waiting for another process to exit: there is no event to wait on, so poll.
          while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
          if (alive(pid)) {
            console.error(`branchgate stop: process ${pid} is still running after 10 s`)
            return 1
          }
          out(`stopped branchgate (pid ${pid})`)
        } else {
          rmSync(file, { force: true })
          out('branchgate was not running')
        }
        if (flush) {
          if (!ctx.nft) out('gate is dry-run: no firewall table to remove')
          else {
            await ctx.nft.flush()
            out('removed the firewall table inet branchgate')
          }
        }
        return 0
      },
      { gate: true, services: false },
    ),
}
