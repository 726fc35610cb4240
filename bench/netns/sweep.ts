/**
 * Presence sweeps against the real kernel (run in the gateway's namespace, next to the running
 * service, on its database): the neighbour table and the nftables map `up`'s counters, each
 * read with a netlink dump as the service reads them, then the visit rules and one transaction.
 * `sweep.ts CONFIG N`: N sweeps 2 s apart; prints one JSON line with every sweep's report.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { systemClock } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import { closeDb, openDb } from '../../src/db/open.js'
import { visitStatements } from '../../src/db/visits.js'
import { nftablesGateFor } from '../../src/gate/nftables.js'
import { uuidv7 } from '../../src/ids.js'
import { presenceStepOf, visitPolicyOf } from '../../src/services.js'
import { createOutbox, macPolicy } from '../../src/sync/outbox.js'
import { createVisitBook } from '../../src/visits/book.js'
import { createKernelPresence } from '../../src/visits/kernel-presence.js'
import { createPresenceTracker, type SweepReport } from '../../src/visits/presence.js'

const [configFile = '', n = '10'] = process.argv.slice(2)
const config = loadConfig(readFileSync(configFile, 'utf8'))
if (config.gate.backend !== 'nftables') throw new Error('needs the nftables gate')
const db = openDb(path.join(config.dataDir, 'branchgate.db'))
const gate = nftablesGateFor(config, config.gate, { clock: systemClock, log: () => {} })
const visits = visitStatements(db)
const policy = visitPolicyOf(config)
const source = createKernelPresence({ gate, device: config.gate.guestInterface })
const tracker = createPresenceTracker({
  db,
  source,
  visits,
  book: createVisitBook({
    db,
    visits,
    branchId: config.branch.id,
    policy,
    newId: uuidv7,
    outbox: createOutbox(db, { branchId: config.branch.id, macs: macPolicy('omit', '') }),
  }),
  policy: { ...policy, rememberMs: config.remember.days * 86_400_000 },
  staffMacs: new Set(),
  monotonic: { now: () => performance.now() },
  stepMs: presenceStepOf(config),
})
const reports: SweepReport[] = []
for (let i = 0; i < Number(n); i++) {
  reports.push(await tracker.sweep(Date.now()))
  await new Promise((r) => setTimeout(r, 2000))
}
tracker.flush()
source.close()
gate.close()
closeDb(db)
console.log(JSON.stringify(reports))
