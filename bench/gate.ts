import { execFile } from 'node:child_process'
import { letThroughCommand } from '../src/gate/nft-ruleset.js'
import type { Mac } from '../src/mac.js'
import { createGateNamespace, gateSkipReason } from '../test/e2e/gate-namespace.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'

const SET_SIZE = 50_000
const REBUILD_SIZE = 100_000
const LOGINS = 1_000
const BASELINE = 100

const hex = (n: number) => n.toString(16).padStart(2, '0')
const macOf = (i: number, tag = 0xaa) =>
  `02:${hex(tag)}:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}:01` as Mac

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
const ms = (v: number) => `${v.toFixed(2)} ms`

/**
 * The nftables gate against the real kernel, in a throwaway network namespace so the host's
 * firewall is never touched: letting one MAC through with 10,000 already in the set (p50/p99),
 * rebuilding the set of 10,000 at start, and, as the baseline, one nft process per change.
 */
const section: BenchSection = {
  name: 'gate',
  async run() {
    const skip = gateSkipReason()
    if (skip) {
      console.log(`skipped: ${skip}`)
      return
    }
    const space = createGateNamespace('bgbench')
    const { nftArgv } = space
    const gate = space.gate({ log: (l) => console.log(l) })
    try {
      const entries = Array.from({ length: SET_SIZE }, (_, i) => ({
        mac: macOf(i),
        until: Date.now() + 3_600_000,
      }))

      // Start-up: the table and a set of 100,000 in one batch, rebuilds on a live table, then
      // the set of 50,000 the logins run against.
      const big = Array.from({ length: REBUILD_SIZE }, (_, i) => ({
        mac: macOf(i, 0xee),
        until: Date.now() + 3_600_000,
      }))
      let t0 = performance.now()
      await gate.replaceAll(big)
      const install = performance.now() - t0
      const rebuilds: number[] = []
      for (let i = 0; i < 3; i++) {
        t0 = performance.now()
        await gate.replaceAll(big)
        rebuilds.push(performance.now() - t0)
      }
      rebuilds.sort((a, b) => a - b)
      await gate.replaceAll(entries)
      const inSet = (await gate.list()).length

      // One login after another, each a new MAC, with 10,000 already in the set.
      for (let i = 0; i < 20; i++) await gate.letThrough(macOf(i, 0xcc), Date.now() + 60_000) // warm-up
      const times: number[] = []
      for (let i = 0; i < LOGINS; i++) {
        const start = performance.now()
        await gate.letThrough(macOf(i, 0xbb), Date.now() + 3_600_000)
        times.push(performance.now() - start)
      }
      times.sort((a, b) => a - b)

      // Baseline: what one nft process per change costs (what the session avoids).
      const spawnTimes: number[] = []
      for (let i = 0; i < BASELINE; i++) {
        const cmd = letThroughCommand(macOf(i, 0xdd), Date.now() + 60_000, Date.now())
        const start = performance.now()
        await new Promise<void>((resolve, reject) =>
          execFile(nftArgv[0]!, [...nftArgv.slice(1), cmd], (err) =>
            err ? reject(err) : resolve(),
          ),
        )
        spawnTimes.push(performance.now() - start)
      }
      spawnTimes.sort((a, b) => a - b)

      const rows: Array<[string, string]> = [
        [`MACs in the set before the logins`, String(inSet)],
        [`start: table + set of ${REBUILD_SIZE} in one batch`, ms(install)],
        [
          `letThrough, nft -i session (${LOGINS} logins)`,
          `p50 ${ms(percentile(times, 50))}  p99 ${ms(percentile(times, 99))}  max ${ms(times.at(-1)!)}`,
        ],
        [
          `baseline: nft process per change (${BASELINE})`,
          `p50 ${ms(percentile(spawnTimes, 50))}  p99 ${ms(percentile(spawnTimes, 99))}`,
        ],
      ]
      const width = Math.max(...rows.map((r) => r[0].length))
      for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
      figure(
        'rebuild.ms',
        `rebuild of ${REBUILD_SIZE} at start, median of 3`,
        percentile(rebuilds, 50),
        'ms',
        {
          target: { op: '<=', value: 1000 },
        },
      )
      figure(
        'letThrough.p50',
        `letThrough with ${inSet} in the set, p50`,
        percentile(times, 50),
        'ms',
      )
      figure(
        'letThrough.p99',
        `letThrough with ${inSet} in the set, p99`,
        percentile(times, 99),
        'ms',
        {
          target: { op: '<=', value: 1 },
        },
      )
      figure(
        'spawn.p50',
        'baseline: an nft process per change, p50',
        percentile(spawnTimes, 50),
        'ms',
      )
    } finally {
      gate.close()
      space.remove()
    }
  },
}
export default section
