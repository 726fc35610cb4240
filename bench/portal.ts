import autocannon, { type Result } from 'autocannon'
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { LeanConnection } from './lean-http.js'
import { benchAddress, benchNational } from './bench-phones.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'

type Mode = 'portal' | 'portal-metrics' | 'hello' | 'stub'

interface Server {
  child: ChildProcess
  port: number
}

/**
 * The measured server's event loop gets CPU 0 to itself; its helper threads, the load generator
 * and the rest of this process share the other CPUs. On a small box the load generator would
 * otherwise take turns with the server on the same core, and what the figures showed was partly
 * the generator. Needs taskset (util-linux) and two CPUs; without them nothing is pinned.
 */
const CPUS = availableParallelism()
export const OTHERS = CPUS > 2 ? `1-${CPUS - 1}` : '1'

function taskset(args: string[]): boolean {
  try {
    execFileSync('taskset', args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

let pinned = false

/** Whether the last pin() worked. */
export const isPinned = () => pinned

/** Puts the server's main thread alone on CPU 0, its other threads and this process elsewhere. */
export function pin(server: { child: { pid?: number } } | number): void {
  if (CPUS < 2) return
  const pid = String(typeof server === 'number' ? server : server.child.pid)
  pinned =
    taskset(['-a', '-pc', OTHERS, pid]) &&
    taskset(['-pc', '0', pid]) && // the main thread's id is the process id
    taskset(['-a', '-pc', OTHERS, String(process.pid)])
}

/**
 * Keeps the processes the server starts (the real service's `nft -i`, `tc` and `ip` sessions)
 * off CPU 0, with its helper threads: a child started by the pinned main thread inherits CPU 0,
 * and there it took turns with the event loop it was meant to leave alone (in the service's CPU
 * profile, nft's work showed as the service's writes to its pipe). Checks every 50 ms until
 * stopped.
 */
export function pinChildren(pid: number): () => void {
  if (!pinned) return () => {}
  const moved = new Set<number>()
  const sweep = () => {
    const todo = [pid]
    while (todo.length) {
      const p = todo.pop()!
      let kids: string[] = []
      try {
        kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' ')
      } catch {
        continue
      }
      for (const k of kids) {
        const child = Number(k)
        if (!child) continue
        todo.push(child)
        if (!moved.has(child) && taskset(['-a', '-pc', OTHERS, String(child)])) moved.add(child)
      }
    }
  }
  sweep()
  const t = setInterval(sweep, 50)
  t.unref()
  return () => clearInterval(t)
}

export function unpinSelf(): void {
  if (pinned) taskset(['-a', '-pc', `0-${CPUS - 1}`, String(process.pid)])
}

/**
 * Node's options for a V8 CPU profile into `dir`; BENCH_CPU_PROF_US sets the sampling interval
 * (µs; V8's default 1,000 gives a login a handful of samples).
 */
export function cpuProfArgs(dir: string): string[] {
  const us = process.env.BENCH_CPU_PROF_US
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...(us ? [`--cpu-prof-interval=${us}`] : [])]
}

/**
 * The servers run from a bundle made as the service's is (bench/profile.ts); with
 * BENCH_CPU_PROF=DIR from a readable one.
 */
let bundled: Promise<string> | null = null

export async function start(mode: Mode): Promise<Server> {
  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of each server to DIR, to see where time goes.
  const dir = process.env.BENCH_CPU_PROF
  const prof = dir ? cpuProfArgs(dir) : []
  bundled ??= import('./profile.js').then((p) => p.bundledServer(dir !== undefined))
  const child = fork(await bundled, [mode], {
    execArgv: prof,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (m: any) => {
      const server = { child, port: m.port as number }
      pin(server)
      resolve(server)
    })
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
}

export function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve())
    server.child.disconnect()
  })
}

export async function rps(port: number, seconds: number, connections = 50): Promise<number> {
  return (await load(port, seconds, connections)).requests.average
}

