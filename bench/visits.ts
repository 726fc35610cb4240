/**
 * One presence sweep over 5,000 present devices: the neighbour table and the firewall counters
 * come from fixtures, netlink dumps' bytes as the kernel sends them, read by the service's own
 * readers (src/gate/neighbour-dump.ts, src/gate/nft-elements.ts); the database is a real SQLite
 * file in WAL mode.
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
import { openNeighbourDump, parseNeighbourDump } from '../src/gate/neighbour-dump.js'
import { parseElementDump, type DumpedElement } from '../src/gate/nft-elements.js'
import { classElementsOf } from '../src/gate/nft-rates.js'
import { done, neighbour, reads, setElement, setElements } from '../test/fakes/netlink.js'
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

/** What the kernel answers a neighbour dump of the guest interface (index 4), in its reads. */
function neighbourFixture(seq: number): Buffer[] {
  return reads([
    ...Array.from({ length: DEVICES }, (_, i) =>
      // REACHABLE, or STALE for one in three; confirmed 0–24 s ago.
      neighbour(seq, 4, i % 3 === 0 ? 0x04 : 0x02, macOf(i).replaceAll(':', ''), (i % 25) * 100),
    ),
    done(seq),
  ])
}

/**
 * What the kernel answers a dump of the map `up`: each device's class and counter, in messages
 * of 200 elements (~22 KB; the kernel fills each up to the reader's buffer, 32 KB at most).
 */
function counterFixture(seq: number, bytes: number): Buffer[] {
  const messages: Buffer[] = []
  for (let from = 0; from < DEVICES; from += 200) {
    const elements: Buffer[] = []
    for (let i = from; i < Math.min(DEVICES, from + 200); i++)
      elements.push(
        setElement(macOf(i).replaceAll(':', ''), {
          data: 0x10000 + 16 + i,
          counter: [bytes + i, bytes / 100],
        }),
      )
    messages.push(setElements(seq, 'up', ...elements))
  }
  return reads([...messages, done(seq)])
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
 * are handed the dump's bytes): a new `ip` process, as at first, the `ip -batch -` it kept next
 * (src/gate/ip-session.ts, now where the dump cannot be read), and the netlink dump it makes now. Process CPU per ask, this process only (the fork is its cost; ip's own
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
    const dump = openNeighbourDump()
    if (typeof dump === 'string')
      console.log(`the neighbour table's netlink dump: not measured (${dump})`)
    else
      try {
        const direct = await perAsk(async () => {
          dump.read(null, Date.now(), { macs: [], ats: [] })
          return ''
        })
        figure(
          'sweep.askDumpCpu',
          "asking for the neighbour table, a netlink dump in the service's process (its way)",
          direct,
          'ms',
        )
      } finally {
        dump.close()
      }
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
      const neigh = neighbourFixture(1)
      const counterFixtures = Array.from({ length: SWEEPS + REREADS + 2 }, (_, i) =>
        counterFixture(1, (i + 1) * 1000),
      )
      let k = 0
      // The dumps' reads as the service's readers take them, without the kernel's own side
      // (asked below, on this machine's table).
      const source = createKernelPresence({
        gate: {
          async counters() {
            const dumped: DumpedElement[] = []
            for (const chunk of counterFixtures[k++]!)
              parseElementDump(chunk, chunk.length, 1, dumped)
            // As the nftables gate's counters() makes them.
            const out = new Map<Mac, { packets: number; bytes: number }>()
            for (const e of classElementsOf(dumped))
              out.set(e.mac, { packets: e.packets, bytes: e.bytes })
            return out
          },
        },
        dump: {
          read(_device, at, into) {
            for (const chunk of neigh) parseNeighbourDump(chunk, chunk.length, 1, 4, at, into)
            return null
          },
          close() {},
        },
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
        `  sources (read ${(neigh.reduce((n, c) => n + c.length, 0) / 1e6).toFixed(1)} + ${(counterFixtures[0]!.reduce((n, c) => n + c.length, 0) / 1e6).toFixed(1)} MB of dumps): ${col((r) => r.sourceMs)} ms`,
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
