import path from 'node:path'
import { loadConfig, type Config } from '../../src/config.js'
import { closeDb, openDb } from '../../src/db/open.js'
import { smsStatements } from '../../src/db/sms.js'
import { createDryRunGate } from '../../src/gate/dry-run.js'
import { createSmsChain } from '../../src/sms/providers.js'
import type { SmsSender } from '../../src/sms/sender.js'
import { tempDir, wireApp } from '../helpers.js'
import { FakeClock } from './clock.js'
import { FakeNeighbours } from './neighbours.js'

/**
 * The portal on a real SQLite file with either a given sender or the real provider chain built
 * from the config (pointed at a local fake server). Each `device(n)` is its own IP and MAC, so
 * fraud tests can act as many phones.
 */
export function smsPortal(configOverrides: Record<string, unknown>, sender?: SmsSender) {
  const t = tempDir()
  const config: Config = loadConfig(JSON.stringify({ dataDir: t.dir, ...configOverrides }), {})
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  const logs: string[] = []
  const log = (l: string) => logs.push(l)
  const sms = sender ?? createSmsChain({ config, sms: smsStatements(db), clock, log })
  const neighbours = new FakeNeighbours()
  for (let i = 1; i <= 200; i++) {
    neighbours.set(
      `10.20.${i >> 8}.${i & 255}`,
      `3a:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    )
  }
  const app = wireApp({
    config,
    db,
    gate: createDryRunGate(clock),
    sms,
    neighbours,
    clock,
    secret: Buffer.alloc(32, 7),
    log,
  })
  const device = (n: number) => `10.20.${n >> 8}.${n & 255}`
  const post = (p: string, fields: Record<string, string>, n = 1) =>
    app.portal.request(
      p,
      {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      { incoming: { socket: { remoteAddress: device(n) } } },
    )
  /** Asks for a code for `phone` from device `n`, as the splash form does. */
  const login = (phone: string, n = 1, lang = 'es') =>
    post('/login', { name: 'Ana López', phone, consent: 'yes', lang }, n)
  return {
    app,
    config,
    db,
    clock,
    logs,
    sms,
    post,
    login,
    close: () => {
      closeDb(db)
      t.remove()
    },
  }
}
