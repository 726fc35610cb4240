import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import { seedEvents } from './fakes/outbox-seed.js'
import { privateLoopback, WebhookReceiver } from './fakes/webhook-receiver.js'
import { tempDir } from './helpers.js'
import { CLI_ARGS } from './net-helpers.js'

/**
 * The promise of the outbox, end to end: 20,000 events produced while the CRM is down (refused,
 * then 503s, then hanging), the sync process (a real child, `branchgate sync --wait`) killed with
 * SIGKILL in the middle of a batch twice, the CRM back. The receiver must end with every event
 * exactly once by id (after its de-dup), in order per customer, and the outbox empty.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECRET = 'whsec_' + Buffer.from('fault-test secret, 32 bytes long').toString('base64')

const dir = tempDir('branchgate-fault-')
afterAll(() => dir.remove())

/** Waits for a condition the child process brings about; the test's own timeout is the guard. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20))
}

describe('sync under faults', () => {
  it('delivers 20,000 events exactly once, in order per customer, through outages and SIGKILLs', async () => {
    // Nothing listens on this address of its own until the receiver starts: "connection refused".
    const receiver = new WebhookReceiver([SECRET], 8080, privateLoopback())
    const configFile = path.join(dir.dir, 'branchgate.json')
    // The short timeout makes the hanging CRM fail fast; once the CRM answers, the sync runs with a
    // long one, so a slow answer on a loaded machine is never abandoned and sent again: the only
    // second deliveries are then those of the two batches whose sender was killed.
    const writeConfig = (timeoutMs: number) =>
      writeFileSync(
        configFile,
        JSON.stringify({
          dataDir: dir.dir,
          branch: { id: 'fault-branch' },
          sync: {
            adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] },
            timeoutMs,
            backoffBaseMs: 20,
            backoffCapMs: 200,
            keepDeliveredHours: 0,
          },
        }),
      )
    writeConfig(300)
    const db: Db = openDb(path.join(dir.dir, 'branchgate.db'))
    const state = () =>
      db.prepare(`SELECT last_error, consecutive_failures FROM sync_state`).get() as {
        last_error: string | null
        consecutive_failures: number
      }
    const logs: string[] = []
    let child: ChildProcess | null = null
    let exited: Promise<number | null> = Promise.resolve(null)
    const startSync = () => {
      const c = spawn(process.execPath, [...CLI_ARGS, 'sync', '--wait', '--config', configFile], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      c.stdout!.on('data', (d) => logs.push(String(d)))
      c.stderr!.on('data', (d) => logs.push(String(d)))
      exited = new Promise((resolve) => c.once('exit', (code) => resolve(code)))
      child = c
    }
    try {
      // Down: nothing listens on the port.
      const written = seedEvents(db, { count: 15_000, customers: 500, branchId: 'fault-branch' })
      startSync()
      await until(
        () =>
          (state().last_error ?? '').includes('ECONNREFUSED') && state().consecutive_failures >= 2,
      )

      // Up, but failing: 503s. More events arrive meanwhile.
      receiver.mode = { kind: 'status', status: 503 }
      await receiver.start()
      written.push(
        ...seedEvents(db, {
          count: 5_000,
          customers: 500,
          branchId: 'fault-branch',
          startAt: Date.parse('2026-03-03T15:00:00Z'),
        }),
      )
      await until(() => receiver.requests >= 3 && (state().last_error ?? '').includes('503'))

      // Hanging: the sender's timeout must fire.
      receiver.mode = { kind: 'hang' }
      await until(() => (state().last_error ?? '').includes('timed out'))
      expect(receiver.accepted).toHaveLength(0)

      // The CRM is back; the sync process restarts with a timeout no loaded machine reaches.
      const first = child!
      const firstGone = exited
      first.kill('SIGKILL')
      await firstGone
      writeConfig(120_000)

      // Back, but the sync process dies twice with a batch received and not yet acknowledged.
      let okRequests = 0
      const killAt = new Set([3, 25])
      let kills = 0
      const killedBatches: string[][] = []
      receiver.beforeAnswer = async ({ eventIds }) => {
        okRequests++
        if (!killAt.has(okRequests)) return
        killedBatches.push(eventIds)
        const victim = child!
        const gone = exited
        victim.kill('SIGKILL')
        await gone
        kills++
        startSync()
      }
      receiver.mode = { kind: 'ok' }
      startSync()
      // The last child drains everything and exits 0; the earlier ones were killed.
      await until(() => kills === 2)
      const code = await exited
      expect(code).toBe(0)
      expect(kills).toBe(2)

      const ids = written.map((w) => w.id)
      expect(receiver.badSignatures).toBe(0)
      expect(receiver.accepted).toHaveLength(20_000)
      expect(new Set(receiver.accepted.map((e) => e.id))).toEqual(new Set(ids))
      // Each killed batch arrived twice (at-least-once, made exactly-once by the receiver's
      // de-dup); every other event exactly once.
      const twice = new Set(killedBatches.flat())
      expect(killedBatches.map((b) => b.length)).toEqual([200, 200])
      expect(twice.size).toBe(400)
      for (const [id, n] of receiver.deliveries)
        expect([id, n]).toEqual([id, twice.has(id) ? 2 : 1])

      // In order per customer.
      const phoneOf = (e: { data: any }) => e.data.customer.phone as string
      const sentOrder = new Map<string, string[]>()
      for (const w of written)
        (sentOrder.get(w.phone) ?? sentOrder.set(w.phone, []).get(w.phone)!).push(w.id)
      const gotOrder = new Map<string, string[]>()
      for (const e of receiver.accepted)
        (gotOrder.get(phoneOf(e)) ?? gotOrder.set(phoneOf(e), []).get(phoneOf(e))!).push(e.id)
      expect(gotOrder.size).toBe(500)
      for (const [phone, order] of sentOrder) expect(gotOrder.get(phone)).toEqual(order)

      // Nothing left behind.
      expect(db.prepare(`SELECT COUNT(*) AS n FROM outbox_events`).get()).toEqual({ n: 0 })
      expect(db.prepare(`SELECT lease_owner FROM sync_state`).get()).toEqual({ lease_owner: null })
    } catch (err) {
      console.error(logs.join('').slice(-4000))
      throw err
    } finally {
      ;(child as ChildProcess | null)?.kill('SIGKILL')
      await receiver.stop()
      closeDb(db)
    }
  }, 300_000)
})
