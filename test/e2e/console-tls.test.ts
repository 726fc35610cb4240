import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:https'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers.js'
import { freePort, selfSignedCert, SERVE_ARGS } from '../net-helpers.js'

// The console listener with the operator's certificate: a real HTTPS server started from a
// config file, with a self-signed certificate made by openssl for the test.

const ROOT = path.resolve(import.meta.dirname, '../..')
let server: ChildProcess
let data: ReturnType<typeof tempDir>
let adminPort = 0

function get(p: string): Promise<{ status: number; cookies: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: adminPort, path: p, rejectUnauthorized: false },
      (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [], body }),
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  data = tempDir('branchgate-tls-')
  const { cert, key } = selfSignedCert(data.dir, '127.0.0.1')
  adminPort = await freePort()
  const portalPort = await freePort()
  const configFile = path.join(data.dir, 'config.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: data.dir,
      listen: {
        portal: { host: '127.0.0.1', port: portalPort },
        admin: { host: '127.0.0.1', port: adminPort },
      },
      console: { tls: { certFile: cert, keyFile: key } },
    }),
  )
  server = spawn(process.execPath, [...SERVE_ARGS, '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const deadline = Date.now() + 30_000
  while (!/console on https/.test(stderr)) {
    if (server.exitCode !== null || Date.now() > deadline)
      throw new Error(`server did not start:\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
})

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r))
    process.kill(server.pid, 'SIGTERM')
    await exited
  }
  data?.remove()
})

describe('console over TLS', () => {
  it('answers over HTTPS and marks its cookies Secure', async () => {
    expect((await get('/healthz')).status).toBe(200)
    const login = await get('/login')
    expect(login.status).toBe(200)
    expect(login.cookies.find((c) => c.startsWith('bg_console_login='))).toMatch(/Secure/)
  })
})
