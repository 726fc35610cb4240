import { execFile, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createNftRunner } from '../src/gate/nftables.js'
import { letThroughCommand, type TimeoutUpdate } from '../src/gate/nft-ruleset.js'
import type { GateWay } from '../src/gate/gate.js'
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
 * CPU time from /proc/PID/stat, in ms: the process's own (user + system), or that of its children
 * it has waited for (`nft -f -` processes once they ended). Steadier than wall time on a shared
 * machine: what nft itself spends, whoever else runs.
 */
let tickMs = 0
function cpuMs(pid: number | 'self', of: 'own' | 'children' = 'own'): number {
  tickMs ||= 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name in parentheses, from field 3 (state) on.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const [u, s] = of === 'own' ? [f[11], f[12]] : [f[13], f[14]]
  return (Number(u) + Number(s)) * tickMs
}
/**
 * The pid of the one session program running in the namespace: `nft -i` (comm `nft`), or the
 * libnftables helper (`python3`); `comm` picks one of them when both run.
 */
function nftSessionPid(ns: string, comm?: 'nft' | 'python3'): number {
  const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .split(/\s+/)
    .filter((p) => {
      if (!/^\d+$/.test(p)) return false
      const c = readFileSync(`/proc/${p}/comm`, 'utf8').trim()
      return comm ? c === comm : c === 'nft' || c === 'python3'
    })
  if (pids.length !== 1) throw new Error(`expected one nft session in ${ns}, found ${pids.length}`)
  return Number(pids[0])
}

interface Timed {
  times: number[]
  cpu: number
}

/** This process's own CPU (user + system, all its threads), in ms: libnftables in-process. */
const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Where the CPU of a change is spent: this process (the library in it) or a session program. */
type CpuOf = 'self' | { ns: string; comm?: 'nft' | 'python3' }
const cpuReader = (of: CpuOf): (() => number) => {
  if (of === 'self') return selfCpuMs
  const pid = nftSessionPid(of.ns, of.comm)
  return () => cpuMs(pid)
}

/**
 * `count` one-line changes through `runner`, one after another: times and the CPU of what makes
 * them (the session program's; with the library in this process, this process's, which also
 * counts the loop that times them).
 */
async function timedLines(
  of: CpuOf,
  runner: { line(command: string): Promise<void> },
  count: number,
  command: (i: number) => string,
): Promise<Timed> {
  for (let i = 0; i < 20; i++) await runner.line(command(count + i)) // warm-up
  const cpuNow = cpuReader(of)
  const cpu0 = cpuNow()
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    await runner.line(command(i))
    times.push(performance.now() - start)
  }
  const cpu = (cpuNow() - cpu0) / count
  times.sort((a, b) => a - b)
  return { times, cpu }
}

/** How the bench names each of the gate's ways (`gate.nftSession`). */
const WAY_NAMES: Record<GateWay, string> = {
  'in-process': 'in-process (libnftnl, else libnftables)',
  helper: 'libnftables through the helper',
  nft: 'nft -i',
}

/** The three ways side by side: each one's figure key, where its CPU is read, its config. */
const SIDES = [
  { key: 'inProcess', way: 'in-process', of: 'self', session: 'auto', tag: 0xa0 },
  { key: 'lib', way: 'helper', of: { comm: 'python3' }, session: 'helper', tag: 0xa1 },
  { key: 'nftI', way: 'nft', of: { comm: 'nft' }, session: 'nft', tag: 0xa2 },
] as const
const SIDE_NAMES = SIDES.map((side) => [side.key, WAY_NAMES[side.way]] as const)

type Sides = { inProcess: Timed; lib: Timed; nftI: Timed }

/**
 * The three ways side by side on the same changes: libnftables in this process, through the
 * helper, and `nft -i`; each its own runner, taking turns in rounds of `round` lines (so a
 * change in the machine's load falls on all three), `count` each.
 */
async function sideBySide(
  ns: string,
  nftArgv: readonly string[],
  count: number,
  round: number,
  command: (i: number, tag: number) => string,
): Promise<Sides> {
  const runners = SIDES.map((side) => createNftRunner(nftArgv, { session: side.session }))
  try {
    for (const [k, side] of SIDES.entries())
      for (let i = 0; i < 20; i++) await runners[k]!.line(command(count + i, side.tag)) // warm-up
    const timed = SIDES.map((side) => ({
      cpuNow: cpuReader(side.of === 'self' ? 'self' : { ns, ...side.of }),
      cpu: 0,
      times: [] as number[],
    }))
    for (let at = 0; at < count; at += round) {
      for (const [k, side] of SIDES.entries()) {
        const t = timed[k]!
        const cpu0 = t.cpuNow()
        for (let i = at; i < Math.min(count, at + round); i++) {
          const start = performance.now()
          await runners[k]!.line(command(i, side.tag))
          t.times.push(performance.now() - start)
        }
        t.cpu += t.cpuNow() - cpu0
      }
    }
    const [inProcess, lib, nftI] = timed.map((t) => ({
      times: t.times.sort((a, b) => a - b),
      cpu: t.cpu / count,
    }))
    return { inProcess: inProcess!, lib: lib!, nftI: nftI! }
  } finally {
    for (const runner of runners) runner.close()
  }
}

