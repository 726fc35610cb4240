import { serve, type ServerType } from '@hono/node-server'
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { isOwnAuthority, parseAuthority } from '../src/host-check.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { consoleHarness, csrfOf, PASSWORD } from './console-harness.js'
import { portalHarness } from './helpers.js'

let h: { close: () => unknown } | undefined
let server: ServerType | undefined
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()))
  server = undefined
  await h?.close()
  h = undefined
})

/** A GET over a real socket to `address:port`, naming `host` in the Host header. */
function get(
  address: string,
  port: number,
  path: string,
  host: string,
): Promise<{ status: number; text: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          text,
          cookies: ([] as string[]).concat(res.headers['set-cookie'] ?? []),
        }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

function listen(
  app: { fetch: (r: Request, env: any) => Response | Promise<Response> },
  address: string,
) {
  return new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: address }, (info) => resolve(info.port))
  })
}

describe('console host names (DNS rebinding)', () => {
  it('answers its loopback names, its own address and configured names on its port', async () => {
    const c = consoleHarness({
      listen: { admin: { host: '192.168.50.1', port: 8081 } },
      console: { hosts: ['consola.sucursal.lan', 'proxy.sucursal.lan:8443'] },
    })
    h = c
    const b = c.browser()
    for (const host of [
      '127.0.0.1:8081',
      'localhost:8081',
      'LOCALHOST:8081',
      '[::1]:8081',
      '192.168.50.1:8081',
      'consola.sucursal.lan',
      'consola.sucursal.lan:8081',
      'proxy.sucursal.lan:8443',
    ]) {
      const res = await b.request('/login', { headers: { host } })
      expect(res.status, host).toBe(200)
      expect(await res.text(), host).toContain('name="_csrf"')
    }
  })

  it('gives any other name a 421 with one sentence in both languages, no page and no cookie', async () => {
    const c = consoleHarness({ console: { hosts: ['consola.sucursal.lan'] } })
    h = c
    await c.app.consoleAuth.add('maria', 'manager', PASSWORD, 'test')
    const b = c.browser()
    for (const host of [
      'evil.example:8081', // a rebinding name pointed at 127.0.0.1
      'evil.example',
      '127.0.0.1', // port 80: not the console's
      'localhost:9999',
      '[::1]:80',
      '127.0.0.1.nip.io:8081',
      'evil.example@127.0.0.1:8081',
      'proxy.sucursal.lan:8443',
      '',
    ]) {
      for (const path of ['/login', '/', '/console.css', '/healthz', '/nope']) {
        const res = await b.request(path, { headers: { host } })
        expect(res.status, `${host} ${path}`).toBe(421)
        expect(res.headers.getSetCookie(), `${host} ${path}`).toEqual([])
        const text = await res.text()
        expect(text).toContain('La consola no responde a este nombre.')
        expect(text).toContain('The console does not answer to this name.')
        expect(text).not.toContain('<')
      }
    }
    // Nor does a sign-in posted under that name reach the password check.
    const form = await (await b.get('/login')).text()
    const res = await b.request('/login', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrfOf(form), name: 'maria', password: PASSWORD }),
      headers: { host: 'evil.example:8081', 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(res.status).toBe(421)
    expect(res.headers.getSetCookie()).toEqual([])
    const audit = c.db.prepare(`SELECT action FROM audit_log WHERE action LIKE 'console.login%'`)
    expect(audit.all()).toEqual([])
  })

  it('over a real socket, knows its own port and the address the connection came in on', async () => {
    // Bound to all addresses: 127.0.0.2 is then one of its own, reached as such.
    const c = consoleHarness({ listen: { admin: { host: '0.0.0.0', port: 8081 } } })
    h = c
    const port = await listen(c.app.admin, '127.0.0.2')
    const ok = await get('127.0.0.2', port, '/login', `127.0.0.2:${port}`)
    expect(ok.status).toBe(200)
    expect(ok.text).toContain('name="_csrf"')
    expect((await get('127.0.0.2', port, '/login', `localhost:${port}`)).status).toBe(200)
    for (const host of [`evil.example:${port}`, '127.0.0.2:8081', `127.0.0.3:${port}`]) {
      const refused = await get('127.0.0.2', port, '/login', host)
      expect(refused.status, host).toBe(421)
      expect(refused.cookies, host).toEqual([])
      expect(refused.text, host).not.toContain('_csrf')
    }
  })

  it('refuses a console.hosts entry that is not a host name, naming the key', () => {
    expect(() => loadConfig(JSON.stringify({ console: { hosts: ['http://x.lan/'] } }))).toThrow(
      ConfigError,
    )
    expect(() => loadConfig(JSON.stringify({ console: { hosts: ['a b'] } }))).toThrow(
      /console\.hosts/,
    )
    expect(
      loadConfig(JSON.stringify({ console: { hosts: ['consola.lan:8443'] } })).console.hosts,
    ).toEqual(['consola.lan:8443'])
  })
})

describe('portal host names (DNS rebinding)', () => {
  it('sends a foreign name to the splash page even in the dry-run demo, and serves its own', async () => {
    const p = portalHarness({ publicUrl: 'http://localhost:8080' })
    h = p
    for (const host of ['evil.example', 'evil.example:8080', '10.0.0.99:8080']) {
      const res = await p.request('/', { headers: { host } })
      expect(res.status, host).toBe(302)
      expect(res.headers.get('location'), host).toBe('http://localhost:8080/')
      expect(await res.text(), host).not.toContain('<form')
    }
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']) {
      const res = await p.request('/', { headers: { host } })
      expect(res.status, host).toBe(200)
      expect(await res.text(), host).toContain('<form method="post" action="/login"')
    }
  })

  it('serves the demo at the address a phone on the LAN reached it by', async () => {
    const p = portalHarness({ publicUrl: 'http://localhost:8080' })
    h = p
    const port = await listen(p.app.portal, '127.0.0.2')
    const own = await get('127.0.0.2', port, '/', `127.0.0.2:${port}`)
    expect(own.status).toBe(200)
    expect(own.text).toContain('<form method="post" action="/login"')
    expect((await get('127.0.0.2', port, '/', `rebound.example:${port}`)).status).toBe(302)
  })
})

describe('host names, read', () => {
  it('parses Host values and refuses anything but a name or an address with a port', () => {
    expect(parseAuthority('Consola.Lan.', 'http')).toEqual({ name: 'consola.lan', port: 80 })
    expect(parseAuthority('consola.lan', 'https')).toEqual({ name: 'consola.lan', port: 443 })
    expect(parseAuthority('[::1]:8081', 'http')).toEqual({ name: '[::1]', port: 8081 })
    for (const bad of ['a@b', 'a b', 'x/y', 'a:99999', ':80', 'a..b', '-a.lan', 'a_b.lan'])
      expect(parseAuthority(bad, 'http'), bad).toBeNull()
  })

  it('takes the local address of the connection as the listener’s own, IPv4-mapped or not', () => {
    const rules = { port: 8081, boundAddress: '::', names: [] }
    const a = { name: '192.168.50.1', port: 8081 }
    expect(isOwnAuthority(a, rules, { address: '::ffff:192.168.50.1', port: 8081 })).toBe(true)
    expect(isOwnAuthority(a, rules, { address: '192.168.50.2', port: 8081 })).toBe(false)
    expect(isOwnAuthority({ name: '[fe80::1]', port: 8081 }, rules, { address: 'fe80::1' })).toBe(
      true,
    )
  })
})
