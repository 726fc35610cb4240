import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { SMS_FAILURE_KINDS } from '../errors.js'
import type { SendAttempt } from '../sms/sender.js'
import {
  BATCH_OUTCOMES,
  CHANNELS,
  FUNNEL_STEPS,
  OS_GROUPS,
  REFUSAL_REASONS,
  SEND_OUTCOMES,
  TIMED_ROUTES,
  type FunnelStep,
  type OsGroup,
  type RefusalReason,
} from './labels.js'
import type { Metrics, TimedOperation } from './metrics.js'
import type { BranchState } from './state.js'

/** What build and settings a box runs: the labels of `branchgate_build_info`. */
export interface BuildLabels {
  version: string
  branch: string
  configHash: string
  node: string
  /** The git commit of the build (issue 14); "unknown" when not given. */
  commit?: string
}

export interface PrometheusMetrics {
  /** What the services report to (see Metrics). */
  metrics: Metrics
  /** Sets the state gauges from a reading of the branch (done at each scrape). */
  update(state: BranchState): void
  /** The exposition in Prometheus' text format (state gauges as last updated). */
  scrape(): Promise<string>
  contentType: string
}

/** Provider names outside the configured ones (a test's fake) are counted under this one. */
export const OTHER_PROVIDER = 'other'

// Latencies in seconds. A login includes its SMS send (the budget is at most 10 s).
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const FIREWALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
const SWEEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const BATCH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * The service's metrics on prom-client, in a registry of their own. Every labelled series is
 * created up front from the closed sets (labels.ts) and the configured provider names, so a
 * rate over a step that has not happened yet reads 0 rather than nothing, and the hot path
 * (a login) only adds to a child it already holds.
 */
/** A counter's child, its series shown as 0 from the start. */
function zeroed(child: Counter.Internal): Counter.Internal {
  child.inc(0)
  return child
}

