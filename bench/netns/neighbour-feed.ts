/**
 * Runs inside a network namespace bench/neighbours.ts created (`ip netns exec NS node --import
 * tsx THIS FEED CHANGES ROUNDS`): the neighbour watch on FEED (`netlink` or `ip`), and per round
 * CHANGES entries given new MACs in one `ip -batch`; prints, as one JSON line, each round's wall
 * time until the watch held the last change, and the CPU of this process and of its `ip monitor`.
 */
import { execFile, execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { openNeighbourFeed } from '../../src/gate/neighbour-monitor.js'
import { createNeighbourWatch } from '../../src/gate/neighbours.js'

const [kind = 'netlink', changesText = '1000', roundsText = '5'] = process.argv.slice(2)
const changes = Number(changesText)
const rounds = Number(roundsText)
const feed = kind === 'netlink' ? openNeighbourFeed() : undefined
if (typeof feed === 'string') throw new Error(`no netlink feed here: ${feed}`)

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' })
ip('link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1')
ip('link', 'set', 'd0', 'up')
ip('link', 'set', 'd1', 'up')
ip('addr', 'add', '10.60.0.1/16', 'dev', 'd0')
ip('-6', 'addr', 'add', 'fd60::1/64', 'dev', 'd0', 'nodad')

const TICK_MS = 1000 / 100 // USER_HZ
/** CPU (ms) of the `ip monitor` this process runs, if any. */
function monitorCpuMs(): number {
  let ms = 0
  for (const task of readdirSync('/proc/self/task'))
    for (const child of readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(' ')) {
      if (!child.trim()) continue
      try {
        if (!readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('monitor')) continue
        const stat = readFileSync(`/proc/${child}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        ms += (Number(f[11]) + Number(f[12])) * TICK_MS
      } catch {
        // gone meanwhile
      }
    }
  return ms
}
const ownCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

const watch = createNeighbourWatch({ settleMs: 50, ...(feed ? { feed } : {}) })
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((r) => setTimeout(r, 2))
}
await until(() => watch.state().live)
// Half the addresses IPv6, as a branch's phones have both.
const address = (i: number) =>
  i % 2 ? `fd60::${(i >> 8).toString(16)}:${(i & 255).toString(16)}` : `10.60.${i >> 8}.${i & 255}`
const mac = (round: number, i: number) =>
  `02:60:${round.toString(16).padStart(2, '0')}:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
const out: Array<{ wallMs: number; cpuMs: number; monitorCpuMs: number }> = []
for (let round = 0; round <= rounds; round++) {
  const lines = Array.from(
    { length: changes },
    (_, i) => `neigh replace ${address(i)} lladdr ${mac(round, i)} dev d0 nud stale`,
  )
  const last = address(changes - 1)
  const want = mac(round, changes - 1)
  const cpu0 = ownCpuMs()
  const mon0 = monitorCpuMs()
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['-batch', '-'], (err) => (err ? reject(err) : resolve()))
    child.stdin!.end(lines.join('\n') + '\n')
  })
  // The kernel reports the changes in order: the last one held means all were.
  await until(() => watch.known(last) === want)
  const wallMs = performance.now() - t0
  // Round 0 fills the table (new entries); the rounds after change them, and are counted.
  if (round > 0) out.push({ wallMs, cpuMs: ownCpuMs() - cpu0, monitorCpuMs: monitorCpuMs() - mon0 })
}
if (watch.state().directLookups !== 0) throw new Error('the watch asked the kernel directly')
watch.close()
console.log(JSON.stringify({ feed: kind, changes, rounds: out }))
