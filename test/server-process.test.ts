import { spawn, spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb } from '../src/db/open.js'
import { tempDir } from './helpers.js'
import { SERVE_ARGS, startService, until } from './net-helpers.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

/** The demo service on ports the system picks (PORT=0, ADMIN_PORT=0). */
async function startDemo(dataDir: string) {
  const service = await startService([], {
    env: { ...process.env, PORT: '0', ADMIN_PORT: '0', BRANCHGATE_DATA_DIR: dataDir },
  })
  cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
  return service
}

/** One plain HTTP/1.1 GET with the Host header of our choosing; resolves with the raw answer. */
function rawGet(port: number, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    )
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (d) => (answer += d))
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}

describe('the server process', () => {
  it('opens no port and starts no checkpoint thread when its start is refused', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    // Watches the child from inside: every listen() and every new thread is written to stderr.
    const spy = path.join(t.dir, 'spy.cjs')
    writeFileSync(
      spy,
      `const fs = require('node:fs'), net = require('node:net'), wt = require('node:worker_threads')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...a) { fs.writeSync(2, 'SPY listen\\n'); return listen.apply(this, a) }
const Worker = wt.Worker
wt.Worker = class extends Worker { constructor(...a) { fs.writeSync(2, 'SPY thread\\n'); super(...a) } }
require('node:module').syncBuiltinESMExports()
`,
    )
    const env = { ...process.env, PORT: '0', ADMIN_PORT: '0' }
    // The spy sees a start that is not refused: two listeners, and the checkpoint thread once
    // something writes (an idle service runs none: src/db/checkpointer.ts).
    const good = path.join(t.dir, 'good.json')
    writeFileSync(good, JSON.stringify({ dataDir: path.join(t.dir, 'good') }))
    const service = await startService(['--config', good], {
      env,
      spawn: (args) =>
        spawn(process.execPath, ['--require', spy, ...args], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
    })
    cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
    expect(service.output().match(/SPY listen/g)?.length).toBeGreaterThanOrEqual(2)
    expect(service.output()).not.toContain('SPY thread')
    const other = openDb(path.join(t.dir, 'good', 'branchgate.db'))
    other
      .prepare(`INSERT INTO audit_log (at, actor, action) VALUES (1, 'test', 'test.write')`)
      .run()
    closeDb(other)
    await until(() => service.output().includes('SPY thread'))
    await service.stop()

    // A notice file that cannot be read is found when the apps are built: before any listener.
    const refused = path.join(t.dir, 'refused.json')
    const missing = path.join(t.dir, 'aviso-es.txt')
    writeFileSync(
      refused,
      JSON.stringify({
        dataDir: path.join(t.dir, 'refused'),
        privacy: { fullNoticeFiles: { es: missing } },
      }),
    )
    const run = spawnSync(
      process.execPath,
      ['--require', spy, ...SERVE_ARGS, '--config', refused],
      {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    )
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(`cannot read the privacy notice ${missing}: ENOENT`)
    expect(run.stderr).not.toContain('SPY')
    // And the database was closed: no write-ahead log left beside it.
    expect(existsSync(path.join(t.dir, 'refused', 'branchgate.db-wal'))).toBe(false)
  })

  it('refuses a bad config file at start, naming the key, and exits non-zero', () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const file = path.join(t.dir, 'branchgate.json')
    writeFileSync(
      file,
      JSON.stringify({ otp: { digits: 12 }, sms: { providers: [{ type: 'http' }] } }),
    )
    const run = spawnSync(process.execPath, [...SERVE_ARGS, '--config', file], {
      cwd: ROOT,
      env: { ...process.env, BRANCHGATE_DATA_DIR: t.dir },
      encoding: 'utf8',
      timeout: 120_000,
    })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('otp.digits must be between 4 and 8, got 12')
    expect(run.stderr).toContain('sms.providers.0.url is required')
  })

  it('reads BRANCHGATE_CONFIG too, and says when the file is missing', () => {
    const run = spawnSync(process.execPath, [...SERVE_ARGS], {
      cwd: ROOT,
      env: { ...process.env, BRANCHGATE_CONFIG: '/nonexistent/branchgate.json' },
      encoding: 'utf8',
      timeout: 120_000,
    })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('cannot read config file /nonexistent/branchgate.json')
  })

  it(
    'with PORT set and no publicUrl, sends guests to that port: probes and the RFC 8908 API',
    {
      timeout: 90_000,
    },
    async () => {
      const t = tempDir()
      cleanups.push(t.remove)
      // PORT=0: the system picks the port, and guests must be sent to the one it picked.
      const { ports } = await startDemo(t.dir)
      const port = ports.portal
      const api = await fetch(`http://127.0.0.1:${port}/api/captive`)
      expect(await api.json()).toEqual({
        captive: true,
        'user-portal-url': `http://localhost:${port}/`,
      })
      // An OS probe, as the phone sends it (fetch cannot set Host, so a raw request).
      const probe = await rawGet(port, 'captive.apple.com', '/hotspot-detect.html')
      expect(probe).toMatch(/^HTTP\/1\.1 302/)
      expect(probe).toMatch(new RegExp(`\r\nlocation: http://localhost:${port}/\r\n`, 'i'))
    },
  )

  it('builds its apps once when the portal binds port 0: each view compiled once', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    // Every view file the child reads is written to stderr.
    const spy = path.join(t.dir, 'spy.cjs')
    writeFileSync(
      spy,
      `const fs = require('node:fs')
const read = fs.readFileSync
fs.readFileSync = function (f, ...a) { if (String(f).endsWith('.ejs')) fs.writeSync(2, 'SPY view ' + f + '\\n'); return read.call(this, f, ...a) }
require('node:module').syncBuiltinESMExports()
`,
    )
    const env = { ...process.env, PORT: '0', ADMIN_PORT: '0', BRANCHGATE_DATA_DIR: t.dir }
    const service = await startService([], {
      env,
      spawn: (args) =>
        spawn(process.execPath, ['--require', spy, ...args], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
    })
    cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
    // The apps were mounted a second time once the port was known: every view compiled twice.
    expect(service.output().match(/SPY view .*portal\/splash\.ejs/g)).toHaveLength(1)
    // And the splash page's address still follows the bound port.
    const api = await fetch(`http://127.0.0.1:${service.ports.portal}/api/captive`)
    expect(await api.json()).toMatchObject({
      'user-portal-url': `http://localhost:${service.ports.portal}/`,
    })
    await service.stop()
  })

  it('runs the whole demo flow over real HTTP, prints the code, and stops cleanly on SIGTERM', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const { child, output, ports } = await startDemo(t.dir)
    const [port, adminPort] = [ports.portal, ports.console]
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(await health.json()).toMatchObject({ status: 'ok', gate: 'dry-run' })
    const consolePage = await fetch(`http://127.0.0.1:${adminPort}/`)
    expect(consolePage.status).toBe(200)

    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    const codePage = await (
      await fetch(
        `http://127.0.0.1:${port}/login`,
        form({ name: 'Ana', phone: '55 1234 5678', consent: 'yes' }),
      )
    ).text()
    const challenge = /name="challenge" value="([^"]+)"/.exec(codePage)![1]!
    let code: string | undefined
    await until(
      () => (code = /\[sms\] to=\+525512345678 code=(\d{6})/.exec(output())?.[1]) !== undefined,
    )
    expect(code).toMatch(/^\d{6}$/)
    const welcome = await fetch(`http://127.0.0.1:${port}/verify`, form({ challenge, code: code! }))
    expect(welcome.status).toBe(200)
    expect(await welcome.text()).toContain('¡Listo, Ana!')
    const captive = (await (await fetch(`http://127.0.0.1:${port}/api/captive`)).json()) as {
      captive: boolean
    }
    expect(captive.captive).toBe(false)

    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(existsSync(path.join(t.dir, 'branchgate.db'))).toBe(true)
    expect(existsSync(path.join(t.dir, 'branchgate.db-wal'))).toBe(false)
    expect(output()).not.toMatch(/secret|[0-9a-f]{64}/)
    // The service hashes console passwords at production's full scrypt cost (tests use less).
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    const hash = db.prepare(`SELECT password_hash FROM console_users`).pluck().get() as string
    closeDb(db)
    expect(hash.split('$').slice(0, 4)).toEqual(['scrypt', '32768', '8', '1'])
  })
})
