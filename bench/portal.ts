import autocannon from 'autocannon'
import { fork, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { BenchSection } from './run.js'

const SERVER = fileURLToPath(new URL('./portal-server.ts', import.meta.url))

function start(mode: 'portal' | 'hello'): Promise<{ child: ChildProcess; port: number }> {
  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of each server to DIR, to see where time goes.
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : []
  const child = fork(SERVER, [mode], {
    execArgv: ['--import', 'tsx', ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (m: any) => resolve({ child, port: m.port }))
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
  })
}

async function rps(port: number, seconds: number): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: 50,
    duration: seconds,
    pipelining: 1,
  })
  if (result.non2xx || result.errors)
    throw new Error(`GET / had ${result.non2xx} non-2xx and ${result.errors} errors`)
  return result.requests.average
}

function post(
  agent: Agent,
  port: number,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode!, text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Numbers handed out so far: every login in the run texts a fresh number. */
let serial = 0

function getPage(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    })
    req.on('error', reject)
    req.end()
  })
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const ms = (n: number) => `${n.toFixed(2)} ms`

async function loginVerify(
  server: { child: ChildProcess; port: number },
  clients: number,
  perClient: number,
) {
  const waiting = new Map<string, (code: string) => void>()
  server.child.on('message', (m: any) => {
    if (m.to) waiting.get(m.to)?.(m.code)
  })
  const login: number[] = []
  const verify: number[] = []
  const both: number[] = []
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      for (let k = 0; k < perClient; k++) {
        // Every login is a new phone: its own loopback address (so its own MAC, within the
        // default per-device limits) and its own connection; numbers spread over prefixes (the
        // number without its last 4 digits), as real customers' are.
        const n = serial++
        const agent = new Agent({
          keepAlive: true,
          maxSockets: 1,
          localAddress: `127.0.${1 + Math.floor(n / 250)}.${2 + (n % 250)}`,
        })
        // The phone opens the splash page first (untimed): that is where its connection starts.
        await getPage(agent, server.port, '/')
        const national = `55${String(n).padStart(4, '0')}${String(1000 + i).slice(-4)}`
        const e164 = `+52${national}`
        const code = new Promise<string>((r) => waiting.set(e164, r))
        const t0 = performance.now()
        const a = await post(
          agent,
          server.port,
          '/login',
          `name=Cliente+${i}&phone=${national}&consent=yes`,
        )
        const t1 = performance.now()
        if (a.status !== 200) throw new Error(`login answered ${a.status}`)
        const challenge = /name="challenge" value="([^"]+)"/.exec(a.text)![1]!
        const c = await code
        waiting.delete(e164)
        const t2 = performance.now()
        const b = await post(
          agent,
          server.port,
          '/verify',
          `challenge=${encodeURIComponent(challenge)}&code=${c}`,
        )
        const t3 = performance.now()
        if (b.status !== 200) throw new Error(`verify answered ${b.status}`)
        login.push(t1 - t0)
        verify.push(t3 - t2)
        both.push(t1 - t0 + (t3 - t2))
        agent.destroy()
      }
    }),
  )
  for (const a of [login, verify, both]) a.sort((x, y) => x - y)
  return { login, verify, both }
}

const section: BenchSection = {
  name: 'portal',
  async run() {
    const seconds = Number(process.env.BENCH_SECONDS ?? 5)
    const hello = await start('hello')
    const portal = await start('portal')
    try {
      await rps(hello.port, 1) // warm-up
      await rps(portal.port, 1)
      const ceiling = await rps(hello.port, seconds)
      const splash = await rps(portal.port, seconds)
      console.log(`GET /  bare Hono "hello" (ceiling): ${ceiling.toFixed(0)} req/s`)
      console.log(`GET /  branchgate splash page:      ${splash.toFixed(0)} req/s`)
      console.log(`splash / ceiling: ${((100 * splash) / ceiling).toFixed(1)} %   (target >= 50 %)`)
      // One client first: the service time, with no queue in front of it.
      const one = await loginVerify(portal, 1, 200)
      console.log(`login + verify, 1 client, ${one.both.length} logins (service time, no queue):`)
      console.log(
        `  POST /login          p50 ${ms(pct(one.login, 50))}  p99 ${ms(pct(one.login, 99))}`,
      )
      console.log(
        `  POST /verify         p50 ${ms(pct(one.verify, 50))}  p99 ${ms(pct(one.verify, 99))}`,
      )
      console.log(
        `  login + verify       p50 ${ms(pct(one.both, 50))}  p99 ${ms(pct(one.both, 99))}`,
      )
      await loginVerify(portal, 20, 5) // warm-up at full concurrency, like the GET runs
      const r = await loginVerify(portal, 20, Number(process.env.BENCH_LOGINS_PER_CLIENT ?? 50))
      console.log(`login + verify, 20 concurrent clients, ${r.both.length} logins:`)
      console.log(`  POST /login          p50 ${ms(pct(r.login, 50))}  p99 ${ms(pct(r.login, 99))}`)
      console.log(
        `  POST /verify         p50 ${ms(pct(r.verify, 50))}  p99 ${ms(pct(r.verify, 99))}`,
      )
      console.log(
        `  login + verify       p50 ${ms(pct(r.both, 50))}  p99 ${ms(pct(r.both, 99))}   (target p99 < 25 ms)`,
      )
      console.log(
        `  login + verify       p90 ${ms(pct(r.both, 90))}  p95 ${ms(pct(r.both, 95))}  max ${ms(r.both.at(-1)!)}`,
      )
    } finally {
      hello.child.disconnect()
      portal.child.disconnect()
    }
  },
}
export default section
