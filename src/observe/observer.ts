import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import type { HostRules } from '../host-check.js'
import { createSenders } from '../sms/providers.js'
import type { Services } from '../services.js'
import { configHash, versionInfo } from '../version.js'
import { createFirewallCheck, type FirewallCheck } from './firewall-check.js'
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheus.js'
import { observeRoutes } from './routes.js'
import { createStateReader, type NeighbourWatchState } from './state.js'

/** The MACs the database lets through at a time, read as one column (10,000 rows in a few ms). */
export function liveMacsOf(db: Db): (now: number) => string[] {
  const live = db
    .prepare(`SELECT mac FROM authorizations WHERE ended_at IS NULL AND ends_at > @now`)
    .pluck()
  return (now) => live.all({ now }) as string[]
}

/** The configured SMS providers' names, as the failover chain names them (metric labels). */
export function providerNames(config: Config): string[] {
  return [...new Set(createSenders(config.sms.providers).map((s) => s.name))]
}

/**
 * The service's metrics registry (before the services: they report to it). null when
 * `metrics.enabled` is false.
 */
export function createServiceMetrics(
  config: Config,
  opts: { processMetrics?: boolean; providers?: readonly string[] } = {},
): PrometheusMetrics | null {
  if (!config.metrics.enabled) return null
  const v = versionInfo()
  return createPrometheusMetrics({
    providers: opts.providers ?? providerNames(config),
    build: {
      version: v.version,
      branch: config.branch.id,
      configHash: configHash(config),
      node: v.node,
      commit: v.commit,
    },
    processMetrics: opts.processMetrics ?? true,
  })
}

/** The names a listener answers to: the console's rules, or the metrics listener's. */
export function observeHosts(config: Config): HostRules {
  const l = config.metrics.listen ?? config.listen.admin
  return { port: l.port, boundAddress: l.host, names: config.console.hosts }
}

/**
 * What watches the box, once the services exist: the firewall check (a job runs it), the
 * reader of the branch's state, and the /metrics and /readyz routes.
 */
export function createObserver(p: {
  services: Services
  prometheus: PrometheusMetrics
  /** The SQLite file (sizes of it and its WAL, free disk beside it). */
  dbFile: string
  /** The last presence sweep (the service's tracker), when there is one. */
  presence?: () => { present: number; at: number } | null
  /** The portal's neighbour watch, once there is one. */
  neighbours?: () => NeighbourWatchState | null
  /** The port the admin side really listens on (a port of 0 in the config: the bound one). */
  port?: number
}): { firewallCheck: FirewallCheck; routes: ReturnType<typeof observeRoutes> } {
  const { services } = p
  const { config, db, clock } = services
  const firewallCheck = createFirewallCheck({ gate: services.gate, liveMacs: liveMacsOf(db) })
  const state = createStateReader({
    db,
    config,
    clock,
    dbFile: p.dbFile,
    firewall: firewallCheck,
    // Read at each scrape: the gate chooses its way at its first change.
    firewallWay: () => services.gate.way?.() ?? null,
    ...(p.presence ? { presence: p.presence } : {}),
    ...(p.neighbours ? { neighbours: p.neighbours } : {}),
  })
  const hosts = observeHosts(config)
  const routes = observeRoutes({
    config,
    prometheus: p.prometheus,
    state,
    clock,
    hosts: p.port === undefined ? hosts : { ...hosts, port: p.port },
    log: services.log,
  })
  return { firewallCheck, routes }
}
