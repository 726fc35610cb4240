import { systemClock, type Clock } from '../clock.js'
import { SPECS } from './specs.js'
import { ConfigError, type Config } from '../config.js'
import { openCliContext } from './context.js'
import { outboxStatements } from '../db/outbox.js'
import type { RunResult } from '../sync/run.js'
import { formatAge, parkedEvents, syncStatus } from '../sync/status.js'

export const SYNC_USAGE = SPECS.sync.usage

/** SQLite's page cache of the command's connection, in KiB (SQLite's own default). */
const SYNC_CACHE_KIB = 2000

const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`)

/**
 * `branchgate sync`: one run now (ignoring any backoff), safe while the service runs.
 * `--wait`: keep trying with backoff until nothing is pending. `--status`: what is waiting.
 * `--retry-failed`: re-queue parked events, then run.
 */
export async function syncCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  clock: Clock = systemClock,
): Promise<number> {
  const unknown = argv.filter(
    (a, i) =>
      a.startsWith('--') &&
      !['--status', '--json', '--retry-failed', '--wait', '--config'].includes(a) &&
      argv[i - 1] !== '--config',
  )
  if (unknown.length) {
    console.error(`branchgate sync: unknown option ${unknown.join(' ')}\nUsage: ${SYNC_USAGE}`)
    return 2
  }
  let ctx: Awaited<ReturnType<typeof openCliContext>>
  try {
    ctx = await openCliContext(argv, env, { clock, log })
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`branchgate: ${err.message}`)
      return 2
    }
    throw err
  }
  const { config, db } = ctx
  // A drain reads each page of the outbox once, writes it back and moves on: SQLite's own default
  // page cache (2 MB) holds what a batch touches. better-sqlite3's default (16 MB) only filled
  // with pages already done with, the process's resident memory with them (issue 20).
  db.pragma(`cache_size = -${SYNC_CACHE_KIB}`)
  let interrupted = false
  let wake: (() => void) | null = null
  const onSignal = () => {
    interrupted = true
    wake?.()
    void runner.stop()
  }
  const runner = ctx.services.syncRunner()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    if (argv.includes('--status')) {
      if (argv.includes('--json')) {
        // For monitoring: the same figures as the console, times in epoch ms (UTC).
        const status = syncStatus(db, clock.now())
        console.log(JSON.stringify({ crm: config.sync.adapter.type, ...status }))
      } else printStatus(config, db, clock.now())
      return 0
    }
    if (argv.includes('--retry-failed')) {
      const n = runner.retryParked()
      console.log(`${n} parked event(s) queued again`)
    }
    if (config.sync.adapter.type === 'none') {
      const { pending } = syncStatus(db, clock.now())
      console.log(
        `no CRM configured (sync.adapter.type is "none"): ${pending} event(s) wait in the outbox`,
      )
      return 0
    }
    let result = await runner.run({ force: true })
    while (argv.includes('--wait') && !interrupted) {
      const wait = waitFor(result, db, clock)
      if (wait === null) break
      if (wait > 0) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, wait)
          wake = () => {
            clearTimeout(timer)
            r()
          }
        })
        wake = null
      }
      if (interrupted) break
      result = await runner.run({ force: result.status === 'busy' ? false : true })
    }
    console.log(describe(result))
    return result.status === 'done' ? 0 : result.status === 'busy' ? 3 : 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await runner.stop()
    ctx.close()
  }
}

/** Milliseconds to wait before the next try of `--wait`, or null when everything is sent. */
function waitFor(
  result: RunResult,
  db: Parameters<typeof syncStatus>[0],
  clock: Clock,
): number | null {
  const now = clock.now()
  if (result.status === 'failed') return Math.max(0, result.nextAttemptAt - now)
  if (result.status === 'busy') return 1000
  if (result.status !== 'done') return null
  const s = syncStatus(db, now)
  if (s.pending === 0) return null
  // Only events waiting for their own retry remain: sleep until the first is due.
  const next = outboxStatements(db).counts().nextEventAttemptAt ?? now
  return Math.max(0, Math.min(next - now, 60_000))
}

function describe(r: RunResult): string {
  switch (r.status) {
    case 'no-adapter':
      return `no CRM configured: ${r.pending} event(s) pending`
    case 'busy':
      return `another sync run is in progress (${r.holder.split(':').slice(0, 2).join(' pid ')}); try again later`
    case 'backing-off':
      return `backing off until ${new Date(r.until).toISOString()}`
    case 'done':
      return `sync done: ${r.delivered} delivered, ${r.parked} parked, ${r.retried} to retry, ${r.batches} request(s)`
    case 'failed':
      return `sync stopped: ${r.error}. ${r.delivered} delivered before; next try ${new Date(r.nextAttemptAt).toISOString()}`
  }
}

function printStatus(config: Config, db: Parameters<typeof syncStatus>[0], now: number): void {
  const s = syncStatus(db, now)
  const when = (ms: number | null) =>
    ms === null ? 'never' : `${new Date(ms).toISOString()} (${formatAge(now - ms)} ago)`
  const lines = [
    `CRM:            ${config.sync.adapter.type === 'none' ? 'none configured — events accumulate in the outbox' : config.sync.adapter.type}`,
    `pending:        ${s.pending}${s.oldestPendingAgeMs !== null ? ` (oldest ${formatAge(s.oldestPendingAgeMs)} old)` : ''}`,
    `parked:         ${s.parked}${s.parked ? ' (see `branchgate sync --retry-failed` once fixed)' : ''}`,
    `last success:   ${when(s.lastSuccessAt)}`,
    `last error:     ${s.lastError ? `${s.lastError} at ${when(s.lastErrorAt)}` : 'none'}`,
    `next try:       ${s.nextAttemptAt ? new Date(s.nextAttemptAt).toISOString() : 'on schedule'}`,
    `running now:    ${s.running ? 'yes' : 'no'}`,
  ]
  const parked = parkedEvents(db, 5)
  if (parked.length) {
    lines.push(
      '',
      `parked events${s.parked > parked.length ? ` (first ${parked.length} of ${s.parked})` : ''}:`,
    )
    for (const p of parked) lines.push(`  ${p.id}  ${p.type}  ${p.error ?? ''}`)
  }
  console.log(lines.join('\n'))
}
