/**
 * A day in ten minutes (issue 20, point 7): the compiled service on a gateway namespace with the
 * nftables gate, loaded like a busy branch with the clock running normally. Phones in client
 * namespaces log in (one a second), send their captive probes and come back ("welcome back");
 * the service runs its own presence sweeps and session jobs, and syncs to a CRM receiver every
 * minute; a manager uses the console (dashboard of the month and the year, visit list, CSV
 * export) from behind the uplink. Every 10 s: resident memory, event-loop delay, WAL and
 * database size. Pass: memory and WAL flat after the warm-up, no error in the log.
 * `npm run bench -- soak`; BENCH_SOAK_MINUTES shortens it. Needs root.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { figure } from './figures.js'
import { createBranch, GATEWAY_IP, netnsBenchReady, PORTAL_PORT, ROOT } from './netns/branch.js'
import type { MixResult } from './netns/phones.js'
import type { BenchSection } from './run.js'

const SECRET = 'whsec_' + Buffer.from('soak secret, thirty-two bytes!!!').toString('base64')
const NAMESPACES = 3
const PHONES = 100

const sizeOf = (f: string) => {
  try {
    return statSync(f).size
  } catch {
    return 0
  }
}
const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024
const mb = (b: number) => b / 1048576
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

const section: BenchSection = {
  name: 'soak',
  onlyWhenNamed: true,
  async run() {
    if (!netnsBenchReady()) return
    const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10)
    const seconds = minutes * 60
    const branch = await createBranch({ namespaces: NAMESPACES, phonesPerNamespace: PHONES })
    try {
      const config = branch.config({
        listen: {
          portal: { host: '0.0.0.0', port: PORTAL_PORT },
          admin: { host: '10.97.0.1', port: 8081 },
        },
        // Sessions end during the run: expiry revokes, welcome-backs let devices through again.
        session: { hours: 0.1 },
        sync: {
          schedule: '* * * * *',
          offsetMaxSeconds: 0,
          adapter: { type: 'webhook', url: 'http://127.0.0.1:9100/crm/hook', secrets: [SECRET] },
        },
      })
      const configFile = branch.writeConfig(config)
      const password = 'tarde-de-lluvia-en-la-sucursal'
      execFileSync(
        process.execPath,
        [
          path.join(ROOT, 'bin/branchgate.js'),
          'user',
          'add',
          'manager',
          '--role',
          'admin',
          '--password-stdin',
          '--config',
          configFile,
        ],
        { input: `${password}\n`, stdio: ['pipe', 'ignore', 'inherit'] },
      )
      const crm = branch.spawnIn(branch.gw, [
        process.execPath,
        '--import',
        'tsx',
        path.join(ROOT, 'bench/netns/office.ts'),
        'crm',
        SECRET,
      ])
      let crmOut = ''
      crm.stdout!.on('data', (d) => (crmOut += d))
      crm.stderr!.on('data', (d) => (crmOut += d))
      const service = await branch.startService(config, [
        '--import',
        path.join(ROOT, 'bench/netns/loop-lag.mjs'),
      ])
      const dataDir = String(config.dataDir)
      const db = path.join(dataDir, 'branchgate.db')
      const office = branch.spawnIn(branch.net, [
        process.execPath,
        '--import',
        'tsx',
        path.join(ROOT, 'bench/netns/office.ts'),
        'manager',
        'http://10.97.0.1:8081',
        'manager',
        password,
        String(minutes),
      ])
      let officeOut = ''
      office.stdout!.on('data', (d) => (officeOut += d))
      office.stderr!.on('data', (d) => (officeOut += d))
      const phones = await Promise.all(branch.clientNs.map((ns) => branch.startPhones(ns)))
      const mixes = Promise.all(
        phones.map((p, k) =>
          p.ask<MixResult>(
            {
              mix: {
                host: GATEWAY_IP,
                port: PORTAL_PORT,
                seconds,
                loginSpreadSeconds: Math.min(300, seconds / 2),
                probeEveryMs: 10_000,
                welcomeBackEveryMs: 120_000,
                phones: branch.customersIn(k, `56${String(k + 1).padStart(2, '0')}`),
              },
            },
            'mix',
          ),
        ),
      )
      type Sample = {
        t: number
        rss: number
        wal: number
        db: number
        lag: number
        heap: number
        live: number
      }
      const samples: Sample[] = []
      // The newest line bench/netns/loop-lag.mjs printed: the loop's delay and the heap.
      const loopLag = () => {
        const m = [
          ...service
            .log()
            .matchAll(/\[loop-lag\] p99=([\d.]+) max=[\d.]+ heap=([\d.]+) live=([\d.]+|NaN)/g),
        ].at(-1)
        return {
          lag: Number(m?.[1] ?? NaN),
          heap: Number(m?.[2] ?? NaN),
          live: Number(m?.[3] ?? NaN),
        }
      }
      console.log(
        `  t (s)   RSS (MB)   heap (MB)   after full GC (MB)   loop p99 (ms)   WAL (MB)   DB (MB)`,
      )
      const t0 = performance.now()
      for (let t = 10; t <= seconds; t += 10) {
        await new Promise((r) => setTimeout(r, t0 + t * 1000 - performance.now()))
        const s = {
          t,
          rss: rssOf(service.pid),
          wal: sizeOf(`${db}-wal`),
          db: sizeOf(db),
          ...loopLag(),
        }
        samples.push(s)
        console.log(
          `  ${String(t).padStart(5)}   ${mb(s.rss).toFixed(1).padStart(8)}   ${s.heap.toFixed(1).padStart(9)}   ${s.live.toFixed(1).padStart(18)}   ${s.lag.toFixed(1).padStart(13)}   ${mb(s.wal).toFixed(1).padStart(8)}   ${mb(s.db).toFixed(1).padStart(7)}`,
        )
      }
      const mix = await mixes
      await new Promise<void>((resolve) => {
        if (office.exitCode !== null) return resolve()
        office.once('exit', () => resolve())
        setTimeout(() => office.kill(), 30_000).unref()
      })
      const stopCode = await service.stop()
      const counts: Record<string, number> = {}
      for (const m of mix)
        for (const [k, v] of Object.entries(m.counts)) counts[k] = (counts[k] ?? 0) + v
      const phoneErrors = mix.reduce((a, m) => a + m.errors, 0)
      const p99 = (kind: string) => Math.max(...mix.map((m) => m.p99[kind] ?? 0))
      const lastJson = (out: string) => {
        try {
          return JSON.parse(out.trim().split('\n').at(-1) ?? '{}')
        } catch {
          return { errors: 1, lastError: out.trim().split('\n').at(-1) }
        }
      }
      const officeLast = lastJson(officeOut)
      const crmLast = lastJson(crmOut)
      const logErrors = service
        .log()
        .split('\n')
        .filter((l) => /error|fail|cannot|exception/i.test(l) && !/\[loop-lag\]/.test(l))
      console.log(
        `phones: ${Object.entries(counts)
          .map(([k, v]) => `${v} ${k}`)
          .join(
            ', ',
          )}; ${phoneErrors} errors${phoneErrors ? ` (last: ${mix.find((m) => m.errors)?.lastError})` : ''}`,
      )
      console.log(
        `  p99: login ${p99('login').toFixed(1)} ms, probe ${p99('probe').toFixed(1)} ms, welcome back ${p99('welcome-back').toFixed(1)} ms`,
      )
      console.log(
        `manager: ${officeLast.pages ?? 0} console pages, ${officeLast.csvRows ?? 0} CSV rows, ${officeLast.errors ?? '?'} errors${officeLast.lastError ? ` (${officeLast.lastError})` : ''}; CRM received ${crmLast.crmEvents ?? 0} events, ${crmLast.crmDuplicates ?? 0} duplicates, ${crmLast.badSignatures ?? 0} bad signatures`,
      )
      console.log(`service stopped with exit code ${stopCode}`)
      for (const l of logErrors.slice(0, 10)) console.log(`  log: ${l}`)

      const warm = samples.filter((s) => s.t > Math.min(120, seconds / 5))
      const third = Math.max(1, Math.floor(warm.length / 3))
      const early = warm.slice(0, third)
      const late = warm.slice(-third)
      figure('rss.afterWarmUp', 'RSS after the warm-up', mb(mean(early.map((s) => s.rss))), 'MB')
      figure('rss.end', 'RSS at the end', mb(mean(late.map((s) => s.rss))), 'MB')
      figure(
        'rss.growth',
        'RSS growth after the warm-up',
        (100 * (mean(late.map((s) => s.rss)) - mean(early.map((s) => s.rss)))) /
          mean(early.map((s) => s.rss)),
        '%',
        { target: { op: '<=', value: 10 } },
      )
      // New phones arrive for the first loginSpreadSeconds; after that the same phones come and
      // go. What memory does once no new device arrives, per minute (least squares over the
      // samples): state kept per device grows with the arrivals, a leak keeps growing after.
      const settled = samples.filter((s) => s.t > Math.min(300, seconds / 2) + 30)
      if (settled.length >= 6) {
        const slope = (pts: Sample[], y: (s: Sample) => number) => {
          const xs = pts.map((s) => s.t / 60)
          const ys = pts.map(y)
          const mx = mean(xs)
          const my = mean(ys)
          let num = 0
          let den = 0
          for (let i = 0; i < xs.length; i++) {
            num += (xs[i]! - mx) * (ys[i]! - my)
            den += (xs[i]! - mx) ** 2
          }
          return num / den
        }
        figure(
          'rss.slopeSettled',
          'RSS per minute once no new phone arrives',
          slope(settled, (s) => mb(s.rss)),
          'MB/min',
        )
        figure(
          'heap.slopeSettled',
          'V8 heap in use per minute once no new phone arrives',
          slope(settled, (s) => s.heap),
          'MB/min',
        )
        const afterGc = settled.filter((s) => Number.isFinite(s.live))
        if (afterGc.length >= 6 && new Set(afterGc.map((s) => s.live)).size > 1)
          figure(
            'live.slopeSettled',
            'V8 heap after a full GC, per minute once no new phone arrives',
            slope(afterGc, (s) => s.live),
            'MB/min',
          )
        else
          console.log(
            'V8 heap after a full GC: too few full GCs once no new phone arrived to tell a trend',
          )
      }
      figure(
        'wal.max',
        'WAL, largest after the warm-up',
        mb(Math.max(...warm.map((s) => s.wal))),
        'MB',
        {
          target: { op: '<=', value: 16 },
        },
      )
      figure('wal.end', 'WAL at the end (before the clean stop)', mb(samples.at(-1)!.wal), 'MB')
      figure('db.end', 'database at the end', mb(samples.at(-1)!.db), 'MB')
      figure(
        'lag.p99',
        'event-loop delay, worst 10-s p99 after the warm-up',
        Math.max(...warm.map((s) => s.lag).filter(Number.isFinite)),
        'ms',
      )
      figure(
        'errors',
        'errors (log lines, phones, manager)',
        logErrors.length + phoneErrors + (officeLast.errors ?? 1),
        '',
        {
          target: { op: '<=', value: 0 },
        },
      )
    } finally {
      await branch.close()
    }
  },
}
export default section
