/**
 * The portal as a real phone reaches it (issue 20, point 0): the compiled service on a gateway
 * namespace with the nftables gate, phones in client namespaces with their own MACs, every
 * request's MAC from the kernel's neighbour table. Compared with the loopback figure of the same
 * run: the bench's portal server (dry-run gate, MACs made up per loopback address) under the
 * same load, its event loop pinned the same way. Needs root.
 */
import { benchNational } from './bench-phones.js'
import { figure } from './figures.js'
import { createBranch, GATEWAY_IP, netnsBenchReady, PORTAL_PORT } from './netns/branch.js'
import type { LoginResult } from './netns/phones.js'
import {
  cpuProfArgs,
  isPinned,
  durationOf,
  load,
  loginVerify,
  mergeLatencies,
  OTHERS,
  pct,
  pin,
  pinChildren,
  rps,
  start,
  type Latencies,
  stop,
  unpinSelf,
} from './portal.js'
import type { BenchSection } from './run.js'
import { readFileSync } from 'node:fs'

/**
 * CPU time (user + system, ms) of a process and of its children still running: the service and
 * its long-lived `nft -i`, `tc` and `ip monitor` sessions, whose time a parent only sees once
 * they end.
 */
function treeCpuMs(pid: number): {
  all: number
  own: number
  ownSystem: number
  /** The service's main thread (its event loop), of `own`. */
  ownMain: number
  by: Map<string, number>
} {
  const tick = 1000 / 100 // USER_HZ is 100 on Linux
  let all = 0
  let own = 0
  let ownSystem = 0
  let ownMain = 0
  const by = new Map<string, number>()
  const todo = [pid]
  while (todo.length) {
    const p = todo.pop()!
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ms = (Number(f[11]) + Number(f[12])) * tick
      all += ms
      if (p === pid) {
        own = ms
        ownSystem = Number(f[12]) * tick
        try {
          const m = readFileSync(`/proc/${p}/task/${p}/stat`, 'utf8')
          const g = m.slice(m.lastIndexOf(')') + 2).split(' ')
          ownMain = (Number(g[11]) + Number(g[12])) * tick
        } catch {
          // gone meanwhile
        }
      } else by.set(name, (by.get(name) ?? 0) + ms)
      for (const t of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' '))
        if (t.trim()) todo.push(Number(t))
    } catch {
      // gone meanwhile
    }
  }
  return { all, own, ownSystem, ownMain, by }
}

/** The service's own CPU and each kind of child's, between two readings, per unit (ms). */
function cpuSplit(
  a: ReturnType<typeof treeCpuMs>,
  b: ReturnType<typeof treeCpuMs>,
  per: number,
): string {
  // The service's system time: its sockets' sends run the kernel's path to the phone (the
  // bridge, the gate's rules, the tiers' qdiscs, the peer's receive) in its own syscalls.
  const parts = [
    `service ${((b.own - a.own) / per).toFixed(2)} (system ${((b.ownSystem - a.ownSystem) / per).toFixed(2)}; event loop ${((b.ownMain - a.ownMain) / per).toFixed(2)}, other threads ${((b.own - a.own - (b.ownMain - a.ownMain)) / per).toFixed(2)})`,
  ]
  for (const [name, ms] of b.by) {
    const d = (ms - (a.by.get(name) ?? 0)) / per
    if (d > 0) parts.push(`${name} ${d.toFixed(2)}`)
  }
  return parts.join(', ')
}

const CONNECTIONS = 10
const NAMESPACES = 2
const PHONES = 100
/**
 * Logins before the counted ones, on each side: the loopback server's and the service's login
 * path compiled by V8, statements prepared, sessions started. The gate's side went into its count
 * cold while loopback had been warmed, so the ratio measured a start-up against a steady state.
 */
const WARM_LOGINS = 100
/**
 * Each side's load comes in this many blocks, alternating with the other side's (ABBA…), both
 * servers up side by side. Loaded one after the other (loopback first, then the namespaces were
 * built and the service started), the two figures were taken a minute apart, and the login ratio
 * read 0.64× and 1.02× in two full runs with the same code: the loopback server made 302 logins/s
 * in the slower state of the machine (issue 20).
 */
const BLOCKS = 4

type Tree = ReturnType<typeof treeCpuMs>
const zeroTree = (): Tree => ({ all: 0, own: 0, ownSystem: 0, ownMain: 0, by: new Map() })

/** Adds what the process tree spent between two readings to `sum`. */
function addTree(sum: Tree, a: Tree, b: Tree): void {
  sum.all += b.all - a.all
  sum.own += b.own - a.own
  sum.ownSystem += b.ownSystem - a.ownSystem
  sum.ownMain += b.ownMain - a.ownMain
  for (const [name, ms] of b.by)
    sum.by.set(name, (sum.by.get(name) ?? 0) + ms - (a.by.get(name) ?? 0))
}

