/**
 * A thousand phones (issue 20, point 6): 1,000 client MACs (macvlan interfaces in four client
 * namespaces, each with its own address and routing table) go through the real flow against
 * the compiled service and the real nftables gate: caught, log in, get through. Measures each
 * POST's latency, the time from POST /verify to the phone's first packet reaching the internet
 * namespace, and presence sweeps over the 1,000 real neighbour entries and the `up` map's counters.
 * `npm run bench -- scale`; needs root. The kernel's neighbour limits (shared by every
 * namespace, 1,024 entries by default) are raised for the run and put back afterwards.
 */
import path from 'node:path'
import { figure } from './figures.js'
import {
  createBranch,
  FIRST_PACKET_PORT,
  GATEWAY_IP,
  INTERNET_IP,
  netnsBenchReady,
  PORTAL_PORT,
  raiseNeighbourLimits,
  ROOT,
} from './netns/branch.js'
import type { LoginResult } from './netns/phones.js'
import { pct } from './portal.js'
import type { BenchSection } from './run.js'
import type { SweepReport } from '../src/visits/presence.js'

const NAMESPACES = 4
const PER_NAMESPACE = 250
const CONCURRENT = 20

const section: BenchSection = {
  name: 'scale',
  onlyWhenNamed: true,
  async run() {
    if (!netnsBenchReady()) return
    const perNs = Number(process.env.BENCH_SCALE_PER_NAMESPACE ?? PER_NAMESPACE)
    const restore = raiseNeighbourLimits(NAMESPACES * perNs * 4)
    let branch: Awaited<ReturnType<typeof createBranch>> | null = null
    try {
      let t = performance.now()
      branch = await createBranch({ namespaces: NAMESPACES, phonesPerNamespace: perNs })
      const b = branch
      console.log(
        `${b.phones.length} phones in ${NAMESPACES} namespaces, set up in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      )
      const internet = await b.startInternet()
      const service = await b.startService(b.config())
      const phones = await Promise.all(b.clientNs.map((ns) => b.startPhones(ns)))

      t = performance.now()
      const results = (
        await Promise.all(
          phones.map((p, k) =>
            p.ask<LoginResult[]>(
              {
                logins: {
                  host: GATEWAY_IP,
                  port: PORTAL_PORT,
                  concurrency: CONCURRENT / NAMESPACES,
                  internet: { host: INTERNET_IP, port: FIRST_PACKET_PORT },
                  phones: b.customersIn(k, `55${60 + k}`),
                },
              },
              'logins',
            ),
          ),
        )
      ).flat()
      const wall = (performance.now() - t) / 1000
      const ok = results.filter((r) => r.ok)
      const failed = results.filter((r) => !r.ok)
      console.log(
        `${ok.length} of ${results.length} phones logged in and got through in ${wall.toFixed(1)} s (${CONCURRENT} at once)${failed.length ? `; first failure: ${failed[0]!.error}` : ''}`,
      )
      const posts = ok.flatMap((r) => [r.loginMs, r.verifyMs]).sort((a, b) => a - b)
      const fromSent: number[] = []
      const fromWelcome: number[] = []
      for (const r of ok) {
        const at = internet.arrivals.get(r.ip)
        if (at === undefined) continue
        fromSent.push(Number(at - BigInt(r.verifySentNs)) / 1e6)
        fromWelcome.push(Number(at - BigInt(r.verifyDoneNs)) / 1e6)
      }
      fromSent.sort((a, b) => a - b)
      fromWelcome.sort((a, b) => a - b)
      const refused = ok.reduce((a, r) => a + r.refused, 0)
      const set = JSON.parse(
        await b.exec(b.gw, ['nft', '-j', 'list', 'set', 'inet', 'branchgate', 'allowed']),
      ).nftables.find((x: any) => x.set)?.set?.elem?.length
      const neigh = (
        JSON.parse(await b.exec(b.gw, ['ip', '-j', 'neigh', 'show', 'dev', 'guest'])) as any[]
      ).filter((e) => e.lladdr).length
      figure('phones.through', 'phones through the gate', ok.length, 'phones', {
        target: { op: '>=', value: b.phones.length },
      })
      figure('set.size', 'MACs in the nftables set', set ?? 0, 'MACs', { better: 'higher' })
      figure('neighbours', 'neighbour entries on the guest bridge', neigh, 'entries', {
        better: 'higher',
      })
      figure('login.p50', 'each POST (login or verify), p50', pct(posts, 50), 'ms')
      figure('login.p99', 'each POST (login or verify), p99', pct(posts, 99), 'ms')
      figure(
        'firstPacket.p50',
        'POST /verify sent → first packet at the internet host, p50',
        pct(fromSent, 50),
        'ms',
      )
      figure(
        'firstPacket.p99',
        'POST /verify sent → first packet at the internet host, p99',
        pct(fromSent, 99),
        'ms',
      )
      figure(
        'firstPacket.afterWelcome.p99',
        'welcome page received → first packet, p99',
        pct(fromWelcome, 99),
        'ms',
        {
          note: `(${refused} connections refused before the gate opened)`,
        },
      )

      // Presence over the real kernel tables, next to the running service.
      const out = await b.exec(b.gw, [
        process.execPath,
        '--import',
        'tsx',
        path.join(ROOT, 'bench/netns/sweep.ts'),
        service.file,
        '12',
      ])
      const reports = JSON.parse(out.trim().split('\n').at(-1)!) as SweepReport[]
      const steady = reports.slice(2)
      const total = steady.map((r) => r.sourceMs + r.cpuMs + r.dbMs).sort((a, c) => a - c)
      const src = steady.map((r) => r.sourceMs).sort((a, c) => a - c)
      console.log(
        `presence sweeps over the kernel (${steady.length} after 2 warm-up): ${steady[0]?.present} present, ` +
          `${steady.map((r) => r.written.visits + r.written.devices).join('/')} rows written`,
      )
      figure(
        'sweep.source.median',
        "  reading the neighbour table and the map up's counters (netlink dumps), median",
        pct(src, 50),
        'ms',
      )
      figure('sweep.median', '  whole sweep, median', pct(total, 50), 'ms')
      figure('sweep.max', '  whole sweep, max', total.at(-1)!, 'ms')
      if (failed.length) console.log(service.log().split('\n').slice(-20).join('\n'))
      // The neighbour watch through the burst of a thousand arrivals: what it said, if anything
      // (changes lost, a fallback to ip).
      const watchLines = service
        .log()
        .split('\n')
        .filter((l) => /\bneighbours: /.test(l))
      console.log(
        watchLines.length
          ? `the service's neighbour watch said:\n${watchLines.slice(0, 5).join('\n')}`
          : "the service's neighbour watch: its netlink feed, no change lost",
      )
      await service.stop()
    } finally {
      await branch?.close()
      restore()
    }
  },
}
export default section
