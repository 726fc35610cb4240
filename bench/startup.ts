import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, startService } from '../test/net-helpers.js'
import { tempDir } from '../test/helpers.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'

const RUNS = 15

// The command line as installed (deploy/install.sh links bin/branchgate.js; the systemd unit runs
// `bin/branchgate.js serve` with NODE_ENV=production): no --enable-source-maps, like the tests'
// SERVE_ARGS/CLI_ARGS. Node 20 reads and parses every chunk's map at load with it (some 36 MB of
// the service's RSS and a good part of a command's start).
const COMMAND = path.join(ROOT, 'bin/branchgate.js')

/**
 * Median wall times in ms of running `node ARGS` for each command, RUNS times each (after one
 * warm-up run of each), the commands taking turns and their order rotating each round: run one
 * after the other, 15 times each, `node -e 0` read 98.9 ms in one run and 158 in another, and
 * `status` against it 2.90× and 3.82×, the machine's speed moving between them (issue 20).
 */
function medianMsAlternating(commands: string[][]): number[] {
  for (const args of commands) spawnSync(process.execPath, args, { stdio: 'ignore' })
  const times: number[][] = commands.map(() => [])
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < commands.length; j++) {
      const k = (i + j) % commands.length
      const args = commands[k]!
      const t0 = performance.now()
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' })
      times[k]!.push(performance.now() - t0)
      if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`)
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b)
    return t[Math.floor(t.length / 2)]!
  })
}

/** A process's resident memory now, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? NaN) * 1024
}

/**
 * What an operator and systemd wait for: the `branchgate` command (`--help`, and `status` on a
 * database), each as a ratio to `node -e 0` measured in the same run (target ≤ 3×), and the
 * service's resident memory once started and once it has served its first pages (target
 * ≤ 90 MB). The command is the compiled one (dist/), run as installed (see COMMAND).
 */
const section: BenchSection = {
  name: 'startup',
  async run() {
    execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: 'inherit' })
    const dir = tempDir('branchgate-bench-startup-')
    try {
      const config = path.join(dir.dir, 'branchgate.json')
      writeFileSync(
        config,
        JSON.stringify({ dataDir: dir.dir, listen: { portal: { port: 0 }, admin: { port: 0 } } }),
      )
      const service = await startService(['--config', config], {
        spawn: (args) =>
          spawn(process.execPath, [COMMAND, 'serve', ...args.slice(args.indexOf('--config'))], {
            cwd: ROOT,
            env: { ...process.env, NODE_ENV: 'production' },
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
      })
      const afterStart = rssOf(service.child.pid!)
      for (let i = 0; i < 50; i++) {
        await (await fetch(`http://127.0.0.1:${service.ports.portal}/`)).text()
        await (await fetch(`http://127.0.0.1:${service.ports.console}/login`)).text()
      }
      const afterPages = rssOf(service.child.pid!)

      const [node, help, status] = medianMsAlternating([
        ['-e', '0'],
        [COMMAND, '--help'],
        [COMMAND, 'status', '--config', config],
      ]) as [number, number, number]
      await service.stop()
      figure(
        'node',
        `node -e 0, median of ${RUNS}, taking turns with the commands (the baseline)`,
        node,
        'ms',
      )
      figure('help.ms', 'branchgate --help, median', help, 'ms')
      figure('help.ratio', 'branchgate --help / node -e 0', help / node, '×', {
        target: { op: '<=', value: 3 },
      })
      figure('status.ms', 'branchgate status, median', status, 'ms')
      figure('status.ratio', 'branchgate status / node -e 0', status / node, '×', {
        target: { op: '<=', value: 3 },
      })
      const mb = (b: number) => b / 1048576
      figure('rss.start', 'service RSS after start', mb(afterStart), 'MB', {
        target: { op: '<=', value: 90 },
      })
      figure('rss.pages', 'service RSS after 100 pages', mb(afterPages), 'MB', {
        target: { op: '<=', value: 90 },
      })
    } finally {
      dir.remove()
    }
  },
}
export default section
