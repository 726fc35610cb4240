/**
 * What following the kernel's neighbour table costs the service (issue 20): the watch's two
 * feeds, the service's netlink socket (src/gate/neighbour-monitor.ts) and `ip monitor neigh`, each
 * in a namespace of its own while one `ip -batch` gives 1,000 entries (half IPv4, half IPv6) new
 * MACs, five rounds, the feeds alternated. Per change: the CPU of the watch's process and, for
 * ip, of its `ip monitor`; and the wall time until the watch held the last change. Needs root.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { figure } from './figures.js'
import { netnsSkipReason } from './netns/branch.js'
import type { BenchSection } from './run.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CHANGES = 1000
const ROUNDS = 5

type Round = { wallMs: number; cpuMs: number; monitorCpuMs: number }

function feedRun(feed: 'netlink' | 'ip'): Round[] {
  const ns = `bgnb-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        path.join(ROOT, 'bench/netns/neighbour-feed.ts'),
        feed,
        String(CHANGES),
        String(ROUNDS),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
    return (JSON.parse(out.trim().split('\n').at(-1)!) as { rounds: Round[] }).rounds
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const section: BenchSection = {
  name: 'neighbours',
  async run() {
    const skip = netnsSkipReason()
    if (skip) {
      console.log(`skipped: ${skip}`)
      return
    }
    const rounds: Record<'netlink' | 'ip', Round[]> = { netlink: [], ip: [] }
    for (const feed of ['netlink', 'ip', 'ip', 'netlink'] as const)
      rounds[feed].push(...feedRun(feed))
    console.log(
      `the neighbour watch following ${CHANGES.toLocaleString('en')} changes in one ip batch (half IPv6), ${rounds.netlink.length} rounds a feed (medians):`,
    )
    const per = (r: Round[], f: (x: Round) => number) => (1000 * median(r.map(f))) / CHANGES
    const own = per(rounds.netlink, (r) => r.cpuMs)
    const viaIp = per(rounds.ip, (r) => r.cpuMs + r.monitorCpuMs)
    figure('netlink.cpu', "  the service's netlink socket: CPU per change", own, 'µs', {
      better: 'lower',
      note: `(all ${CHANGES.toLocaleString('en')} held after ${median(rounds.netlink.map((r) => r.wallMs)).toFixed(1)} ms)`,
    })
    figure('ip.cpu', '  ip monitor neigh: CPU per change, the watch and ip', viaIp, 'µs', {
      better: 'lower',
      note: `(the watch ${per(rounds.ip, (r) => r.cpuMs).toFixed(1)}, ip ${per(rounds.ip, (r) => r.monitorCpuMs).toFixed(1)}; all held after ${median(rounds.ip.map((r) => r.wallMs)).toFixed(1)} ms)`,
    })
    figure('netlink.ratio', '  netlink / ip monitor, CPU per change', own / viaIp, '×', {
      better: 'lower',
    })
  },
}
export default section