/** The order of the two sides in block `k` (ABBA…): true when loopback goes first. */
const loopbackFirst = (k: number) => k % 4 === 0 || k % 4 === 3

const section: BenchSection = {
  name: 'real-path',
  async run() {
    if (!netnsBenchReady()) return
    const seconds = Number(process.env.BENCH_SECONDS ?? 5)
    const loginsPerNs = Number(process.env.BENCH_REAL_PHONES ?? PHONES)
    const blocks = Math.max(2, Number(process.env.BENCH_REAL_BLOCKS ?? BLOCKS))
    // Each block: `perBlockNs` phones of each namespace on the gate's side, as many logins
    // (20 clients at once) on loopback's.
    const perBlockNs = Math.max(1, Math.floor(loginsPerNs / blocks))
    const perBlock = perBlockNs * NAMESPACES
    const splashSeconds = Math.max(1, seconds / 2)

    // Loopback: the bench's portal server, warmed as the service will be; it stays up, idle on
    // CPU 0 while the gate's side is loaded, and the reverse.
    const loop = await start('portal')
    const warmPerNs = WARM_LOGINS / NAMESPACES
    let branch: Awaited<ReturnType<typeof createBranch>> | null = null
    try {
      branch = await createBranch({
        namespaces: NAMESPACES,
        phonesPerNamespace: warmPerNs + perBlockNs * blocks,
      })
      // BENCH_CPU_PROF=DIR: a V8 CPU profile of the service too (dist/ is minified: build it
      // with BRANCHGATE_NO_MINIFY=1 node scripts/build.mjs to read its names).
      const profDir = process.env.BENCH_CPU_PROF
      const service = await branch.startService(
        branch.config(),
        profDir ? cpuProfArgs(profDir) : [],
      )
      pin(service.pid)
      const unpinChildren = pinChildren(service.pid)
      console.log(
        isPinned()
          ? `(each server's event loop alone on CPU 0; load generators and the rest on CPU ${OTHERS}; ${blocks} blocks a side, alternating)`
          : `(nothing pinned; ${blocks} blocks a side, alternating)`,
      )
      const phones = await Promise.all(branch.clientNs.map((ns) => branch!.startPhones(ns)))
      const url = `http://${GATEWAY_IP}:${PORTAL_PORT}/`
      type Splash = {
        rps: number
        p99: number
        non2xx: number
        errors: number
        requests?: number
        seconds?: number
      }
      const gateSplash = (s: number) =>
        phones[0]!.ask<Splash>({ splash: { url, connections: CONNECTIONS, seconds: s } }, 'splash')
      // Each side warmed just before its blocks: the loopback server's first block, after the
      // minute the namespaces took to build, read 16,400 req/s against 27,000–36,600 for the
      // others.
      await gateSplash(1)
      await rps(loop.port, 1, CONNECTIONS)

      // GET /, in alternating blocks.
      const loopSplash = { requests: 0, seconds: 0 }
      const real = { requests: 0, seconds: 0, p99: 0 }
      const splashCpu = zeroTree()
      for (let k = 0; k < blocks; k++) {
        for (const side of loopbackFirst(k) ? ['loop', 'gate'] : ['gate', 'loop']) {
          if (side === 'loop') {
            const r = await load(loop.port, splashSeconds, CONNECTIONS)
            loopSplash.requests += r.requests.total
            loopSplash.seconds += durationOf(r, splashSeconds)
            continue
          }
          const c0 = treeCpuMs(service.pid)
          const r = await gateSplash(splashSeconds)
          addTree(splashCpu, c0, treeCpuMs(service.pid))
          if (r.non2xx || r.errors)
            throw new Error(`GET / through the gate had ${r.non2xx} non-2xx and ${r.errors} errors`)
          const secs = r.seconds ?? splashSeconds
          real.requests += r.requests ?? r.rps * secs
          real.seconds += secs
          real.p99 = Math.max(real.p99, r.p99)
        }
      }
      const loopRps = loopSplash.requests / loopSplash.seconds
      const realRps = real.requests / real.seconds
      console.log(`GET /, ${CONNECTIONS} connections from one phone:`)
      figure('splash.loopback', '  loopback (bench portal server)', loopRps, 'req/s', {
        better: 'higher',
      })
      figure(
        'splash.gate',
        '  from a client namespace through the nftables gate',
        realRps,
        'req/s',
        {
          better: 'higher',
          note: `(p99 ${real.p99} ms, the worst block's)`,
        },
      )
      figure('splash.ratio', '  through the gate / loopback', realRps / loopRps, '×', {
        target: { op: '>=', value: 0.8 },
      })
      figure(
        'splash.cpu',
        '  service CPU per GET / through the gate (with its sessions)',
        (splashCpu.all * 1000) / real.requests,
        'µs',
        {
          better: 'lower',
          note: `(ms per 1,000: ${cpuSplit(zeroTree(), splashCpu, real.requests / 1000)})`,
        },
      )

      // The login flow: every phone its own MAC, 10 at once per namespace; the first
      // WARM_LOGINS phones warm the service up as the loopback server was, and are not counted.
      // Numbers spread over prefixes as the loopback server's are (benchNational): the fraud
      // rules read a prefix's codes, and 100 phones in one prefix made the gate's side pay reads
      // the loopback side did not.
      const customers = phones.map((_, k) =>
        branch!
          .customersIn(k, `55${String(k + 1).padStart(2, '0')}`)
          .map((c, i) => ({ ...c, number: benchNational(k * 1000 + i) })),
      )
      const loginsOf = async (from: number, count: number) =>
        (
          await Promise.all(
            phones.map((p, k) =>
              p.ask<LoginResult[]>(
                {
                  logins: {
                    host: GATEWAY_IP,
                    port: PORTAL_PORT,
                    concurrency: 20 / NAMESPACES,
                    internet: null,
                    phones: customers[k]!.slice(from, from + count),
                  },
                },
                'logins',
              ),
            ),
          )
        ).flat()
      const warm = await loginsOf(0, warmPerNs)
      if (warm.some((r) => !r.ok))
        throw new Error(`a warm-up login failed: ${warm.find((r) => !r.ok)!.error}`)
      await loginVerify(loop, 20, WARM_LOGINS / 20)
      const results: LoginResult[] = []
      const loginCpu = zeroTree()
      const loopParts: Latencies[] = []
      let gateWall = 0
      let loopWall = 0
      for (let k = 0; k < blocks; k++) {
        for (const side of loopbackFirst(k) ? ['loop', 'gate'] : ['gate', 'loop']) {
          const t0 = performance.now()
          if (side === 'loop') {
            loopParts.push(await loginVerify(loop, 20, perBlock / 20))
            loopWall += (performance.now() - t0) / 1000
            continue
          }
          const c0 = treeCpuMs(service.pid)
          results.push(...(await loginsOf(warmPerNs + k * perBlockNs, perBlockNs)))
          gateWall += (performance.now() - t0) / 1000
          addTree(loginCpu, c0, treeCpuMs(service.pid))
        }
      }
      const failed = results.filter((r) => !r.ok)
      if (failed.length)
        throw new Error(
          `${failed.length} logins failed, e.g. ${failed[0]!.error}\n${service.log()}`,
        )
      const counted = mergeLatencies(loopParts)
      const loopLogins = counted.pairs.length / loopWall
      const posts = results.flatMap((r) => [r.loginMs, r.verifyMs]).sort((a, b) => a - b)
      const gateLogins = results.length / gateWall
      console.log(
        `login + verify, 20 phones at once, ${results.length} phones (each its own MAC; ${WARM_LOGINS} before, not counted, on each side):`,
      )
      figure(
        'logins.loopback',
        '  loopback (bench portal server, dry-run gate)',
        loopLogins,
        'logins/s',
        {
          better: 'higher',
        },
      )
      figure('logins.gate', '  through the nftables gate', gateLogins, 'logins/s', {
        better: 'higher',
        note: `(each POST p50 ${pct(posts, 50).toFixed(1)} ms, p99 ${pct(posts, 99).toFixed(1)} ms)`,
      })
      figure('logins.ratio', '  through the gate / loopback', gateLogins / loopLogins, '×', {
        target: { op: '>=', value: 0.8 },
      })
      figure('logins.p99', '  each POST through the gate, p99', pct(posts, 99), 'ms', {
        better: 'lower',
      })
      figure(
        'logins.cpu',
        '  service CPU per login through the gate (with its nft, tc and ip sessions)',
        loginCpu.all / results.length,
        'ms',
        { better: 'lower', note: `(${cpuSplit(zeroTree(), loginCpu, results.length)})` },
      )
      // The same count of logins after the same warm-up: what the service's figure is set against.
      figure('logins.loopbackCpu', '  loopback server CPU per login', counted.cpuPerLogin, 'ms', {
        better: 'lower',
        note: `(event loop ${counted.mainCpuPerLogin.toFixed(2)}, other threads ${(counted.cpuPerLogin - counted.mainCpuPerLogin).toFixed(2)})`,
      })
      unpinChildren()
      await service.stop()
      if (profDir) {
        const { newestProfile, printTop } = await import('./profile.js')
        const file = newestProfile(profDir, service.pid)
        if (file) printTop(file, 25)
      }
    } finally {
      await stop(loop)
      unpinSelf()
      await branch?.close()
    }
  },
}
export default section
