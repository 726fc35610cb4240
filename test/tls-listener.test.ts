import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:https'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { tempDir } from './helpers.js'
import { freePort, selfSignedCert, SERVE_ARGS } from './net-helpers.js'

const ROOT = path.resolve(import.meta.dirname, '..')
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
      const [portal, admin, tls] = [await freePort(), await freePort(), await freePort()]
      const file = path.join(t.dir, 'branchgate.json')
      writeFileSync(
        file,
        JSON.stringify({
          dataDir: t.dir,
          publicUrl: `https://127.0.0.1:${tls}`,
          listen: {
            portal: { host: '127.0.0.1', port: portal },
            admin: { host: '127.0.0.1', port: admin },
            tls: { host: '127.0.0.1', port: tls, certFile: cert, keyFile: key },
          },
        }),
      )
      const child: ChildProcess = spawn(process.execPath, [...SERVE_ARGS, '--config', file], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stderr!.on('data', (d) => (out += d))
      cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'))
      const deadline = Date.now() + 15_000
      let api: Awaited<ReturnType<typeof get>> | null = null
      while (!api) {
        try {
          api = await get(`https://127.0.0.1:${tls}/api/captive`)
        } catch (err) {
          if (Date.now() > deadline)
            throw new Error(`no TLS listener: ${(err as Error).message}\n${out}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      expect(api.status).toBe(200)
      expect(api.type).toBe('application/captive+json')
      expect(JSON.parse(api.body)).toEqual({
        captive: true,
        'user-portal-url': `https://127.0.0.1:${tls}/`,
      })
      const splash = await get(`https://127.0.0.1:${tls}/`)
      expect(splash.body).toContain('<form method="post" action="/login"')
      expect(out).toContain(`portal  on https://127.0.0.1:${tls}`)
    },
  )
})