/**
 * GET / on two servers, both up side by side, in `blocks` alternating blocks (ABBA) of
 * `seconds / 2` each: what each side served over all its blocks, and its CPU per request. Loaded
 * one after the other, 5 s each, the ratio read 0.82×, 0.59× and 0.44× in three runs minutes
 * apart with the same build: the machine's speed moved between the two loads (issue 20).
 */
export async function splashAlternating(
  a: Server,
  b: Server,
  seconds: number,
  blocks: number,
  connections = 50,
): Promise<[Measured, Measured]> {
  const totals = [
    { requests: 0, seconds: 0, cpuMs: 0 },
    { requests: 0, seconds: 0, cpuMs: 0 },
  ]
  const each = Math.max(1, seconds / 2)
  for (let k = 0; k < blocks; k++) {
    for (const i of k % 2 === 0 ? [0, 1] : [1, 0]) {
      const server = i === 0 ? a : b
      const cpu0 = await serverCpu(server)
      const result = await load(server.port, each, connections)
      const t = totals[i]!
      t.seconds += durationOf(result, each)
      t.cpuMs += (await serverCpu(server)) - cpu0
      t.requests += result.requests.total
    }
  }
  const of = (t: (typeof totals)[number]): Measured => ({
    rps: t.requests / t.seconds,
    cpuPerRequestUs: (t.cpuMs * 1000) / t.requests,
  })
  return [of(totals[0]!), of(totals[1]!)]
}

interface Measured {
  rps: number
  cpuPerRequestUs: number
}

/** The average req/s of a load and the server's CPU per request (µs) while it ran. */
async function measured(server: Server, run: () => Promise<Result>): Promise<Measured> {
  const cpu0 = await serverCpu(server)
  const result = await run()
  const cpu = (await serverCpu(server)) - cpu0
  return {
    rps: result.requests.average,
    cpuPerRequestUs: (cpu * 1000) / result.requests.total,
  }
}

/** How long autocannon's run took, s (in its result, not in its types). */
export const durationOf = (r: Result, asked: number): number =>
  (r as Result & { duration?: number }).duration ?? asked

export async function load(port: number, seconds: number, connections: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    pipelining: 1,
  })
  if (result.non2xx || result.errors)
    throw new Error(`GET / had ${result.non2xx} non-2xx and ${result.errors} errors`)
  return result
}

/**
 * A caught phone's captive probe (Android's, by Host, as nftables redirects it) for `seconds`:
 * every answer the redirect to the splash page. The average req/s and the server's CPU per probe.
 */
export function probeLoad(server: Server, seconds: number, connections = 50) {
  return measured(server, async () => {
    const result = await autocannon({
      url: `http://127.0.0.1:${server.port}/generate_204`,
      headers: { host: 'connectivitycheck.gstatic.com' },
      connections,
      duration: seconds,
      pipelining: 1,
    })
    const redirects = result['3xx']
    if (result.errors || result.non2xx !== redirects || redirects !== result.requests.total)
      throw new Error(
        `the probe had ${result.errors} errors and ${result.non2xx - redirects} answers other than a redirect`,
      )
    return result
  })
}

/** Asks the server `question` ('cpu', 'held') and resolves with its answer's field of that name. */
function askServer<T>(server: Server, question: 'cpu' | 'held'): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: any) => {
      if (m?.[question] === undefined) return
      server.child.off('message', on)
      resolve(m[question])
    }
    server.child.on('message', on)
    server.child.send(question)
  })
}

/** The server's CPU time so far (user + system, all its threads), in ms. */
const serverCpu = async (server: Server) => (await askServer<number>(server, 'cpu')) / 1000

/** How long each WAL restart so far held the server's writers back (ms; the portal server only). */
const serverHeld = (server: Server) => askServer<number[]>(server, 'held')

/** Numbers handed out so far: every login in the run texts a fresh number. */
let serial = 0

