import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb } from '../src/db/open.js'
import { seedEvents } from './fakes/outbox-seed.js'
import { WebhookReceiver } from './fakes/webhook-receiver.js'
import { tempDir } from './helpers.js'
import { CLI_ARGS, SERVE_ARGS, until } from './net-helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECRET = 'whsec_' + Buffer.from('service test secret, 32 bytes!!!').toString('base64')

let dir: ReturnType<typeof tempDir> | null = null
afterEach(() => dir?.remove())

describe('the service', () => {
  it('runs the sync on its schedule, never beside a `branchgate sync`, and stops cleanly on SIGTERM', async () => {
    dir = tempDir()
    const receiver = await new WebhookReceiver([SECRET]).start()
    const configFile = path.join(dir.dir, 'branchgate.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: dir.dir,
        listen: {
          // Ports the system picks: no other test can be given them.
          portal: { host: '127.0.0.1', port: 0 },
          admin: { port: 0 },
        },
        // Every second, no offset: the test need not wait for a 5-minute tick.
        sync: {
          adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] },
          schedule: '* * * * * *',
          offsetMaxSeconds: 0,
        },
      }),
    )
    const db = openDb(path.join(dir.dir, 'branchgate.db'))
    const written = seedEvents(db, { count: 300, customers: 10 })
    closeDb(db)
    let out = ''
    const child = spawn(process.execPath, [...SERVE_ARGS, '--config', configFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((r) => child.once('exit', r))
    try {
      // While the service's run waits for the CRM, `branchgate sync` (another process) must not overlap.
      let release!: () => void
      const held = new Promise<void>((r) => (release = r))
      receiver.beforeAnswer = () => held
      await until(() => receiver.requests === 1)
      const cli = spawn(process.execPath, [...CLI_ARGS, 'sync', '--config', configFile], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let cliOut = ''
      cli.stdout.on('data', (d) => (cliOut += d))
      expect(await new Promise((r) => cli.once('exit', r))).toBe(3)
      expect(cliOut).toMatch(/another sync run is in progress/)
      expect(receiver.requests).toBe(1)
      release()
      receiver.beforeAnswer = null
      await until(() => receiver.accepted.length === 300)
      expect(receiver.accepted.map((e) => e.id)).toEqual(written.map((w) => w.id))
      expect(out).toContain('sync: to webhook, schedule "* * * * * *" + 0 s offset for this branch')
    } finally {
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      await receiver.stop()
    }
    expect(existsSync(path.join(dir.dir, 'branchgate.db-wal'))).toBe(false)
  }, 120_000)
})
