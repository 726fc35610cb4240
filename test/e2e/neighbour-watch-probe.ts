/**
 * Runs inside a network namespace the test created (`ip netns exec NS node --import tsx THIS
 * FEED`): starts the real neighbour watch on FEED (`netlink`: the service's socket, src/gate/
 * neighbour-monitor.ts; `ip`: `ip monitor neigh` and `ip -j neigh show`), changes the namespace's
 * neighbour table with `ip neigh`, and prints what the watch answered after each change as one
 * JSON line.
 */
import { execFileSync } from 'node:child_process'
import { openNeighbourFeed } from '../../src/gate/neighbour-monitor.js'
import { createNeighbourWatch, tableOfRows } from '../../src/gate/neighbours.js'

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' })
const kind = process.argv[2]
const feed = kind === 'netlink' ? openNeighbourFeed() : undefined
if (typeof feed === 'string') throw new Error(`no netlink feed here: ${feed}`)
const wait = async (cond: () => Promise<boolean> | boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

ip('link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1')
ip('link', 'set', 'd0', 'up')
ip('link', 'set', 'd1', 'up')
ip('addr', 'add', '10.77.0.1/24', 'dev', 'd0')
ip('addr', 'add', '2001:db8:77::1/64', 'dev', 'd0', 'nodad')
// Before the watch starts: found by its first full read.
ip('neigh', 'add', '10.77.0.10', 'lladdr', '02:77:00:00:00:10', 'dev', 'd0', 'nud', 'reachable')
// IPv6, its text as Node gives a client's address: zero runs, a lone zero group, leading zeros.
const v6 = ['2001:db8:77::10', '2001:db8:77:0:1::10', '2001:db8:77::abc:0:10']
for (const [i, a] of v6.entries())
  ip('neigh', 'add', a, 'lladdr', `02:77:00:00:06:0${i}`, 'dev', 'd0', 'nud', 'stale')

const out: Record<string, unknown> = {}
const watch = createNeighbourWatch({ settleMs: 50, ...(feed ? { feed } : {}) })
await wait(() => watch.state().live, 'the watch')
out.before = await watch.macFor('10.77.0.10')
out.v6 = await Promise.all(v6.map((a) => watch.macFor(a)))
out.directAfterStart = watch.state().directLookups

// Added while it runs: reported by the monitor.
ip('neigh', 'add', '10.77.0.11', 'lladdr', '02:77:00:00:00:11', 'dev', 'd0', 'nud', 'stale')
await wait(() => watch.state().entries === 5, 'the new entry')
out.added = await watch.macFor('10.77.0.11')
out.directAfterAdd = watch.state().directLookups

// The address moves to another device.
ip('neigh', 'replace', '10.77.0.11', 'lladdr', '02:77:00:00:00:12', 'dev', 'd0', 'nud', 'stale')
await wait(async () => (await watch.macFor('10.77.0.11')) === '02:77:00:00:00:12', 'the change')
out.moved = await watch.macFor('10.77.0.11')

// Deleted: forgotten; the direct lookup (/proc/net/arp) finds nothing either.
ip('neigh', 'del', '10.77.0.11', 'dev', 'd0')
await wait(() => watch.state().entries === 4, 'the deletion')
out.deleted = await watch.macFor('10.77.0.11')
out.directAfterDelete = watch.state().directLookups

// A burst: 600 entries in one ip batch, every one known without asking the kernel.
const burst = Array.from(
  { length: 600 },
  (_, i) =>
    `neigh add 10.77.${2 + (i >> 8)}.${i & 255} lladdr 02:77:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} dev d0 nud stale`,
)
ip('route', 'add', '10.77.2.0/23', 'dev', 'd0')
execFileSync('ip', ['-batch', '-'], { input: burst.join('\n') + '\n' })
await wait(() => watch.state().entries === 604, 'the burst')
const directBeforeBurst = watch.state().directLookups
out.burst = (
  await Promise.all(
    Array.from({ length: 600 }, (_, i) => watch.known(`10.77.${2 + (i >> 8)}.${i & 255}`)),
  )
).filter(Boolean).length
out.directAfterBurst = watch.state().directLookups - directBeforeBurst
// The watch's table is the kernel's, as ip reads it.
const kernel = tableOfRows(execFileSync('ip', ['-j', 'neigh', 'show'], { encoding: 'utf8' }))
out.sameAsIp =
  kernel.size === watch.state().entries && [...kernel].every(([a, mac]) => watch.known(a) === mac)

// A device the watch was never told about but /proc/net/arp knows: answered directly.
watch.close()
ip('neigh', 'add', '10.77.0.13', 'lladdr', '02:77:00:00:00:13', 'dev', 'd0', 'nud', 'reachable')
out.closedDirect = await watch.macFor('10.77.0.13')
console.log(JSON.stringify(out))
