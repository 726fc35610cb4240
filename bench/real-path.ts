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
  loginVerify,
  OTHERS,
  pct,
  pin,
  pinChildren,
  rps,
  start,
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

const section: BenchSection = {
  name: 'real-path',
  async run() {
    if (!netnsBenchReady()) return
    const seconds = Number(process.env.BENCH_SECONDS ?? 5)
    const loginsPerNs = Number(process.env.BENCH_REAL_PHONES ?? PHONES)

    // Loopback, the same run: the bench's portal server, 10 connections, then 20 logging in.
    const loop = await start('portal')
    let loopSplash: number
    let loopLogins: number
    let loopCpu: number
    let loopMainCpu: number
    try {
      await rps(loop.port, 1, CONNECTIONS)
      loopSplash = await rps(loop.port, seconds, CONNECTIONS)
      await loginVerify(loop, 20, WARM_LOGINS / 20)
      const t0 = performance.now()
      const counted = await loginVerify(loop, 20, (NAMESPACES * loginsPerNs) / 20)
      loopLogins = (NAMESPACES * loginsPerNs) / ((performance.now() - t0) / 1000)
      loopCpu = counted.cpuPerLogin
      loopMainCpu = counted.mainCpuPerLogin
    } finally {
      await stop(loop)
      unpinSelf()
    }

    const warmPerNs = WARM_LOGINS / NAMESPACES
    const branch = await createBranch({
      namespaces: NAMESPACES,
      phonesPerNamespace: warmPerNs + loginsPerNs,
    })
    try {
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
          ? `(each server's event loop alone on CPU 0; load generators and the rest on CPU ${OTHERS})`
          : '(nothing pinned)',
      )
      const phones = await Promise.all(branch.clientNs.map((ns) => branch.startPhones(ns)))
      const url = `http://${GATEWAY_IP}:${PORTAL_PORT}/`
      type Splash = {
        rps: number
        p99: number
        non2xx: number
        errors: number
        requests?: number
      }
      await phones[0]!.ask<Splash>(
        { splash: { url, connections: CONNECTIONS, seconds: 1 } },
        'splash',
      )
      const splashCpu0 = treeCpuMs(service.pid)
      const real = await phones[0]!.ask<Splash>(
        { splash: { url, connections: CONNECTIONS, seconds } },
        'splash',
      )
      const splashCpu1 = treeCpuMs(service.pid)
      const splashCpu = splashCpu1.all - splashCpu0.all
      if (real.non2xx || real.errors)
        throw new Error(
          `GET / through the gate had ${real.non2xx} non-2xx and ${real.errors} errors`,
        )
      console.log(`GET /, ${CONNECTIONS} connections from one phone:`)
      figure('splash.loopback', '  loopback (bench portal server)', loopSplash, 'req/s', {
        better: 'higher',
      })
      figure(
        'splash.gate',
        '  from a client namespace through the nftables gate',
        real.rps,
        'req/s',
        {
          better: 'higher',
          note: `(p99 ${real.p99} ms)`,
        },
      )
      figure('splash.ratio', '  through the gate / loopback', real.rps / loopSplash, '×', {
        target: { op: '>=', value: 0.8 },
      })
      figure(
        'splash.cpu',
        '  service CPU per GET / through the gate (with its sessions)',
        (splashCpu * 1000) / (real.requests ?? real.rps * seconds),
        'µs',
        {
          better: 'lower',
          note: `(ms per 1,000: ${cpuSplit(splashCpu0, splashCpu1, (real.requests ?? real.rps * seconds) / 1000)})`,
        },
      )

      // The login flow: every phone its own MAC, 10 at once per namespace; the first
      // WARM_LOGINS phones warm the service up as the loopback server was, and are not counted.
      // Numbers spread over prefixes as the loopback server's are (benchNational): the fraud
      // rules read a prefix's codes, and 100 phones in one prefix made the gate's side pay reads
      // the loopback side did not.
      const customers = phones.map((_, k) =>
        branch
          .customersIn(k, `55${String(k + 1).padStart(2, '0')}`)
          .map((c, i) => ({ ...c, number: benchNational(k * 1000 + i) })),
      )
      const loginsOf = async (which: 'warm' | 'counted') =>
        (
          await Promise.all(
            phones.map((p, k) => {
              const all = customers[k]!
              return p.ask<LoginResult[]>(
                {
                  logins: {
                    host: GATEWAY_IP,
                    port: PORTAL_PORT,
                    concurrency: 20 / NAMESPACES,
                    internet: null,
                    phones: which === 'warm' ? all.slice(0, warmPerNs) : all.slice(warmPerNs),
                  },
                },
                'logins',
              )
            }),
          )
        ).flat()
      const warm = await loginsOf('warm')
      if (warm.some((r) => !r.ok))
        throw new Error(`a warm-up login failed: ${warm.find((r) => !r.ok)!.error}`)
      const loginCpu0 = treeCpuMs(service.pid)
      const t0 = performance.now()
      const results = await loginsOf('counted')
      const wall = (performance.now() - t0) / 1000
      const loginCpu1 = treeCpuMs(service.pid)
      const loginCpu = loginCpu1.all - loginCpu0.all
      const failed = results.filter((r) => !r.ok)
      if (failed.length)
        throw new Error(
          `${failed.length} logins failed, e.g. ${failed[0]!.error}\n${service.log()}`,
        )
      const posts = results.flatMap((r) => [r.loginMs, r.verifyMs]).sort((a, b) => a - b)
      const gateLogins = results.length / wall
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
        loginCpu / results.length,
        'ms',
        { better: 'lower', note: `(${cpuSplit(loginCpu0, loginCpu1, results.length)})` },
      )
      // The same count of logins after the same warm-up: what the service's figure is set against.
      figure('logins.loopbackCpu', '  loopback server CPU per login', loopCpu!, 'ms', {
        better: 'lower',
        note: `(event loop ${loopMainCpu!.toFixed(2)}, other threads ${(loopCpu! - loopMainCpu!).toFixed(2)})`,
      })
      unpinChildren()
      await service.stop()
      if (profDir) {
        const { newestProfile, printTop } = await import('./profile.js')
        const file = newestProfile(profDir, service.pid)
        if (file) printTop(file, 25)
      }
    } finally {
      unpinSelf()
      await branch.close()
    }
  },
}
export default section
