/**
 * One presence sweep over 5,000 present devices: the neighbour table (`ip -j -s neigh` text) and
 * the firewall counters come from fixtures, the database is a real SQLite file in WAL mode.
 * Prints the time to read the sources (parsing, CPU), the matching and planning (CPU) and SQLite
 * (DB) separately, and the rows each sweep writes with why. Targets: median ≤ 25 ms, p95 ≤ 50 ms.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { closeDb, openDb } from '../src/db/open.js'
import { visitStatements } from '../src/db/visits.js'
import { uuidv7 } from '../src/ids.js'
import type { Mac } from '../src/mac.js'
import { createOutbox, macPolicy } from '../src/sync/outbox.js'
import { createVisitBook } from '../src/visits/book.js'
import { createKernelPresence } from '../src/visits/kernel-presence.js'
import { createPresenceTracker, type SweepReport } from '../src/visits/presence.js'
import { startCheckpointer } from '../src/db/checkpointer.js'
import { createIpSession } from '../src/gate/ip-session.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'

const DEVICES = 5_000
const SWEEPS = 40
/** Sweeps after another connection's change, which read the rows again (reported, no target). */
const REREADS = 10
/** Pause between sweeps (ms); the service's are `presence.intervalSeconds` (30 s) apart. */
const GAP_MS = 250
const MIN = 60_000

const macOf = (i: number) =>
  ('3a' + i.toString(16).padStart(10, '0')).match(/../g)!.join(':') as Mac

