/**
 * Runs inside a network namespace the test created (`ip netns exec NS node --import tsx THIS`):
 * starts the real neighbour watch (`ip monitor neigh`, `ip -j neigh show`, /proc/net/arp), changes
 * the namespace's neighbour table with `ip neigh`, and prints what the watch answered after each
 * change as one JSON line.
 */
import { execFileSync } from 'node:child_process'
import { createNeighbourWatch } from '../../src/gate/neighbours.js'

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' })
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
// Before the watch starts: found by its first full read.
ip('neigh', 'add', '10.77.0.10', 'lladdr', '02:77:00:00:00:10', 'dev', 'd0', 'nud', 'reachable')

const out: Record<string, unknown> = {}
const watch = createNeighbourWatch({ settleMs: 50 })
await wait(() => watch.state().live, 'the watch')
out.before = await watch.macFor('10.77.0.10')
out.directAfterStart = watch.state().directLookups

// Added while it runs: reported by the monitor.
ip('neigh', 'add', '10.77.0.11', 'lladdr', '02:77:00:00:00:11', 'dev', 'd0', 'nud', 'stale')
await wait(() => watch.state().entries === 2, 'the new entry')
out.added = await watch.macFor('10.77.0.11')
out.directAfterAdd = watch.state().directLookups

// The address moves to another device.
ip('neigh', 'replace', '10.77.0.11', 'lladdr', '02:77:00:00:00:12', 'dev', 'd0', 'nud', 'stale')
await wait(async () => (await watch.macFor('10.77.0.11')) === '02:77:00:00:00:12', 'the change')
out.moved = await watch.macFor('10.77.0.11')

// Deleted: forgotten; the direct lookup (/proc/net/arp) finds nothing either.
ip('neigh', 'del', '10.77.0.11', 'dev', 'd0')
await wait(() => watch.state().entries === 1, 'the deletion')
out.deleted = await watch.macFor('10.77.0.11')
out.directAfterDelete = watch.state().directLookups

// A device the watch was never told about but /proc/net/arp knows: answered directly.
watch.close()
ip('neigh', 'add', '10.77.0.13', 'lladdr', '02:77:00:00:00:13', 'dev', 'd0', 'nud', 'reachable')
out.closedDirect = await watch.macFor('10.77.0.13')
console.log(JSON.stringify(out))
