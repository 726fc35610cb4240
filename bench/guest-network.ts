import { spawnSync } from 'node:child_process'
import {
  createTestNetwork,
  GATEWAY_IP,
  INTERNET_IP,
  TEST_ZONE,
  type TestNetwork,
} from '../test/e2e/netns.js'
import type { BenchSection } from './run.js'

const QUERIES = 1_000
const ROUNDS = 5

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
const ms = (v: number) => `${v.toFixed(2)} ms`

/** Why this section cannot run here, or null. */
function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces'
  for (const tool of ['ip', 'nft', 'dnsmasq']) {
    if (spawnSync('sh', ['-c', 'command -v "$0"', tool]).status !== 0)
      return `${tool} is not installed (apt-get install iproute2 nftables dnsmasq)`
  }
  return null
}

interface Timing {
  p50: number
  p99: number
  answered: number
}

/** `count` questions for `name`, one after the other, from the phone: milliseconds each. */
async function timeQueries(n: TestNetwork, name: string, count: number): Promise<number[]> {
  const c = n.clients[0]!
  // A warm-up, so the first query's ARP and the resolver's caches are not in the figures.
  await n.dns(c, { server: GATEWAY_IP, names: Array(20).fill(name) })
  const results = (await n.dns(c, {
    server: GATEWAY_IP,
    names: Array(count).fill(name),
    timeoutMs: 1000,
  })) as Array<{ rcode: string; ms: number }>
  return results.map((r) => (r.rcode === 'TIMEOUT' ? Number.POSITIVE_INFINITY : r.ms))
}

function timing(times: number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b)
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    answered: times.filter(Number.isFinite).length,
  }
}

/**
 * The guest network in namespaces, as the end-to-end tests build it (test/e2e/netns.ts): a
 * phone, the gateway with branchgate, dnsmasq and its table, the internet with its DNS server.
 *
 * DNS answer time through the gateway, p50/p99 of 1,000 queries from the phone (5 rounds of 200): before login
 * (the captive resolver, switched to by the table), after login (the branch's resolver), and the
 * same resolver with branchgate's table removed (the baseline). Two names: the portal's, which
 * every resolver answers itself (what the switch costs), and a name of the internet's zone,
 * forwarded each time (TTL 0) after login and in the baseline.
 */
const section: BenchSection = {
  name: 'guest-network',
  async run() {
    const skip = skipReason()
    if (skip) {
      console.log(`skipped: ${skip}`)
      return
    }
    const n = await createTestNetwork({ clients: 1 })
    try {
      const portalName = 'portal.branch.lan'
      const outsideName = `www.${TEST_ZONE}`
      await n.startInternetDns({ [outsideName]: INTERNET_IP })
      await n.startDnsmasq([`server=${INTERNET_IP}`, `address=/${portalName}/${GATEWAY_IP}`])
      const config = n.defaultConfig()
      // The per-device limits would drop a phone asking 1,000 names back to back.
      const bgConfig = {
        ...config,
        gate: {
          ...(config.gate as object),
          preLogin: { dnsPerSecond: 10_000, dnsBurst: 100_000 },
        },
      }
      await n.startBranchgate(bgConfig)
      const phone = n.clients[0]!
      await n.dhcp(phone)

      // Rounds, each state in turn, so a busy moment of the machine falls on all of them alike.
      const times = {
        before: [],
        after: [],
        afterOutside: [],
        bare: [],
        bareOutside: [],
      } as Record<'before' | 'after' | 'afterOutside' | 'bare' | 'bareOutside', number[]>
      const perRound = QUERIES / ROUNDS
      for (let round = 0; round < ROUNDS; round++) {
        if (round > 0) {
          await n.startBranchgate(bgConfig)
          if ((await n.cli(['revoke', phone.mac])).code !== 0) throw new Error('revoke failed')
        }
        times.before.push(...(await timeQueries(n, portalName, perRound)))
        if ((await n.cli(['allow', phone.mac])).code !== 0) throw new Error('allow failed')
        times.after.push(...(await timeQueries(n, portalName, perRound)))
        times.afterOutside.push(...(await timeQueries(n, outsideName, perRound)))
        // The baseline: branchgate stopped and its table removed; the same dnsmasq answers.
        await n.stopBranchgate()
        const flushed = await n.nft(['delete', 'table', 'inet', 'branchgate'])
        if (flushed.code !== 0) throw new Error(`cannot remove the table: ${flushed.stderr}`)
        times.bare.push(...(await timeQueries(n, portalName, perRound)))
        times.bareOutside.push(...(await timeQueries(n, outsideName, perRound)))
      }
      const before = timing(times.before)
      const after = timing(times.after)
      const afterOutside = timing(times.afterOutside)
      const bare = timing(times.bare)
      const bareOutside = timing(times.bareOutside)

      const row = (t: Timing) =>
        `p50 ${ms(t.p50)}  p99 ${ms(t.p99)}${t.answered < QUERIES ? `  (${QUERIES - t.answered} unanswered)` : ''}`
      const rows: Array<[string, string]> = [
        [`DNS, ${QUERIES} queries from a phone, answered by the gateway itself:`, ''],
        ['  before login (captive resolver)', row(before)],
        ['  after login (branch resolver)', row(after)],
        ['  baseline: no branchgate table', row(bare)],
        [`DNS, forwarded to the internet's server (TTL 0):`, ''],
        ['  after login', row(afterOutside)],
        ['  baseline: no branchgate table', row(bareOutside)],
        [
          'added at p99 by the split (before / after login vs baseline)',
          `${ms(before.p99 - bare.p99)} / ${ms(after.p99 - bare.p99)}`,
        ],
      ]
      const width = Math.max(...rows.map((r) => r[0].length))
      for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
      console.log('target: the split adds <= 2 ms at p99 (figures, not asserted)')
    } finally {
      await n.cleanup()
    }
  },
}
export default section
