/**
 * The metrics' firewall figures against the real kernel: the nftables gate in a network
 * namespace of its own (the host's rules are never touched), the services with metrics on, a
 * real SQLite file. Each change is timed through `nft`, and the firewall check sees elements
 * removed or added behind branchgate's back.
 */
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { systemClock } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import { closeDb, openDb, type Db } from '../../src/db/open.js'
import type { NftablesGate } from '../../src/gate/nftables.js'
import type { Mac } from '../../src/mac.js'
import { createObserver, createServiceMetrics } from '../../src/observe/observer.js'
import { createServices } from '../../src/services.js'
import { tempDir } from '../helpers.js'
import { sample } from '../metrics-harness.js'
import { createGateNamespace, gateSkipReason, type GateNamespace } from './gate-namespace.js'

const why = gateSkipReason()
if (why) console.warn(`skipping the metrics-against-nftables test: ${why}`)

describe.skipIf(why !== null)('the firewall figures against the kernel', () => {
  const t = tempDir()
  let space: GateNamespace
  let gate: NftablesGate
  let db: Db
  const nft = (...args: string[]) => space.nft(...args)
  beforeAll(() => {
    space = createGateNamespace('bgmet')
    gate = space.gate()
    db = openDb(path.join(t.dir, 'branchgate.db'))
  })
  afterAll(() => {
    gate?.close()
    closeDb(db)
    t.remove()
    space?.remove()
  })

  it('times each change through nft, and counts devices missing from the set or stray in it', async () => {
    const config = loadConfig(
      JSON.stringify({
        dataDir: t.dir,
        gate: { backend: 'nftables', guestInterface: 'guest0' },
      }),
    )
    const prometheus = createServiceMetrics(config, { processMetrics: false })!
    const services = createServices({
      config,
      db,
      gate,
      clock: systemClock,
      secret: Buffer.alloc(32, 5),
      log: () => {},
      metrics: prometheus.metrics,
    })
    const observer = createObserver({
      services,
      prometheus,
      dbFile: path.join(t.dir, 'branchgate.db'),
    })
    const { admin } = createApp(services, {
      neighbours: { macFor: async () => null },
      observe: observer.routes,
    })
    await services.access.rebuildGate() // installs the table, as the service does at start
    const A = '3a:00:00:00:00:0a' as Mac
    const B = '3a:00:00:00:00:0b' as Mac
    const until = Date.now() + 3_600_000
    for (const mac of [A, B])
      await services.access.setDeviceState({
        next: 'allowed',
        mac,
        customerId: null,
        until,
        reason: 'manual-allow',
        actor: 'test',
      })
    await observer.firewallCheck.run(Date.now())
    const scrape = async () => (await admin.request('http://127.0.0.1:8081/metrics')).text()
    let text = await scrape()
    expect(sample(text, 'branchgate_firewall_change_seconds_count', { change: 'allow' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed', { source: 'firewall' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed_mismatch', { kind: 'missing' })).toBe(0)
    // The gate's changes went through libnftables in this process (issue 20).
    expect(sample(text, 'branchgate_firewall_session_info', { way: 'in-process' })).toBe(1)

    // Someone edits the set by hand: A removed, a stranger added.
    nft('delete', 'element', 'inet', 'branchgate', 'allowed', `{ ${A} }`)
    nft('add', 'element', 'inet', 'branchgate', 'allowed', '{ 3a:00:00:00:00:0c timeout 1h }')
    await observer.firewallCheck.run(Date.now())
    text = await scrape()
    expect(sample(text, 'branchgate_devices_allowed', { source: 'database' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed', { source: 'firewall' })).toBe(2)
    expect(sample(text, 'branchgate_devices_allowed_mismatch', { kind: 'missing' })).toBe(1)
    expect(sample(text, 'branchgate_devices_allowed_mismatch', { kind: 'stray' })).toBe(1)
    const ready = await admin.request('http://127.0.0.1:8081/readyz')
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as any).checks.gate.detail).toBe(
      'firewall and database disagree: 1 device(s) let through by the database are missing from the set, 1 in the set have no access on record',
    )

    // The table gone entirely: the check cannot read the set, and says so.
    nft('delete', 'table', 'inet', 'branchgate')
    await observer.firewallCheck.run(Date.now() + 1)
    text = await scrape()
    expect(sample(text, 'branchgate_firewall_check_failing')).toBe(1)
  })
})
