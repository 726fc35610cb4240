import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:https'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { tempDir } from './helpers.js'
import { selfSignedCert, startService } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))
const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0
if (!hasOpenssl) console.warn('skipping the TLS listener test: openssl is not installed')

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    // The operator's certificate is self-signed here; the test checks the listener, not the CA.
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the TLS listener (RFC 8908)', () => {
  it('refuses a half-set listen.tls, naming the missing keys', () => {
    expect(() => loadConfig('{"listen":{"tls":{"port":8443}}}')).toThrow(
      /listen\.tls\.certFile is required/,
    )
    expect(loadConfig(null).listen.tls).toBeNull()
  })

  it.skipIf(!hasOpenssl)(
    'serves the Captive Portal API and the splash page over HTTPS',
    async () => {
      const t = tempDir()
      cleanups.push(t.remove)
      const { cert, key } = selfSignedCert(t.dir, 'portal.branch.test')
      const file = path.join(t.dir, 'branchgate.json')
      writeFileSync(
        file,
        JSON.stringify({
          dataDir: t.dir,
          publicUrl: 'https://portal.branch.test/',
          // Ports the system picks, read back from the service's own lines.
          listen: {
            portal: { host: '127.0.0.1', port: 0 },
            admin: { host: '127.0.0.1', port: 0 },
            tls: { host: '127.0.0.1', port: 0, certFile: cert, keyFile: key },
          },
        }),
      )
      const service = await startService(['--config', file])
      cleanups.push(() => void service.stop())
      const tls = service.ports.tls!
      const api = await get(`https://127.0.0.1:${tls}/api/captive`)
      expect(api.status).toBe(200)
      expect(api.type).toBe('application/captive+json')
      expect(JSON.parse(api.body)).toEqual({
        captive: true,
        'user-portal-url': 'https://portal.branch.test/',
      })
      const splash = await get(`https://127.0.0.1:${tls}/`)
      expect(splash.body).toContain('<form method="post" action="/login"')
      expect(service.output()).toContain(`portal  on https://127.0.0.1:${tls}`)
    },
  )
})
