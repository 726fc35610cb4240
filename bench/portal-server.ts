/**
 * A server for the bench, run in its own process so the load generator does not share its event
 * loop. `portal`: the real app on a temp SQLite file, dry-run gate, an in-process SMS sender that
 * hands codes to the parent over IPC, and neighbours mapping 127.0.0.N to a MAC per N.
 * `hello`: a bare Hono "hello" server, the ceiling.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createApp } from '../src/app.js'
import { systemClock } from '../src/clock.js'
import { loadConfig } from '../src/config.js'
import { startCheckpointer } from '../src/db/checkpointer.js'
import { openDb } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { plainIp } from '../src/gate/neighbours.js'
import { parseMac, type Mac } from '../src/mac.js'

const mode = process.argv[2]
const send = (m: unknown) => process.send!(m)

if (mode === 'hello') {
  const app = new Hono()
  app.get('/', (c) => c.text('hello'))
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
    send({ port: info.port }),
  )
  process.on('disconnect', () => server.close(() => process.exit(0)))
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchgate-bench-'))
  const config = loadConfig(
    JSON.stringify({
      dataDir: dir,
      // The code limits are the defaults (every bench login is a new phone and number); the
      // branch-wide fraud rules stay on (their cost is part of a login) with limits out of reach.
      sms: { fraud: { perPrefixPerHour: 1e9, branchPerHour: 1e9, dailyBudget: 1e9 } },
    }),
  )
  const db = openDb(path.join(dir, 'branchgate.db'))
  // As main.ts does: checkpoints in a worker, off the event loop.
  startCheckpointer(db, path.join(dir, 'branchgate.db'), () => {})
  const macs = new Map<string, Mac>()
  const { portal } = createApp({
    config,
    db,
    gate: createDryRunGate(systemClock),
    sms: {
      name: 'in-process',
      async send(m) {
        send({ to: m.to, code: m.code })
        return { provider: 'in-process' }
      },
    },
    neighbours: {
      async macFor(ip) {
        let mac = macs.get(ip)
        if (!mac) {
          // 127.0.X.Y -> 02:00:00:00:XX:YY: one device per loopback address.
          const [, , x = 0, y = 0] = plainIp(ip).split('.').map(Number)
          const hex = (v: number) => v.toString(16).padStart(2, '0')
          mac = parseMac(`02:00:00:00:${hex(x)}:${hex(y)}`) as Mac
          macs.set(ip, mac)
        }
        return mac
      },
    },
    clock: systemClock,
    secret: Buffer.alloc(32, 9),
    log: () => {},
  })
  const server = serve({ fetch: portal.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
    send({ port: info.port }),
  )
  process.on('disconnect', () => server.close(() => process.exit(0)))
}