export const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const ms = (n: number) => `${n.toFixed(2).padStart(6)} ms`

export interface Latencies {
  login: number[]
  verify: number[]
  /** Every POST, login or verify. */
  posts: number[]
  /** Each login's two POSTs added together. */
  pairs: number[]
  /** Server CPU per login (GET /, POST /login, POST /verify), ms. */
  cpuPerLogin: number
  /** Of it, the server's main thread (its event loop), ms. */
  mainCpuPerLogin: number
}

/** A thread's CPU time so far (user + system, ms); the main thread's when `tid` is the pid. */
export function threadCpuMs(pid: number, tid = pid): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10 // USER_HZ is 100 on Linux
  } catch {
    return NaN
  }
}

/**
 * `clients` phones at once, each logging in `perClient` times back to back: a new address (so a
 * new MAC) and a new connection per login, GET / first (untimed, as a phone opens the splash
 * page), then POST /login, the code from the SMS sender, and POST /verify.
 */
export async function loginVerify(
  server: Server,
  clients: number,
  perClient: number,
  welcome = true,
): Promise<Latencies> {
  const waiting = new Map<string, (code: string) => void>()
  const early = new Map<string, string>()
  const onCodes = (m: any) => {
    for (const { to, code } of m?.codes ?? []) {
      const w = waiting.get(to)
      if (w) w(code)
      else early.set(to, code)
    }
  }
  server.child.on('message', onCodes)
  const codeFor = (to: string) => {
    const known = early.get(to)
    early.delete(to)
    return known !== undefined
      ? Promise.resolve(known)
      : new Promise<string>((r) => waiting.set(to, r))
  }
  const login: number[] = []
  const verify: number[] = []
  const pairs: number[] = []
  const cpu0 = await serverCpu(server)
  const main0 = threadCpuMs(server.child.pid!)
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      for (let k = 0; k < perClient; k++) {
        const n = serial++
        // Its own valid number and address however many logins the run has made (bench-phones.ts).
        const national = benchNational(n)
        const phone = await LeanConnection.open(server.port, benchAddress(n))
        try {
          const splash = await phone.get('/')
          if (splash.status !== 200) throw new Error(`GET / answered ${splash.status}`)
          const t0 = performance.now()
          const a = await phone.postForm(
            '/login',
            `name=Cliente+${i}&phone=${national}&consent=yes`,
          )
          const t1 = performance.now()
          if (a.status !== 200) throw new Error(`login answered ${a.status}`)
          const challenge = /name="challenge" value="([^"]+)"/.exec(a.body)![1]!
          const code = await codeFor(`+52${national}`)
          waiting.delete(`+52${national}`)
          const t2 = performance.now()
          const b = await phone.postForm(
            '/verify',
            `challenge=${encodeURIComponent(challenge)}&code=${code}`,
          )
          const t3 = performance.now()
          if (b.status !== 200 || (welcome && !b.body.includes(`Cliente ${i}`)))
            throw new Error(`verify answered ${b.status} without the welcome page`)
          login.push(t1 - t0)
          verify.push(t3 - t2)
          pairs.push(t1 - t0 + (t3 - t2))
        } finally {
          phone.close()
        }
      }
    }),
  )
  const cpuPerLogin = ((await serverCpu(server)) - cpu0) / (clients * perClient)
  const mainCpuPerLogin = (threadCpuMs(server.child.pid!) - main0) / (clients * perClient)
  server.child.off('message', onCodes)
  const posts = [...login, ...verify]
  for (const a of [login, verify, posts, pairs]) a.sort((x, y) => x - y)
  return { login, verify, posts, pairs, cpuPerLogin, mainCpuPerLogin }
}