export function createPrometheusMetrics(opts: {
  /** The configured SMS providers' names, in failover order. */
  providers: readonly string[]
  build: BuildLabels
  /** Node's own figures (RSS, heap, event-loop lag, GC): on in the service. */
  processMetrics?: boolean
}): PrometheusMetrics {
  const registry = new Registry()
  // Every series says which branch it is from: a fleet's Prometheus needs no relabelling for it
  // (scrape with honor_labels, README "Watching many branches"). One value: no more series.
  registry.setDefaultLabels({ branch: opts.build.branch })
  const registers = [registry]
  const providers = [...new Set([...opts.providers, OTHER_PROVIDER])]
  const known = new Set(opts.providers)
  const providerLabel = (p: string) => (known.has(p) ? p : OTHER_PROVIDER)

  const funnel = new Counter({
    name: 'branchgate_funnel_total',
    help: "Customers' steps through the portal, by OS family: probe, splash, code_requested, code_sent, verified, welcome_back, let_through.",
    labelNames: ['step', 'os'],
    registers,
  })
  const funnelChild = new Map<string, Counter.Internal>()
  for (const step of FUNNEL_STEPS)
    for (const os of OS_GROUPS)
      funnelChild.set(`${step} ${os}`, zeroed(funnel.labels({ step, os })))

  const codesSent = new Counter({
    name: 'branchgate_codes_sent_total',
    help: 'Codes a provider took, by provider and channel.',
    labelNames: ['provider', 'channel'],
    registers,
  })
  const refusals = new Counter({
    name: 'branchgate_refusals_total',
    help: 'Requests the portal refused, by reason and OS family.',
    labelNames: ['reason', 'os'],
    registers,
  })
  const refusalChild = new Map<string, Counter.Internal>()
  for (const reason of REFUSAL_REASONS)
    for (const os of OS_GROUPS)
      refusalChild.set(`${reason} ${os}`, zeroed(refusals.labels({ reason, os })))

  const attempts = new Counter({
    name: 'branchgate_sms_attempts_total',
    help: "Provider tries by outcome (sent, failed, unreachable), each in the failover chain's order.",
    labelNames: ['provider', 'channel', 'outcome'],
    registers,
  })
  const failures = new Counter({
    name: 'branchgate_sms_failures_total',
    help: 'Failed provider tries by kind (credentials, noCredit, senderRefused, rejected, rateLimited, timeout, unavailable).',
    labelNames: ['provider', 'kind'],
    registers,
  })
  const sendSeconds = new Histogram({
    name: 'branchgate_sms_send_seconds',
    help: 'One provider try, from the request to the answer or the give-up, by provider and outcome.',
    labelNames: ['provider', 'outcome'],
    buckets: REQUEST_BUCKETS,
    registers,
  })
  for (const provider of providers) {
    for (const channel of CHANNELS) {
      codesSent.inc({ provider, channel }, 0)
      for (const outcome of SEND_OUTCOMES) attempts.inc({ provider, channel, outcome }, 0)
    }
    for (const kind of SMS_FAILURE_KINDS) failures.inc({ provider, kind }, 0)
    for (const outcome of SEND_OUTCOMES) sendSeconds.zero({ provider, outcome })
  }

  const portalSeconds = new Histogram({
    name: 'branchgate_portal_request_seconds',
    help: 'POST /login and POST /verify, from the request to the page, whatever the outcome.',
    labelNames: ['route'],
    buckets: REQUEST_BUCKETS,
    registers,
  })
  for (const route of TIMED_ROUTES) portalSeconds.zero({ route })
  const portalChild = new Map(TIMED_ROUTES.map((route) => [route, portalSeconds.labels({ route })]))
  const firewallSeconds = new Histogram({
    name: 'branchgate_firewall_change_seconds',
    help: 'One firewall change (let through or revoke one device), including its retries.',
    labelNames: ['change'],
    buckets: FIREWALL_BUCKETS,
    registers,
  })
  firewallSeconds.zero({ change: 'allow' })
  firewallSeconds.zero({ change: 'revoke' })
  const firewallChild = {
    allow: firewallSeconds.labels({ change: 'allow' }),
    revoke: firewallSeconds.labels({ change: 'revoke' }),
  }
  const sweepSeconds = new Histogram({
    name: 'branchgate_presence_sweep_seconds',
    help: 'One presence sweep: reading the neighbour table and counters, planning, writing visits.',
    buckets: SWEEP_BUCKETS,
    registers,
  })
  const batchSeconds = new Histogram({
    name: 'branchgate_sync_batch_seconds',
    help: 'One request of events to the CRM, by outcome (acked, rejected, transient).',
    labelNames: ['outcome'],
    buckets: BATCH_BUCKETS,
    registers,
  })
  for (const outcome of BATCH_OUTCOMES) batchSeconds.zero({ outcome })
  const batchChild = new Map(
    BATCH_OUTCOMES.map((outcome) => [outcome, batchSeconds.labels({ outcome })]),
  )

  const metrics: Metrics = {
    funnel(step: FunnelStep, os: OsGroup, sent) {
      funnelChild.get(`${step} ${os}`)?.inc()
      if (sent)
        codesSent.labels({ provider: providerLabel(sent.provider), channel: sent.channel }).inc()
    },
    refusal(reason: RefusalReason, os: OsGroup) {
      refusalChild.get(`${reason} ${os}`)?.inc()
    },
    smsAttempt(a: SendAttempt) {
      const provider = providerLabel(a.provider)
      attempts.labels({ provider, channel: a.channel, outcome: a.outcome }).inc()
      if (a.outcome === 'failed' && a.kind) failures.labels({ provider, kind: a.kind }).inc()
      sendSeconds.labels({ provider, outcome: a.outcome }).observe(a.latencyMs / 1000)
    },
    timing(t: TimedOperation, seconds: number) {
      switch (t.op) {
        case 'portal':
          portalChild.get(t.route)?.observe(seconds)
          return
        case 'firewall':
          firewallChild[t.change].observe(seconds)
          return
        case 'presence':
          sweepSeconds.observe(seconds)
          return
        case 'sync':
          batchChild.get(t.outcome)?.observe(seconds)
          return
      }
    },
  }

  // State gauges, set from one reading of the branch per scrape.
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers })
  const build = gauge(
    'branchgate_build_info',
    'Always 1: the version, configuration fingerprint and Node.js version (the branch id is on every series).',
    ['version', 'config_hash', 'node', 'commit'],
  )
  build.set(
    {
      version: opts.build.version,
      commit: opts.build.commit ?? 'unknown',
      config_hash: opts.build.configHash,
      node: opts.build.node,
    },
    1,
  )
  const allowed = gauge(
    'branchgate_devices_allowed',
    'Devices let through: by the database now, and in the firewall set at the last check.',
    ['source'],
  )
  const mismatch = gauge(
    'branchgate_devices_allowed_mismatch',
    'At the last check: let through by the database but missing from the firewall (missing), or in the firewall without a reason (stray).',
    ['kind'],
  )
  const firewallCheckedAt = gauge(
    'branchgate_firewall_check_timestamp_seconds',
    'When the firewall set was last compared with the database (0: never).',
  )
  const firewallCheckFailing = gauge(
    'branchgate_firewall_check_failing',
    '1 when the last attempt to read the firewall set failed.',
  )
  const firewallWay = gauge(
    'branchgate_firewall_session_info',
    "Always 1, for the way the firewall's changes are made (gate.nftSession): in-process (libnftables in the service), helper (libnftables through python3-nftables) or nft (nft -i). Absent before the first change and without nftables.",
    ['way'],
  )
  const present = gauge(
    'branchgate_devices_present',
    'Devices with a sign of life at the last presence sweep.',
  )
  const watchLive = gauge(
    'branchgate_neighbour_watch_live',
    "1 while the portal's map of the neighbour table answers requests, 0 while each is asked of the kernel (the watch starting, down, or changes lost); by how it follows the kernel: netlink (the service's own socket) or ip (ip monitor).",
    ['way'],
  )
  const watchEntries = gauge(
    'branchgate_neighbour_watch_entries',
    "Addresses in the portal's map of the neighbour table.",
  )
  // Counters from the watch's own totals, read at each scrape: what grew since the last one.
  const directLookups = new Counter({
    name: 'branchgate_neighbour_direct_lookups_total',
    help: "Portal requests whose device was asked of the kernel because the map could not answer (a phone newer than the kernel's report of it, or the map not live).",
    registers,
  })
  const lostChanges = new Counter({
    name: 'branchgate_neighbour_changes_lost_total',
    help: 'Times the kernel dropped neighbour changes before the watch read them (the map is then read again whole).',
    registers,
  })
  let seenDirect = 0
  let seenLost = 0
  const openVisits = gauge('branchgate_visits_open', 'Visits open now.')
  const outboxEvents = gauge(
    'branchgate_outbox_events',
    'Events for the CRM: pending (waiting to be sent) and parked (refused, waiting for an operator).',
    ['status'],
  )
  const oldestPending = gauge(
    'branchgate_outbox_oldest_pending_age_seconds',
    'Age of the oldest pending event (0 when none).',
  )
  const syncConfigured = gauge(
    'branchgate_sync_configured',
    '1 when a CRM adapter is configured (otherwise events only accumulate).',
  )
  const syncLastSuccess = gauge(
    'branchgate_sync_last_success_timestamp_seconds',
    'When the CRM last acknowledged a batch (0: never).',
  )
  const breaker = gauge(
    'branchgate_sms_breaker_open',
    '1 while the circuit breaker pauses sending codes for everyone.',
  )
  const budgetUsed = gauge('branchgate_sms_budget_used', 'Codes sent since local midnight.')
  const budgetLimit = gauge(
    'branchgate_sms_budget_limit',
    'sms.fraud.dailyBudget (0: no daily budget).',
  )
  const budgetLeft = gauge(
    'branchgate_sms_budget_left',
    'Codes that may still be sent today (absent when there is no daily budget).',
  )
  const blocked = gauge('branchgate_sms_blocked_prefixes', 'Number prefixes blocked right now.')
  const providerFailing = gauge(
    'branchgate_sms_provider_failing',
    "1 when the provider's last error is newer than its last delivery.",
    ['provider'],
  )
  const providerLastError = gauge(
    'branchgate_sms_provider_last_error_timestamp_seconds',
    "When the provider's last error happened, labelled with its kind (one series per provider).",
    ['provider', 'kind'],
  )
  const sqliteBytes = gauge(
    'branchgate_sqlite_bytes',
    'Size of the SQLite database file and of its write-ahead log.',
    ['file'],
  )
  const diskFree = gauge(
    'branchgate_disk_free_bytes',
    'Free bytes (for the service) on the file system of the data folder.',
  )
  const diskSize = gauge('branchgate_disk_size_bytes', 'Size of that file system.')
  const branchOpen = gauge(
    'branchgate_branch_open',
    '1 within branch.openingHours (always 1 when none are configured).',
  )
  const time = gauge(
    'branchgate_time_seconds',
    "The box's clock at the scrape; compared with the scraper's, it tells a clock that is off.",
  )

  if (opts.processMetrics) {
    collectDefaultMetrics({ register: registry })
    // Gauges named like counters: `promtool check metrics` refuses them, and the per-type
    // nodejs_active_handles / _requests / _resources beside them say the same.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      registry.removeSingleMetric(name)
  }

  return {
    metrics,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    update(s) {
      const fw = s.devices.firewall
      allowed.set({ source: 'database' }, s.devices.database)
      if (fw) {
        allowed.set({ source: 'firewall' }, fw.firewall)
        mismatch.set({ kind: 'missing' }, fw.missing)
        mismatch.set({ kind: 'stray' }, fw.stray)
      }
      firewallWay.reset()
      if (s.devices.firewallWay) firewallWay.set({ way: s.devices.firewallWay }, 1)
      firewallCheckedAt.set(fw ? fw.at / 1000 : 0)
      firewallCheckFailing.set(
        s.devices.firewallError !== null && (!fw || s.devices.firewallError.at > fw.at) ? 1 : 0,
      )
      if (s.presence) present.set(s.presence.present)
      watchLive.reset()
      if (s.neighbours) {
        const w = s.neighbours
        watchLive.set({ way: w.way }, w.live ? 1 : 0)
        watchEntries.set(w.entries)
        if (w.directLookups > seenDirect) directLookups.inc(w.directLookups - seenDirect)
        if (w.losses > seenLost) lostChanges.inc(w.losses - seenLost)
        seenDirect = w.directLookups
        seenLost = w.losses
      }
      openVisits.set(s.openVisits)
      outboxEvents.set({ status: 'pending' }, s.outbox.pending)
      outboxEvents.set({ status: 'parked' }, s.outbox.parked)
      oldestPending.set(s.outbox.oldestPendingAgeSeconds ?? 0)
      syncConfigured.set(s.sync.configured ? 1 : 0)
      syncLastSuccess.set(s.sync.lastSuccessAt === null ? 0 : s.sync.lastSuccessAt / 1000)
      breaker.set(s.sms.breakerOpen ? 1 : 0)
      budgetUsed.set(s.sms.budgetUsed)
      budgetLimit.set(s.sms.budgetLimit)
      budgetLeft.reset()
      if (s.sms.budgetLimit > 0) budgetLeft.set(Math.max(0, s.sms.budgetLimit - s.sms.budgetUsed))
      blocked.set(s.sms.blockedPrefixes)
      providerLastError.reset()
      for (const p of s.sms.providers) {
        const provider = providerLabel(p.provider)
        providerFailing.set({ provider }, p.failing ? 1 : 0)
        if (p.lastError)
          providerLastError.set({ provider, kind: p.lastError.kind }, p.lastError.at / 1000)
      }
      sqliteBytes.set({ file: 'database' }, s.storage.databaseBytes)
      sqliteBytes.set({ file: 'wal' }, s.storage.walBytes)
      if (s.storage.diskFreeBytes !== null) diskFree.set(s.storage.diskFreeBytes)
      if (s.storage.diskSizeBytes !== null) diskSize.set(s.storage.diskSizeBytes)
      branchOpen.set(s.branchOpen ? 1 : 0)
      time.set(s.at / 1000)
    },
  }
}
