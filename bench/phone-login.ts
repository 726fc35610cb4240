/**
 * A phone logging in, for the bench (run inside a phone namespace), driven line by line on
 * stdin: `login NAME|PHONE` posts the splash form and answers `challenge ID`; `verify ID CODE`
 * posts the code and, from the moment the welcome page has arrived, opens TCP connections to
 * port 443 of the internet host one after the other until one is accepted (before login each
 * gets a reset from the gateway at once), then answers `internet MS`.
 * PORTAL and INTERNET come as arguments.
 */
import { connect } from 'node:net'
import { createInterface } from 'node:readline'

const [portal = '', internet = ''] = process.argv.slice(2)

const post = async (path: string, form: Record<string, string>) => {
  const res = await fetch(new URL(path, portal), {
    method: 'POST',
    body: new URLSearchParams(form),
    redirect: 'manual',
  })
  return res.text()
}

/**
 * One TCP connection to port 443 of the internet host: before login the gateway answers it
 * with a reset at once (so the next try follows without waiting), after login the internet
 * host accepts it. True when it was accepted.
 */
const reaches = () =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: internet, port: 443 })
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 1000)
    s.on('connect', () => {
      clearTimeout(timer)
      s.destroy()
      resolve(true)
    })
    s.on('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
  })

for await (const line of createInterface({ input: process.stdin })) {
  const [verb, ...rest] = line.split(' ')
  if (verb === 'login') {
    const [name = '', phone = ''] = rest.join(' ').split('|')
    const page = await post('/login', { name, phone, consent: 'yes' })
    console.log(`challenge ${/name="challenge" value="([^"]+)"/.exec(page)?.[1] ?? 'none'}`)
  } else if (verb === 'verify') {
    const page = await post('/verify', { challenge: rest[0] ?? '', code: rest[1] ?? '' })
    if (!page.includes('¡Listo')) {
      console.log('internet failed: no welcome page')
      continue
    }
    const t0 = performance.now()
    let ok = false
    while (!ok && performance.now() - t0 < 2000) ok = await reaches()
    console.log(ok ? `internet ${(performance.now() - t0).toFixed(3)}` : 'internet failed')
  }
}
