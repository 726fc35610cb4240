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
      },
    })
  } else if (m?.logins) {
    send({ logins: await logins(m.logins as LoginJob) })
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
send({ ready: true })
