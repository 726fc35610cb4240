/**
 * The daily privacy job in a process of its own, for test/privacy-faults.test.ts (which compiles
 * it with esbuild; `node --import tsx test/retention-child.ts …` runs it as it is): one retention run over the SQLite file `--db`
 * with the config file `--config`, as of the instant `--now` (UTC epoch ms), built from
 * createServices like the service's job.
 *
 * Prints one line per unit of work once it committed (`blocked 17`, `deleted 17`), and at the
 * end `done {report}`. With `--stall blocked:N` (or `deleted:N`) it stops for good inside the
 * N-th blocking (deletion) transaction, after every write of that customer and before the
 * commit, and says `stalled blocked 17`: the test kills it there with SIGKILL.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import type { ErasureNotifier } from '../src/customers/erasure.js'
import { closeDb, openDb } from '../src/db/open.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { createRetention } from '../src/privacy/retention.js'
import { derivedKey } from '../src/secret.js'
import { createServices } from '../src/services.js'
import { outboxErasureNotifier } from '../src/sync/outbox.js'

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    config: { type: 'string' },
    now: { type: 'string' },
    stall: { type: 'string' },
  },
})
const config = loadConfig(readFileSync(values.config!, 'utf8'), {})
const db = openDb(values.db!)
const now = Number(values.now)
const clock = { now: () => now }
const secret = Buffer.alloc(32, 7)
const log = (line: string) => void process.stderr.write(`${line}\n`)
const out = (line: string) => void process.stdout.write(`${line}\n`) // synchronous on a pipe

const [stallKind, stallAt] = (values.stall ?? ':').split(':') as [string, string]
const seen: Record<string, number> = { blocked: 0, deleted: 0 }
function maybeStall(kind: 'blocked' | 'deleted', customerId: number) {
  if (kind !== stallKind || ++seen[kind]! !== Number(stallAt)) return
  out(`stalled ${kind} ${customerId}`)
  // Blocks this thread for good, inside the open transaction, until the test's SIGKILL.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
}

let notifier: ErasureNotifier | null = null
const services = createServices({
  config,
  db,
  gate: createDryRunGate(clock),
  clock,
  secret,
  log,
  // The real notifier (the outbox), then the stall, both inside the transaction.
  erasure: {
    customerBlocked(e) {
      notifier!.customerBlocked(e)
      maybeStall('blocked', e.customerId)
    },
    customerDeleted(e) {
      notifier!.customerDeleted(e)
      maybeStall('deleted', e.customerId)
    },
  },
})
notifier = outboxErasureNotifier(services.outbox)

// services.retention with a progress line per committed unit (the keys as createServices derives them).
const retention = createRetention({
  db,
  erasure: services.erasure,
  audit: services.audit,
  privacy: config.privacy,
  timeZone: config.branch.timeZone,
  rememberDays: config.remember.days,
  macKey: derivedKey(secret, 'branchgate retention mac v1'),
  eventKey: derivedKey(secret, 'branchgate outbox digest v1'),
  keepDeliveredHours: config.sync.keepDeliveredHours,
  log,
  onProgress: (what, customerId) => {
    if (customerId !== undefined) out(`${what} ${customerId}`)
  },
})
const report = await retention.run(now)
out(`done ${JSON.stringify(report)}`)
closeDb(db)
