import type { Clock } from '../clock.js'
import type { SyncConfig } from './config.js'
import type { Db } from '../db/open.js'
import type { Metrics } from '../observe/metrics.js'
import type { CrmAdapter } from './adapter.js'
import { derivedKey } from '../secret.js'
import { macPolicy, createOutbox, type Outbox } from './outbox.js'
import { createSyncRunner, type SyncRunner } from './run.js'
import { createSalesforceAdapter } from './salesforce.js'
import { createWebhookAdapter } from './webhook.js'

/** The configured CRM adapter, or null for `type: 'none'` (events accumulate). */
export function buildCrmAdapter(sync: SyncConfig, clock: Clock): CrmAdapter | null {
  const a = sync.adapter
  switch (a.type) {
    case 'none':
      return null
    case 'webhook':
      return createWebhookAdapter(a, { clock, timeoutMs: sync.timeoutMs })
    case 'salesforce':
      return createSalesforceAdapter(a, { clock, timeoutMs: sync.timeoutMs })
  }
}

/** The branch's outbox with the configured MAC policy (key: `sync.macSalt`, else the install secret). */
export function buildOutbox(
  db: Db,
  p: { branchId: string; sync: SyncConfig; secret: Buffer },
): Outbox {
  return createOutbox(db, {
    branchId: p.branchId,
    macs: macPolicy(p.sync.macs, p.sync.macSalt ?? p.secret),
    // The key of the delivered events' digests (src/services.ts `eventKey`), so a stored subject
    // is already what delivery would make of it.
    subjectKey: derivedKey(p.secret, 'branchgate outbox digest v1'),
  })
}

export function buildSyncRunner(p: {
  db: Db
  sync: SyncConfig
  branchId: string
  clock: Clock
  log: (line: string) => void
  /** privacy.retention.deliveredEventsDays, unless sync.keepDeliveredHours is set. */
  deliveredEventsDays: number
  /** Key of the digests delivered events keep (derived from the install secret). */
  redactKey: Buffer
  metrics?: Metrics
}): SyncRunner {
  return createSyncRunner({
    ...(p.metrics ? { metrics: p.metrics } : {}),
    db: p.db,
    adapter: buildCrmAdapter(p.sync, p.clock),
    clock: p.clock,
    config: {
      ...p.sync,
      keepDeliveredHours: p.sync.keepDeliveredHours ?? p.deliveredEventsDays * 24,
    },
    redactKey: p.redactKey,
    branchId: p.branchId,
    log: p.log,
  })
}