function report(r: Latencies, target: boolean) {
  const line = (label: string, a: number[], note = '') =>
    console.log(`  ${label.padEnd(30)} p50 ${ms(pct(a, 50))}  p99 ${ms(pct(a, 99))}${note}`)
  const goal = target ? '   (target: the floor below + 3 ms)' : ''
  line('POST /login', r.login)
  line('POST /verify', r.verify)
  line('each POST, login or verify', r.posts, goal)
  line("a login's two POSTs, added", r.pairs)
  console.log(
    `  ${''.padEnd(30)} p90 ${ms(pct(r.pairs, 90))}  p95 ${ms(pct(r.pairs, 95))}  max ${ms(r.pairs.at(-1)!)}`,
  )
}

/** Blocks of the same load as one: every sample pooled, the CPU figures weighted by logins. */
export function mergeLatencies(parts: readonly Latencies[]): Latencies {
  const all = (key: 'login' | 'verify' | 'posts' | 'pairs') =>
    parts.flatMap((p) => p[key]).sort((x, y) => x - y)
  const logins = parts.reduce((n, p) => n + p.pairs.length, 0)
  const weighted = (key: 'cpuPerLogin' | 'mainCpuPerLogin') =>
    parts.reduce((sum, p) => sum + p[key] * p.pairs.length, 0) / logins
  return {
    login: all('login'),
    verify: all('verify'),
    posts: all('posts'),
    pairs: all('pairs'),
    cpuPerLogin: weighted('cpuPerLogin'),
    mainCpuPerLogin: weighted('mainCpuPerLogin'),
  }
}

