/**
 * The "internet" of the end-to-end test, run inside its namespace: a web site, the OS probe
 * servers (Apple, Google...) answering as the real ones do, and an HTTP SMS provider that keeps
 * what branchgate sends it. Ports 80 and 443 (plain HTTP on 443 too, so a test can tell the
 * gateway's reset apart from a closed port).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { findProbe, hostOf } from '../../src/portal/probes.js'

export const INTERNET_PAGE = 'hello from the internet host'
const messages: unknown[] = []
/** `PUT /sms/mode` with `down` makes the SMS provider answer 503 (issue 17), `ok` mends it. */
let smsDown = false

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'PUT' && url.pathname === '/sms/mode') {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      smsDown = body.trim() === 'down'
      res.writeHead(204).end()
    })
    return
  }
  if (req.method === 'POST' && url.pathname === '/sms' && smsDown) {
    req.resume()
    res.writeHead(503, { 'content-type': 'text/plain' }).end('provider down')
    return
  }
  if (req.method === 'POST' && url.pathname === '/sms') {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      messages.push(JSON.parse(body))
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: `m${messages.length}` }))
    })
    return
  }
  if (url.pathname === '/sms/messages') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(messages))
    return
  }
  const probe = findProbe(hostOf(req.headers.host), url.pathname)
  if (probe) {
    res.writeHead(
      probe.online.status,
      probe.online.contentType ? { 'content-type': probe.online.contentType } : {},
    )
    res.end(probe.online.body)
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(INTERNET_PAGE)
}

// '::' takes IPv4 and IPv6 alike (the IPv6 end-to-end test reaches it over both).
for (const port of [80, 443])
  createServer(handle).listen(port, '::', () => console.log(`listening ${port}`))
