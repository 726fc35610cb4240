import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { closeDb, openDb } from '../src/db/open.js'
import { seedEvents } from '../test/fakes/outbox-seed.js'
import { WebhookReceiver } from '../test/fakes/webhook-receiver.js'
import { tempDir } from '../test/helpers.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'
import { CLI_ARGS } from '../test/net-helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const EVENTS = Number(process.env.SYNC_BENCH_EVENTS ?? 100_000)
const SECRET = 'whsec_' + Buffer.from('bench secret, thirty-two bytes!!').toString('base64')

/** The kernel's high-water mark of a process's resident memory, in bytes (Linux). */
function peakRssOf(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/**
 * CPU time (user + system) a process has used so far, in seconds (Linux: /proc, in USER_HZ = 1/100
 * s), or null once it is gone.
 */
function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces, in parentheses): utime is the 14th
    // field of the line, stime the 15th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return null
  }
}

/**
 * 100,000 pending events drained by `branchgate sync` (a real child process, as an operator or
 * the service would run it) to a webhook receiver on loopback that verifies every signature and
 * de-duplicates by event id. Prints events/s and the sync process's peak RSS.
 * Targets (issue 5): >= 5,000 events/s, peak RSS <= 200 MB.
 */
const section: BenchSection = {
  name: 'sync',
  async run() {
    const dir = tempDir('branchgate-bench-sync-')
    const receiver = await new WebhookReceiver([SECRET]).start()
    try {
      const configFile = path.join(dir.dir, 'branchgate.json')
      writeFileSync(
        configFile,
        JSON.stringify({
          dataDir: dir.dir,
          branch: { id: 'bench' },
          sync: { adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] } },
        }),
      )
      const db = openDb(path.join(dir.dir, 'branchgate.db'))
      let t = performance.now()
      seedEvents(db, {
        count: EVENTS,
        customers: 5_000,
        perTransaction: 5_000,
        branchId: 'bench',
        // As the service writes them (src/sync/build.ts): subjects already keyed hashes.
        subjectKey: Buffer.alloc(32, 1),
      })
      const seedMs = performance.now() - t
      closeDb(db)

      const runSync = async (cfg: string) => {
        const started = performance.now()
        const child = spawn(process.execPath, [...CLI_ARGS, 'sync', '--config', cfg], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let out = ''
        child.stdout.on('data', (d) => (out += d))
        child.stderr.on('data', (d) => (out += d))
        let peak = 0
        // The last sample before the exit: short of the final 20 ms at most.
        let cpu = 0
        const sampler = setInterval(() => {
          peak = Math.max(peak, peakRssOf(child.pid!) ?? 0)
          cpu = cpuSecondsOf(child.pid!) ?? cpu
        }, 20)
        const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
        clearInterval(sampler)
        return { code, out, peak, cpu, wallMs: performance.now() - started }
      }

      // Baseline: the same command with nothing to send (Node, tsx and the modules loaded).
      const emptyDir = tempDir('branchgate-bench-sync-empty-')
      const emptyConfig = path.join(emptyDir.dir, 'branchgate.json')
      writeFileSync(
        emptyConfig,
        JSON.stringify({
          dataDir: emptyDir.dir,
          sync: { adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] } },
        }),
      )
      const baseline = await runSync(emptyConfig)
      emptyDir.remove()

      const { code, out, peak, cpu, wallMs } = await runSync(configFile)
      if (code !== 0 || receiver.accepted.length !== EVENTS) {
        throw new Error(
          `drain incomplete (exit ${code}, receiver has ${receiver.accepted.length}):\n${out}`,
        )
      }
      const drainMs = (receiver.lastAcceptedAt ?? 0) - (receiver.firstAcceptedAt ?? 0)
      const mb = (b: number) => (b / 1024 / 1024).toFixed(0)
      console.log(
        `seeded ${EVENTS} events in ${(seedMs / 1000).toFixed(1)} s (${Math.round(EVENTS / (seedMs / 1000))} events/s written to the outbox)`,
      )
      console.log(`branchgate sync: ${out.trim().split('\n').at(-1)}`)
      figure(
        'eventsPerSecond',
        `sync throughput, first to last batch (${(drainMs / 1000).toFixed(1)} s)`,
        EVENTS / (drainMs / 1000),
        'events/s',
        { target: { op: '>=', value: 20_000 } },
      )
      console.log(
        `  including process start: ${Math.round(EVENTS / (wallMs / 1000))} events/s (${(wallMs / 1000).toFixed(1)} s)`,
      )
      // CPU rather than events/s to compare two builds on a shared machine (issue 20): the
      // process's CPU less that of the same command with nothing to send, per 100,000 events.
      figure(
        'cpuPer100k',
        'sync process CPU per 100,000 events, less the empty run (sampled every 20 ms)',
        ((cpu - baseline.cpu) * 100_000) / EVENTS,
        's',
        {
          better: 'lower',
          note: `(process ${cpu.toFixed(2)} s, empty run ${baseline.cpu.toFixed(2)} s)`,
        },
      )
      figure('peakRss', 'peak RSS of the sync process', peak ? peak / 1048576 : NaN, 'MB', {
        target: { op: '<=', value: 120 },
      })
      console.log(
        `  baseline, the same command with nothing to send: ${baseline.peak ? `${mb(baseline.peak)} MB` : 'unknown'}`,
      )
      console.log(
        `receiver: ${receiver.requests} requests, ${receiver.duplicates()} duplicates, ${receiver.badSignatures} bad signatures`,
      )
      console.log(
        '(loopback receiver in the bench process; the machine is shared, so figures vary)',
      )
    } finally {
      await receiver.stop()
      dir.remove()
    }
  },
}
export default section
