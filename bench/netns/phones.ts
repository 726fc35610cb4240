/**
 * The phones of one client namespace (run there with `ip netns exec`, IPC to the bench): loads
 * the splash page with autocannon, or logs phones in, each from its own address (its own
 * macvlan interface, so its own MAC): GET /, POST /login, the code from the bench, POST /verify,
 * then a first connection to the internet host.
 */
import autocannon from 'autocannon'
import { connect } from 'node:net'
import { LeanConnection } from '../lean-http.js'

export interface LoginJob {
  host: string
  port: number
  phones: Array<{ ip: string; number: string; name: string }>
  /** Phones logging in at once. */
  concurrency: number
  /** Where to send the first packet after the welcome page; null: nowhere. */
  internet: { host: string; port: number } | null
}

export interface LoginResult {
  ip: string
  ok: boolean
  error?: string
  loginMs: number
  verifyMs: number
  /** Monotonic clock (ns) when POST /verify was sent and when its answer arrived. */
  verifySentNs: string
  verifyDoneNs: string
  /** Connections refused before the first one got through. */
  refused: number
}

const send = (m: unknown) => process.send!(m)
const waiting = new Map<string, (code: string) => void>()

process.on('message', async (m: any) => {
  if (m?.code) {
    waiting.get(m.code.to)?.(m.code.code)
    waiting.delete(m.code.to)
  } else if (m?.splash) {
    const r = await autocannon({
      url: m.splash.url,
      connections: m.splash.connections,
      duration: m.splash.seconds,
      pipelining: 1,
    })
    send({
      splash: {
        rps: r.requests.average,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        requests: (r.requests as { total?: number }).total,
        seconds: (r as { duration?: number }).duration,
      },
    })
  } else if (m?.logins) {
    send({ logins: await logins(m.logins as LoginJob) })
  } else if (m?.mix) {
    send({ mix: await mix(m.mix as MixJob) })
  }
})

const codeFor = (to: string) =>
  new Promise<string>((resolve) => {
    waiting.set(to, resolve)
    send({ want: to })
  })

function firstPacket(job: LoginJob, ip: string, id: string): Promise<number> {
  let refused = 0
  const attempt = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: job.internet!.host, port: job.internet!.port, localAddress: ip })
      s.once('connect', () => s.end(`${id}\n`))
      s.once('data', () => {
        s.destroy()
        resolve(refused)
      })
      s.once('error', (err: NodeJS.ErrnoException) => {
        s.destroy()
        if (err.code === 'ECONNREFUSED' && refused < 1000) {
          refused++
          setTimeout(() => attempt().then(resolve, reject), 1)
        } else reject(err)
      })
    })
  return attempt()
}

async function logins(job: LoginJob): Promise<LoginResult[]> {
  const out: LoginResult[] = []
  let next = 0
  const one = async (p: LoginJob['phones'][number]): Promise<LoginResult> => {
    const r: LoginResult = {
      ip: p.ip,
      ok: false,
      loginMs: NaN,
      verifyMs: NaN,
      verifySentNs: '0',
      verifyDoneNs: '0',
      refused: 0,
    }
    const c = await LeanConnection.open(job.port, p.ip, job.host)
    try {
      const splash = await c.get('/')
      if (splash.status !== 200) throw new Error(`GET / answered ${splash.status}`)
      const t0 = performance.now()
      const a = await c.postForm(
        '/login',
        `name=${encodeURIComponent(p.name)}&phone=${p.number}&consent=yes`,
      )
      r.loginMs = performance.now() - t0
      if (a.status !== 200) throw new Error(`login answered ${a.status}`)
      const challenge = /name="challenge" value="([^"]+)"/.exec(a.body)?.[1]
      if (!challenge) throw new Error('no challenge in the code page')
      const code = await codeFor(`+52${p.number}`)
      const sent = process.hrtime.bigint()
      const t2 = performance.now()
      const b = await c.postForm(
        '/verify',
        `challenge=${encodeURIComponent(challenge)}&code=${code}`,
      )
      r.verifyMs = performance.now() - t2
      const done = process.hrtime.bigint()
      r.verifySentNs = String(sent)
      r.verifyDoneNs = String(done)
      if (b.status !== 200 || !b.body.includes(p.name))
        throw new Error(`verify answered ${b.status} without the welcome page`)
      if (job.internet) r.refused = await firstPacket(job, p.ip, p.ip)
      r.ok = true
    } catch (err) {
      r.error = (err as Error).message
    } finally {
      c.close()
    }
    return r
  }
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, job.phones.length) }, async () => {
      while (next < job.phones.length) out.push(await one(job.phones[next++]!))
    }),
  )
  return out
}
export interface MixJob {
  host: string
  port: number
  phones: Array<{ ip: string; number: string; name: string }>
  seconds: number
  /** Logins are spread over this many seconds from the start. */
  loginSpreadSeconds: number
  /** Each phone's captive probe, about this often (ms). */
  probeEveryMs: number
  /** Each phone comes back ("welcome back") about this often (ms). */
  welcomeBackEveryMs: number
}

