/**
 * Visits end to end, on the gateway harness (test/e2e/netns.ts): branchgate with the nftables
 * gate in its namespace, real client stacks that get an address by DHCP, log in with the texted
 * code and browse through the firewall. Presence comes from the real sources: the gateway's
 * neighbour table and the per-MAC counters of the nftables map `up` (what each device sent).
 *
 * Short timings: a visit ends after 15 s of absence (visits.idleMinutes 0.25), presence is
 * sampled every 2 s.
 */
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sample } from '../metrics-harness.js'
import {
  createTestNetwork,
  e2eSkipReason,
  INTERNET_IP,
  PUBLIC_URL,
  type Client,
  type TestNetwork,
} from './netns.js'

const skip = e2eSkipReason()
if (skip) console.warn(`skipping the visits end-to-end test: ${skip}`)

const IDLE_MS = 15_000
const SWEEP_MS = 2_000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface VisitRow {
  customer_id: number
  started_at: number
  last_seen_at: number
  ended_at: number | null
  end_reason: string | null
  pass_by: number
}

describe.skipIf(skip !== null)('visits, end to end', () => {
  let n: TestNetwork
  let c1: Client
  let c2: Client
  let config: Record<string, unknown>
  let service: Awaited<ReturnType<TestNetwork['startBranchgate']>>

  beforeAll(async () => {
    n = await createTestNetwork({ clients: 2 })
    c1 = n.clients[0]!
    c2 = n.clients[1]!
    await n.startInternet()
    await n.startDnsmasq()
    config = n.defaultConfig({
      visits: { idleMinutes: IDLE_MS / 60_000, minMinutes: 0.05 },
      presence: { intervalSeconds: SWEEP_MS / 1000 },
    })
    service = await n.startBranchgate(config)
    await n.dhcp(c1)
    await n.dhcp(c2)
  })
  afterAll(async () => {
    await n?.cleanup()
  })

  const visitsOf = (customerId: number): VisitRow[] => {
    const db = new Database(path.join(String(config.dataDir), 'branchgate.db'), {
      readonly: true,
      fileMustExist: true,
    })
    try {
      return db
        .prepare(
          `SELECT customer_id, started_at, last_seen_at, ended_at, end_reason, pass_by FROM visits
           WHERE customer_id = ? ORDER BY started_at`,
        )
        .all(customerId) as VisitRow[]
    } finally {
      db.close()
    }
  }

  async function waitFor<T>(
    what: string,
    read: () => T,
    ok: (v: T) => boolean,
    ms: number,
  ): Promise<T> {
    const deadline = Date.now() + ms
    for (;;) {
      const v = read()
      if (ok(v)) return v
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`)
      await sleep(250)
    }
  }

  /** Logs the client in through the portal with the code the SMS provider received. */
  async function logIn(c: Client, name: string, phone: string, e164: string) {
    const form = await n.curl(c, [
      '--data-urlencode',
      `name=${name}`,
      '--data-urlencode',
      `phone=${phone}`,
      '--data-urlencode',
      'consent=yes',
      `${PUBLIC_URL}/login`,
    ])
    const challenge = /name="challenge" value="([^"]+)"/.exec(form.stdout)?.[1]
    expect(challenge, form.stdout.slice(0, 500)).toBeTruthy()
    const sms = (await n.smsMessages()).filter((m) => m.to === e164).at(-1)!
    const code = /#(\d{6})\s*$/.exec(sms.text)?.[1]
    expect(code, sms.text).toMatch(/^\d{6}$/)
    const welcome = await n.curl(c, [
      '--data-urlencode',
      `challenge=${challenge}`,
      '--data-urlencode',
      `code=${code}`,
      `${PUBLIC_URL}/verify`,
    ])
    expect(welcome.stdout).toContain(`¡Listo, ${name}!`)
  }

  /** The client keeps using the internet through the gate (traffic the set's counter sees). */
  const browseContinuously = (c: Client) =>
    n.spawnIn(c.ns, 'sh', [
      '-c',
      `while :; do curl -s -o /dev/null --max-time 1 http://${INTERNET_IP}/; sleep 0.2; done`,
    ])

  it('closes the visit of a client whose link went down, at its last activity', async () => {
    const before = Date.now()
    await logIn(c1, 'Ana López', '55 1234 5678', '+525512345678')
    const after = Date.now()
    const traffic = browseContinuously(c1)
    await sleep(10_000)

    const leftAt = Date.now()
    await n.clientLink(c1, 'down')
    traffic.child.kill('SIGKILL')

    // Half-way through the idle gap the visit is still open…
    await sleep(IDLE_MS / 2)
    expect(visitsOf(1)).toEqual([expect.objectContaining({ ended_at: null })])
    // …and once the gap has passed it is closed, at the last activity, not when noticed.
    const [v, ...more] = await waitFor(
      'the visit to close',
      () => visitsOf(1),
      (r) => r[0]?.ended_at != null,
      IDLE_MS + 4 * SWEEP_MS,
    )
    expect(more).toEqual([])
    expect(v).toMatchObject({ end_reason: 'absent', pass_by: 0 })
    expect(v!.started_at).toBeGreaterThanOrEqual(before)
    expect(v!.started_at).toBeLessThanOrEqual(after)
    // Counters that grew are read at the next sweep: the departure is precise to one sweep.
    // (A late departure once: the service's own lines say whether its sweeps were held up.)
    expect(v!.ended_at!, service.output().split('\n').slice(-40).join('\n')).toBeLessThanOrEqual(
      leftAt + SWEEP_MS + 500,
    )
    expect(v!.ended_at!).toBeGreaterThanOrEqual(leftAt - 2 * SWEEP_MS)
    console.log(
      `e2e visit: arrival ${v!.started_at - before} ms after the login began, ` +
        `departure ${v!.ended_at! - leftAt} ms from the link going down, dwell ${v!.ended_at! - v!.started_at} ms`,
    )

    // The CLI shows it, in the branch's local time.
    const cli = await n.cli(['visits', '--today'])
    expect(cli.code, cli.stderr).toBe(0)
    expect(cli.stdout).toMatch(/Ana López +\+52…78 +\d\d:\d\d +\d\d:\d\d +\d+ s/)
    // The sweeps read the neighbour table and the counters in the service's own process
    // (netlink dumps), with no ip or nft program between.
    expect(service.output()).not.toMatch(/presence: (the neighbour table through ip|cannot)/)
    expect(service.output()).not.toMatch(/straight from the kernel \(/)
    // And its neighbour watch follows the table's changes on its own netlink socket, live and
    // with nothing lost, as its metrics say too.
    expect(service.output()).not.toMatch(/neighbours: /)
    // Each login's tc classes went on the service's own netlink socket, none through tc.
    expect(service.output()).toContain(
      "gate: each device's tc classes on a netlink socket of the service's own",
    )
    expect(service.output()).not.toMatch(/tc changes on the netlink socket failed/)
    const metrics = await n.exec(n.gw, 'curl', ['-s', 'http://127.0.0.1:8081/metrics'])
    expect(sample(metrics.stdout, 'branchgate_neighbour_watch_live', { way: 'netlink' })).toBe(1)
    expect(sample(metrics.stdout, 'branchgate_neighbour_changes_lost_total')).toBe(0)
  })

  it('closes at the last seen time, never stretched, when branchgate was down longer than the idle gap', async () => {
    await logIn(c2, 'Beto Ruiz', '55 8765 4321', '+525587654321')
    const traffic = browseContinuously(c2)
    await sleep(6_000)
    const stoppedAt = Date.now()
    expect(await n.stopBranchgate()).toBe(0)
    // The client stays (the kernel keeps it let through) while branchgate is down for longer than the gap.
    await sleep(IDLE_MS + 3_000)
    const restartedAt = Date.now()
    await n.startBranchgate(config)
    const visits = await waitFor(
      'a new visit after the restart',
      () => visitsOf(2),
      (r) => r.length === 2,
      5 * SWEEP_MS,
    )
    traffic.child.kill('SIGKILL')
    const [old, fresh] = visits
    expect(old).toMatchObject({ end_reason: 'restart' })
    expect(old!.ended_at!).toBeLessThanOrEqual(stoppedAt)
    expect(old!.ended_at!).toBeGreaterThanOrEqual(stoppedAt - 2 * SWEEP_MS)
    expect(fresh!.started_at).toBeGreaterThanOrEqual(restartedAt)
    expect(fresh!.ended_at).toBeNull()
  })
})