const section: BenchSection = {
  name: 'portal',
  async run() {
    const seconds = Number(process.env.BENCH_SECONDS ?? 5)
    const perClient = Number(process.env.BENCH_LOGINS_PER_CLIENT ?? 100)
    let posts20 = NaN
    let stub: Server | null = null
    let floor: Latencies | null = null
    try {
      const portal = await start('portal')
      try {
        const hello = await start('hello')
        let helloRun: Measured
        let splashRun: Measured
        try {
          await rps(hello.port, 1) // warm-up
          await rps(portal.port, 1)
          const blocks = Math.max(2, Number(process.env.BENCH_SPLASH_BLOCKS ?? 4))
          ;[helloRun, splashRun] = await splashAlternating(hello, portal, seconds, blocks)
        } finally {
          await stop(hello)
        }
        const ceiling = helloRun.rps
        const splash = splashRun.rps
        console.log(
          pinned
            ? `(each server's event loop alone on CPU 0; load generator and the rest on CPU ${OTHERS})`
            : '(nothing pinned: load generator and server share the CPUs)',
        )
        figure('hello.rps', 'GET /  bare Hono "hello" (ceiling)', ceiling, 'req/s', {
          better: 'higher',
        })
        figure('splash.rps', 'GET /  branchgate splash page', splash, 'req/s', {
          better: 'higher',
        })
        figure('splash.ratio', 'splash / ceiling', splash / ceiling, '×', {
          target: { op: '>=', value: 0.85 },
        })
        // Steadier than req/s on a shared machine: what one request cost the server.
        figure('hello.cpu', '  server CPU per GET /, hello', helloRun.cpuPerRequestUs, 'µs', {
          better: 'lower',
        })
        figure('splash.cpu', '  server CPU per GET /, splash', splashRun.cpuPerRequestUs, 'µs', {
          better: 'lower',
        })
        // The request a caught phone sends most: its OS's probe, answered with the redirect.
        const probeRun = await probeLoad(portal, seconds)
        figure(
          'probe.rps',
          "GET /generate_204  a caught phone's probe (redirect)",
          probeRun.rps,
          'req/s',
          {
            better: 'higher',
          },
        )
        figure('probe.cpu', '  server CPU per probe', probeRun.cpuPerRequestUs, 'µs', {
          better: 'lower',
        })
        // One client first: the service time, with no queue in front of it.
        const one = await loginVerify(portal, 1, 200)
        console.log(`login + verify, 1 client, ${one.pairs.length} logins (no queue):`)
        report(one, false)
        // Warm-up at full concurrency, like the GET runs. Long enough for V8 to finish compiling
        // the login's code: after 100 logins its optimising compiler still took ~0.5 ms of
        // helper-thread CPU per login over the next 2,000 (a fifth of the figure), work a server
        // does once in its life, not per login (issue 20).
        await loginVerify(portal, 20, 50)
        // The floor: the same load against a server that does nothing, what the machine and the
        // load generator cost on their own. Loaded in blocks alternating with the portal's (ABBA),
        // both servers up side by side: measured after the portal's run, the floor's p99 moved
        // between 13.6 and 26.1 ms from run to run with the machine, and the figure above it
        // moved by as much (issue 20).
        stub = await start('stub')
        await loginVerify(stub, 20, 5, false)
        const blocks = Math.max(1, Number(process.env.BENCH_FLOOR_BLOCKS ?? 4))
        const perBlock = Math.max(1, Math.round(perClient / blocks))
        const ours: Latencies[] = []
        const floors: Latencies[] = []
        const held: number[] = []
        for (let b = 0; b < blocks; b++) {
          for (const side of b % 2 === 0 ? ['portal', 'stub'] : ['stub', 'portal']) {
            if (side === 'stub') {
              floors.push(await loginVerify(stub, 20, perBlock, false))
              continue
            }
            const before = (await serverHeld(portal)).length
            ours.push(await loginVerify(portal, 20, perBlock))
            held.push(...(await serverHeld(portal)).slice(before))
          }
        }
        held.sort((a, b) => a - b)
        const r = mergeLatencies(ours)
        floor = mergeLatencies(floors)
        console.log(
          `login + verify, 20 concurrent clients, ${r.pairs.length} logins (each a new phone and connection):`,
        )
        report(r, true)
        // The WAL restarts during those logins (about one a second: the logins write ~10,000
        // pages a second): every write transaction waits for each one (src/db/checkpointer.ts).
        figure('walRestarts', '  WAL restarts during them', held.length, 'restarts')
        if (held.length) {
          figure('walRestart.p50', '    each held the writers back, median', pct(held, 50), 'ms', {
            better: 'lower',
          })
          figure('walRestart.max', '    … longest', held[held.length - 1]!, 'ms', {
            better: 'lower',
          })
        }
        posts20 = pct(r.posts, 99)
        figure('post.p99', '  each POST, login or verify, p99', posts20, 'ms')
        figure(
          'cpuPerLogin',
          '  server CPU per login (GET /, POST /login, POST /verify)',
          r.cpuPerLogin,
          'ms',
          { target: { op: '<=', value: 1.0 } },
        )
        // Where the CPU per login is: the event loop, and the rest (V8's helper threads, the
        // checkpoint worker); and what the stub, with the same HTTP and no work, costs a login.
        figure('mainCpuPerLogin', '    of it, the event loop', r.mainCpuPerLogin, 'ms', {
          better: 'lower',
        })
        figure('floor.cpuPerLogin', '    the stub (the floor) per login', floor.cpuPerLogin, 'ms', {
          better: 'lower',
        })
      } finally {
        await stop(portal)
        if (stub) await stop(stub)
      }
      if (process.env.BENCH_CPU_PROF) {
        const { newestProfile, printTop } = await import('./profile.js')
        const file = newestProfile(process.env.BENCH_CPU_PROF, portal.child.pid)
        if (file) printTop(file, 20)
      }
      console.log(
        `floor: the same 20 clients against a stub that does no work, in blocks alternating with the portal's (two POSTs added p99 ${ms(pct(floor!.pairs, 99))}):`,
      )
      figure('floor.p99', '  each POST p99', pct(floor!.posts, 99), 'ms')
      figure(
        'post.p99.overFloor',
        'each POST p99 above the floor',
        posts20 - pct(floor!.posts, 99),
        'ms',
        {
          target: { op: '<=', value: 3 },
        },
      )
    } finally {
      unpinSelf()
    }
  },
}
export default section
