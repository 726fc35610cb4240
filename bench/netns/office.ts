/**
 * The soak's office. `crm SECRET`: the CRM's webhook receiver on 127.0.0.1:9100 (run in the
 * gateway's namespace: webhooks go over https, or plain http to loopback only), printing its
 * counts every 10 s. `manager URL USER PASSWORD MINUTES`: a branch manager using the console
 * every 20 s (run behind the uplink): sign in once, then the dashboard (the month, then the
 * year), the visit list and a CSV export of the month; counts every 10 s. One JSON line each.
 */
import { WebhookReceiver } from '../../test/fakes/webhook-receiver.js'

const [role, ...rest] = process.argv.slice(2)
if (role === 'crm') {
  const receiver = await new WebhookReceiver([rest[0]!], 9100, '127.0.0.1').start()
  setInterval(() => {
    const line = {
      crmEvents: receiver.accepted.length,
      crmDuplicates: receiver.duplicates(),
      badSignatures: receiver.badSignatures,
    }
    process.stdout.write(JSON.stringify(line) + '\n')
  }, 10_000)
  await new Promise(() => {})
}
const [consoleUrl = '', user = '', password = '', minutes = '10'] = rest
const EVERY_MS = 20_000
const counts = { pages: 0, csvRows: 0, errors: 0, lastError: '' }
let cookies = new Map<string, string>()

const origin = new URL(consoleUrl).origin
async function request(path: string, init: RequestInit = {}) {
  const res = await fetch(consoleUrl + path, {
    ...init,
    redirect: 'manual',
    headers: {
      ...(init.headers as Record<string, string>),
      cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      origin,
    },
  })
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';')
    const at = kv!.indexOf('=')
    cookies.set(kv!.slice(0, at), kv!.slice(at + 1))
  }
  return res
}
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''

async function signIn() {
  cookies = new Map()
  const page = await (await request('/login')).text()
  const res = await request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrfOf(page), name: user, password }).toString(),
  })
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`)
}

async function visit() {
  for (const path of ['/', '/?range=365', '/visits']) {
    const res = await request(path)
    const body = await res.text()
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`)
    counts.pages++
    if (path === '/visits') {
      const today = new Date().toISOString().slice(0, 10)
      const month = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)
      const csv = await request('/export/visits.csv', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrfOf(body), from: month, to: today }).toString(),
      })
      if (csv.status !== 200) throw new Error(`CSV export answered ${csv.status}`)
      counts.csvRows += (await csv.text()).split('\n').length - 2
    }
  }
}

const end = Date.now() + Number(minutes) * 60_000
await signIn()
const report = setInterval(() => {
  process.stdout.write(JSON.stringify(counts) + '\n')
}, 10_000)
while (Date.now() < end) {
  try {
    await visit()
  } catch (err) {
    counts.errors++
    counts.lastError = (err as Error).message
    await signIn().catch(() => {})
  }
  await new Promise((r) => setTimeout(r, EVERY_MS))
}
clearInterval(report)
process.stdout.write(JSON.stringify({ ...counts, done: true }) + '\n')
process.on('SIGTERM', () => process.exit(0))