export interface MixResult {
  counts: Record<string, number>
  errors: number
  lastError: string
  /** p99 latency per kind of request, ms. */
  p99: Record<string, number>
}

/** A busy branch's phones for `seconds`: each logs in once, then probes and comes back. */
async function mix(job: MixJob): Promise<MixResult> {
  const end = performance.now() + job.seconds * 1000
  const counts: Record<string, number> = {}
  const times: Record<string, number[]> = {}
  let errors = 0
  let lastError = ''
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))
  const jitter = (ms: number) => ms * (0.5 + Math.random())
  const timed = async (kind: string, f: () => Promise<void>) => {
    const t0 = performance.now()
    try {
      await f()
      counts[kind] = (counts[kind] ?? 0) + 1
      ;(times[kind] ??= []).push(performance.now() - t0)
    } catch (err) {
      errors++
      lastError = `${kind}: ${(err as Error).message}`
    }
  }
  const once = async (ip: string, f: (c: LeanConnection) => Promise<void>) => {
    const c = await LeanConnection.open(job.port, ip, job.host)
    try {
      await f(c)
    } finally {
      c.close()
    }
  }
  await Promise.all(
    job.phones.map(async (p) => {
      await sleep(Math.random() * job.loginSpreadSeconds * 1000)
      await timed('login', () =>
        once(p.ip, async (c) => {
          if ((await c.get('/')).status !== 200) throw new Error('splash')
          const a = await c.postForm(
            '/login',
            `name=${encodeURIComponent(p.name)}&phone=${p.number}&consent=yes`,
          )
          const challenge = /name="challenge" value="([^"]+)"/.exec(a.body)?.[1]
          if (a.status !== 200 || !challenge) throw new Error(`login answered ${a.status}`)
          const code = await codeFor(`+52${p.number}`)
          const b = await c.postForm(
            '/verify',
            `challenge=${encodeURIComponent(challenge)}&code=${code}`,
          )
          if (b.status !== 200 || !b.body.includes(p.name))
            throw new Error(`verify answered ${b.status}`)
        }),
      )
      let nextBack = performance.now() + jitter(job.welcomeBackEveryMs)
      while (performance.now() < end) {
        await sleep(jitter(job.probeEveryMs))
        if (performance.now() >= end) break
        await timed('probe', () =>
          once(p.ip, async (c) => {
            const r = await c.get('/generate_204', 'connectivitycheck.gstatic.com')
            if (r.status !== 204 && r.status !== 302) throw new Error(`probe answered ${r.status}`)
          }),
        )
        if (performance.now() >= nextBack) {
          nextBack = performance.now() + jitter(job.welcomeBackEveryMs)
          await timed('welcome-back', () =>
            once(p.ip, async (c) => {
              const r = await c.postForm('/welcome-back', '')
              if (r.status !== 200) throw new Error(`welcome back answered ${r.status}`)
            }),
          )
        }
      }
    }),
  )
  const p99: Record<string, number> = {}
  for (const [k, v] of Object.entries(times)) {
    v.sort((a, b) => a - b)
    p99[k] = v[Math.min(v.length - 1, Math.floor(v.length * 0.99))]!
  }
  return { counts, errors, lastError, p99 }
}

send({ ready: true })