function fixtures(now: number) {
  const neigh = JSON.stringify(
    Array.from({ length: DEVICES }, (_, i) => ({
      dst: `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      dev: 'br-guest',
      lladdr: macOf(i),
      used: i % 30,
      confirmed: i % 25,
      updated: i % 25,
      probes: 0,
      state: [i % 3 === 0 ? 'STALE' : 'REACHABLE'],
    })),
  )
  void now
  return { neigh }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!
}

/**
 * What the service pays to ask the kernel for the neighbour table at each sweep (the sweeps above
 * are handed the text): a new `ip` process, as before, against the `ip -batch -` the service keeps
 * (src/gate/ip-session.ts). Process CPU per ask, this process only (the fork is its cost; ip's own
 * work is the same both ways), on this machine's own table, in this process (its size is what a
 * fork copies).
 */
async function askingTheKernel() {
  const ASKS = 20
  const perAsk = async (ask: () => Promise<string>) => {
    for (let i = 0; i < 3; i++) await ask()
    const c0 = process.cpuUsage()
    for (let i = 0; i < ASKS; i++) await ask()
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / 1000 / ASKS
  }
  const args = ['-j', '-s', 'neigh', 'show']
  const session = createIpSession(['-j', '-s'])
  try {
    const fork = await perAsk(
      () =>
        new Promise<string>((resolve, reject) =>
          execFile('ip', args, { maxBuffer: 64 << 20 }, (err, out) =>
            err ? reject(err) : resolve(out),
          ),
        ),
    )
    const kept = await perAsk(() => session('ip', args.slice(2)))
    const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0)
    figure(
      'sweep.askForkCpu',
      `asking for the neighbour table, a process per sweep (RSS ${rss} MB)`,
      fork,
      'ms',
    )
    figure('sweep.askKeptCpu', 'asking for the neighbour table, the kept ip -batch', kept, 'ms')
  } catch (err) {
    console.log(
      `asking the kernel for its neighbour table: not measured (${(err as Error).message})`,
    )
  } finally {
    session.close()
  }
}

const section: BenchSection = {
  name: 'visits',
  async run() {
    const dir = mkdtempSync(path.join(tmpdir(), 'branchgate-bench-'))
    const file = path.join(dir, 'branchgate.db')
    const db = openDb(file)
    // As main.ts does: checkpoints in a worker, off the sweep's thread.
    const checkpointer = startCheckpointer(db, file, () => {})
    try {
      let now = Date.parse('2026-03-02T15:00:00Z')
      db.transaction(() => {
        const c = db.prepare(
          `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
           VALUES (@id, @phone, @name, 'es', @now, @now, @now)`,
        )
        const d = db.prepare(
          `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, verified_at) VALUES (@mac, @id, @now, @now, @now)`,
        )
        const a = db.prepare(
          `INSERT INTO authorizations (mac, customer_id, starts_at, ends_at, reason) VALUES (@mac, @id, @now, @until, 'login')`,
        )
        for (let i = 0; i < DEVICES; i++) {
          const row = {
            id: i + 1,
            phone: `+5255${String(10_000_000 + i)}`,
            name: `Cliente ${i}`,
            mac: macOf(i),
            now: now - 10 * MIN,
            until: now + 8 * 60 * MIN,
          }
          c.run(row)
          d.run(row)
          a.run(row)
        }
      })()
      const { neigh } = fixtures(now)
      let bytes = 0
      const counters = () => {
        bytes += 1000
        const m = new Map<Mac, { packets: number; bytes: number }>()
        for (let i = 0; i < DEVICES; i++)
          m.set(macOf(i), { packets: bytes / 100, bytes: bytes + i })
        return m
      }
      const counterFixtures = Array.from({ length: SWEEPS + REREADS + 2 }, counters)
      let k = 0
      const source = createKernelPresence({
        gate: { counters: async () => counterFixtures[k++]! },
        run: async () => neigh,
      })
      const rows = visitStatements(db)
      const policy = { idleMs: 15 * MIN, minMs: 2 * MIN }
      const book = createVisitBook({
        db,
        visits: rows,
        branchId: 'bench',
        policy,
        newId: uuidv7,
        outbox: createOutbox(db, { branchId: 'bench', macs: macPolicy('omit', '') }),
      })
      let mono = 0
      const tracker = createPresenceTracker({
        db,
        source,
        visits: rows,
        book,
        policy: { ...policy, rememberMs: 30 * 86_400_000 },
        staffMacs: new Set(),
        monotonic: { now: () => mono },
      })
      const show = (label: string, r: SweepReport) =>
        console.log(
          `${label}: ${r.present} present, ${r.opened} opened, ${r.touched} extended — ` +
            `sources (parse) ${r.sourceMs.toFixed(1)} ms, CPU ${r.cpuMs.toFixed(1)} ms, DB ${r.dbMs.toFixed(1)} ms, ` +
            `total ${(r.sourceMs + r.cpuMs + r.dbMs).toFixed(1)} ms`,
        )
      show('first sweep (opens every visit)', await tracker.sweep(now))
      const reports: SweepReport[] = []
      const cpuTimes: number[] = []
      for (let i = 0; i < SWEEPS; i++) {
        // Sweeps are 30 s apart in service: a short pause lets the checkpoint thread and the
        // collector do between sweeps what they do there, instead of inside the next sweep.
        await new Promise((r) => setTimeout(r, GAP_MS))
        now += 30_000
        mono += 30_000
        const c0 = process.cpuUsage()
        reports.push(await tracker.sweep(now))
        const c = process.cpuUsage(c0)
        cpuTimes.push((c.user + c.system) / 1000)
      }
      const totals = reports.map((r) => r.sourceMs + r.cpuMs + r.dbMs)
      const col = (f: (r: SweepReport) => number) =>
        `median ${median(reports.map(f)).toFixed(1)} / p95 ${p95(reports.map(f)).toFixed(1)}`
      console.log(
        `steady sweeps (${SWEEPS}, ${GAP_MS} ms apart, ${DEVICES} present, every visit extended):`,
      )
      console.log(
        `  sources (parse ${(neigh.length / 1e6).toFixed(1)} MB JSON + counters): ${col((r) => r.sourceMs)} ms`,
      )
      console.log(`  CPU (match + plan):                       ${col((r) => r.cpuMs)} ms`)
      console.log(`  DB (reads + one write transaction):       ${col((r) => r.dbMs)} ms`)
      console.log(
        `  rows written per sweep (visits + devices): ${col((r) => r.written.visits + r.written.devices)} of ${DEVICES * 2}`,
      )
      const sum = (f: (r: SweepReport) => number) => reports.reduce((a, r) => a + f(r), 0)
      console.log(
        `    why, over the ${SWEEPS} sweeps: visits a step behind ${sum((r) => r.written.visitsBehind)}, ` +
          `opened ${sum((r) => r.written.opened)}, closed ${sum((r) => r.written.closed)}; ` +
          `devices a step behind ${sum((r) => r.written.devicesBehind)}, gone ${sum((r) => r.written.devicesGone)} ` +
          `(step ${tracker.stepMs / 1000} s, sweeps every 30 s)`,
      )
      figure(
        'sweep.rows',
        '  rows written per sweep, median',
        median(reports.map((r) => r.written.visits + r.written.devices)),
        'rows',
      )
      figure(
        'sweep.cpu',
        '  process CPU time per sweep, median (all threads; less sensitive to a busy machine)',
        median(cpuTimes),
        'ms',
        { note: `(p95 ${p95(cpuTimes).toFixed(1)} ms)` },
      )
      console.log(
        `  open visits / tracked devices read from the database: ${reports.filter((r) => r.reread.visits).length} / ${reports.filter((r) => r.reread.devices).length} of ${SWEEPS} sweeps (memory otherwise)`,
      )
      figure('sweep.median', '  total per sweep, median', median(totals), 'ms', {
        target: { op: '<=', value: 25 },
      })
      figure('sweep.p95', '  total per sweep, p95', p95(totals), 'ms', {
        target: { op: '<=', value: 50 },
      })

      // What a sweep costs when another writer changed both (a login, the CLI, the console, in
      // another connection): it reads the open visits and the tracked devices again.
      const other = openDb(file)
      const foreign = {
        device: other.prepare(`UPDATE devices SET verified_at = verified_at WHERE mac = ?`),
        visit: other.prepare(
          `UPDATE visits SET last_seen_at = last_seen_at WHERE id = (SELECT id FROM visits WHERE ended_at IS NULL LIMIT 1)`,
        ),
      }
      const rereads: SweepReport[] = []
      const rereadCpu: number[] = []
      try {
        for (let i = 0; i < REREADS; i++) {
          await new Promise((r) => setTimeout(r, GAP_MS))
          other.transaction(() => {
            foreign.device.run(macOf(i))
            foreign.visit.run()
          })()
          now += 30_000
          mono += 30_000
          const c0 = process.cpuUsage()
          rereads.push(await tracker.sweep(now))
          const c = process.cpuUsage(c0)
          rereadCpu.push((c.user + c.system) / 1000)
        }
      } finally {
        closeDb(other)
      }
      const rereadTotals = rereads.map((r) => r.sourceMs + r.cpuMs + r.dbMs)
      console.log(
        `sweeps right after another connection changed a device and a visit (${REREADS}, both read again): ` +
          `total median ${median(rereadTotals).toFixed(1)} / p95 ${p95(rereadTotals).toFixed(1)} ms, ` +
          `DB median ${median(rereads.map((r) => r.dbMs)).toFixed(1)} ms, process CPU median ${median(rereadCpu).toFixed(1)} ms`,
      )
      await askingTheKernel()
    } finally {
      await checkpointer.stop()
      closeDb(db)
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default section
