/**
 * End to end: a real server in a network namespace (the branch gateway), a client in another,
 * joined by a veth pair. The client signs in through the portal, stays (talking to the
 * gateway), then its link goes down; the visit must close with the right arrival and departure,
 * read by the real presence source from the kernel's neighbour table.
 *
 * Short timings: visits.idleMinutes 0.25 (15 s), presence every 2 s.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const canNetns = (() => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
if (!canNetns) console.warn('skipping the visits end-to-end test: needs root and `ip netns`')

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tag = randomBytes(3).toString('hex')
const GW = `bgv-gw-${tag}`
const CLIENT = `bgv-cl-${tag}`
const GW_IP = '10.99.0.1'
const CLIENT_IP = '10.99.0.2'
const PORT = 8080

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' })
const inNs = (ns: string, ...cmd: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' })

describe.skipIf(!canNetns)('a visit seen through the kernel', () => {
  const t = tempDir('branchgate-e2e-visits-')
  let server: ChildProcess | null = null
  let output = ''
  let pinger: ChildProcess | null = null

  beforeAll(async () => {
    ip('netns', 'add', GW)
    ip('netns', 'add', CLIENT)
    ip('link', 'add', `vg${tag}`, 'type', 'veth', 'peer', 'name', `vc${tag}`)
    ip('link', 'set', `vg${tag}`, 'netns', GW)
    ip('link', 'set', `vc${tag}`, 'netns', CLIENT)
    inNs(GW, 'ip', 'addr', 'add', `${GW_IP}/24`, 'dev', `vg${tag}`)
    inNs(CLIENT, 'ip', 'addr', 'add', `${CLIENT_IP}/24`, 'dev', `vc${tag}`)
    for (const [ns, dev] of [
      [GW, `vg${tag}`],
      [CLIENT, `vc${tag}`],
    ] as const) {
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up')
      inNs(ns, 'ip', 'link', 'set', dev, 'up')
    }
    // Confirm reachability often, so the neighbour entry's `confirmed` timer follows the client closely.
    inNs(GW, 'sysctl', '-q', `net.ipv4.neigh.vg${tag}.base_reachable_time_ms=1000`)
    inNs(GW, 'sysctl', '-q', `net.ipv4.neigh.vg${tag}.delay_first_probe_time=1`)

    const config = path.join(t.dir, 'branchgate.json')
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: t.dir,
        publicUrl: `http://${GW_IP}:${PORT}`,
        listen: {
          portal: { host: '0.0.0.0', port: PORT },
          admin: { host: '127.0.0.1', port: 8081 },
        },
        visits: { idleMinutes: 0.25, minMinutes: 0.05 },
        presence: { intervalSeconds: 2 },
      }),
    )
    server = spawn(
      'ip',
      ['netns', 'exec', GW, process.execPath, '--import', 'tsx', 'src/main.ts', '--config', config],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    server.stdout!.on('data', (d) => (output += d))
    server.stderr!.on('data', (d) => (output += d))
    const until = Date.now() + 30_000
    while (!output.includes('portal  on')) {
      if (Date.now() > until || server.exitCode !== null)
        throw new Error(`server did not start:\n${output}`)
      await sleep(100)
    }
  })

  afterAll(() => {
    pinger?.kill('SIGKILL')
    if (server && server.exitCode === null) server.kill('SIGKILL')
    for (const ns of [GW, CLIENT]) {
      try {
        ip('netns', 'del', ns)
      } catch {
        // already gone
      }
    }
    t.remove()
  })

  const curl = (...args: string[]) => inNs(CLIENT, 'curl', '-sS', '--max-time', '10', ...args)

  it('closes the visit at the last activity once the client is gone', async () => {
    const arrivedBefore = Date.now()
    const codePage = curl(
      '-d',
      'name=Ana López&phone=55 1234 5678&consent=yes',
      `http://${GW_IP}:${PORT}/login`,
    )
    const challenge = /name="challenge" value="([^"]+)"/.exec(codePage)?.[1]
    expect(challenge, codePage).toBeTruthy()
    const smsBy = Date.now() + 5_000
    while (!/\[sms\] to=\+525512345678 code=\d+/.test(output) && Date.now() < smsBy) await sleep(50)
    const code = /\[sms\] to=\+525512345678 code=(\d+)/.exec(output)?.[1]
    expect(code, output).toBeTruthy()
    const welcome = curl(
      '-d',
      `challenge=${challenge}&code=${code}`,
      `http://${GW_IP}:${PORT}/verify`,
    )
    expect(welcome).toContain('Ana López')
    const arrivedAfter = Date.now()

    // The client stays and keeps talking to the gateway for ten seconds.
    pinger = spawn('ip', ['netns', 'exec', CLIENT, 'ping', '-q', '-i', '0.2', GW_IP], {
      stdio: 'ignore',
    })
    await sleep(10_000)
    const leftAt = Date.now()
    inNs(CLIENT, 'ip', 'link', 'set', `vc${tag}`, 'down')
    pinger.kill('SIGKILL')

    const db = new Database(path.join(t.dir, 'branchgate.db'), {
      readonly: true,
      fileMustExist: true,
    })
    const visit = () =>
      db
        .prepare(`SELECT started_at, last_seen_at, ended_at, end_reason, pass_by FROM visits`)
        .all() as Array<{
        started_at: number
        last_seen_at: number
        ended_at: number | null
        end_reason: string | null
        pass_by: number
      }>
    try {
      // Still open half-way through the idle gap…
      await sleep(7_000)
      expect(visit()).toEqual([expect.objectContaining({ ended_at: null })])
      // …closed once the gap (15 s) and a sweep (2 s) have passed.
      const until = Date.now() + 20_000
      while (visit()[0]?.ended_at == null && Date.now() < until) await sleep(500)
      const [v, ...more] = visit()
      console.log(
        `e2e: arrival ${v!.started_at - arrivedBefore} ms after sign-in began, departure ${v!.ended_at! - leftAt} ms from link down`,
      )
      expect(more).toEqual([])
      expect(v!.end_reason).toBe('absent')
      expect(v!.pass_by).toBe(0)
      expect(v!.started_at).toBeGreaterThanOrEqual(arrivedBefore)
      expect(v!.started_at).toBeLessThanOrEqual(arrivedAfter)
      // Departure is the last activity the kernel confirmed: within a few seconds before the
      // link went down, never the moment the absence was noticed (≥ 15 s later).
      expect(v!.ended_at!).toBeLessThanOrEqual(leftAt + 1_000)
      expect(v!.ended_at!).toBeGreaterThanOrEqual(leftAt - 5_000)
    } finally {
      db.close()
    }
  })
})