/**
 * The nftables gate against the real kernel, in a throwaway network namespace so the host's
 * firewall is never touched: letting one MAC through with 50,000 already in the set (p50/p99),
 * rebuilding the set of 100,000 at start, nft's own CPU time for each (steadier than wall time
 * on a shared machine), and, as the baseline, one nft process per change.
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
    /** The change the gate makes per login on this kernel (its start-up probe says). */
    let how: TimeoutUpdate = 'replace'
    let closed = false
    const gate = space.gate({
      log: (l) => {
        console.log(l)
        if (l.endsWith('one add per login')) how = 'update'
      },
    })
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
      const rebuildCpu: number[] = []
      for (let i = 0; i < 3; i++) {
        const cpu0 = cpuMs('self', 'children')
        t0 = performance.now()
        await gate.replaceAll(big)
        rebuilds.push(performance.now() - t0)
        rebuildCpu.push(cpuMs('self', 'children') - cpu0)
      }
      rebuilds.sort((a, b) => a - b)
      rebuildCpu.sort((a, b) => a - b)
      await gate.replaceAll(entries)
      const inSet = (await gate.list()).length
      // The way the gate took at its first change (the start-up probe's).
      const way = gate.way() ?? 'nft'
      const which = WAY_NAMES[way]

      // One login after another, each a new MAC, with 50,000 already in the set, through the
      // gate's session as the service chooses it; then the two session programs side by side
      // on the same change.
      const { times, cpu: perChangeCpu } = await timedLines(
        way === 'in-process' ? 'self' : { ns: space.ns },
        { line: (mac) => gate.letThrough(mac as Mac, Date.now() + 3_600_000) },
        LOGINS,
        (i) => macOf(i, 0xbb),
      )
      let side: Sides | null = null
      if (way === 'in-process') {
        gate.close() // its session ends: the side-by-side finds each program by its name
        closed = true
        side = await sideBySide(space.ns, nftArgv, LOGINS, 100, (i, tag) =>
          letThroughCommand(macOf(i, tag), Date.now() + 3_600_000, Date.now(), how),
        )
      }

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
          `letThrough, ${which} session (${LOGINS} logins)`,
          `p50 ${ms(percentile(times, 50))}  p99 ${ms(percentile(times, 99))}  max ${ms(times.at(-1)!)}`,
        ],
        [`${which}'s CPU (user + system) per letThrough`, ms(perChangeCpu)],
        ...(side
          ? ([
              ...SIDE_NAMES.map(([k, name]): [string, string] => {
                const t = side![k].times
                return [
                  `side by side, ${name} (rounds of 100)`,
                  `p50 ${ms(percentile(t, 50))}  p99 ${ms(percentile(t, 99))}  max ${ms(t.at(-1)!)}  CPU ${ms(side![k].cpu)}`,
                ]
              }),
            ] as Array<[string, string]>)
          : []),
        [`nft's CPU per rebuild of ${REBUILD_SIZE}, median of 3`, ms(percentile(rebuildCpu, 50))],
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
        'rebuild.nftCpu',
        `nft's CPU per rebuild of ${REBUILD_SIZE}, median of 3`,
        percentile(rebuildCpu, 50),
        'ms',
        { better: 'lower' },
      )
      figure('letThrough.nftCpu', `${which}'s CPU per letThrough`, perChangeCpu, 'ms', {
        better: 'lower',
      })
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
      if (side) {
        for (const [k, name] of SIDE_NAMES) {
          figure(
            `sideBySide.${k}.p99`,
            `side by side, ${name}: letThrough p99`,
            percentile(side[k].times, 99),
            'ms',
          )
          figure(
            `sideBySide.${k}.cpu`,
            `side by side, ${name}: CPU per change`,
            side[k].cpu,
            'ms',
            {
              better: 'lower',
            },
          )
        }
      }
      figure(
        'spawn.p50',
        'baseline: an nft process per change, p50',
        percentile(spawnTimes, 50),
        'ms',
      )
    } finally {
      if (!closed) gate.close()
      space.remove()
    }
  },
}
export default section
