import { statSync, statfsSync } from 'node:fs'
import path from 'node:path'
import { closingTime } from '../access/session-policy.js'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import { outboxStatements } from '../db/outbox.js'
import type { GateWay } from '../gate/gate.js'
import { smsStatements } from '../db/sms.js'
import type { SmsFailureKind } from '../errors.js'
import { providerHealth } from '../sms/status.js'
import { startOfLocalDay } from '../time.js'
import type { FirewallCheck, FirewallReading } from './firewall-check.js'

/**
 * What the branch is like right now: the state gauges of /metrics and the readiness view read
 * one of these. Counts come from SQLite (indexed COUNTs, no row lists), the firewall's side
 * from the last firewall check, presence from the last sweep.
 */
export interface BranchState {
  at: number
  devices: {
    /** Let through by the database now. */
    database: number
    /** The last firewall check, or null before the first. */
    firewall: FirewallReading | null
    /** The last failure to read the firewall's set, or null. */
    firewallError: { at: number; message: string } | null
    /** What makes the firewall's changes (nftables, once the first was made), or null. */
    firewallWay: GateWay | null
  }
  /** Devices with a sign of life at the last presence sweep, or null before the first. */
  presence: { present: number; at: number } | null
  /** The portal's neighbour watch, when the service runs one. */
  neighbours: NeighbourWatchState | null
  openVisits: number
  outbox: {
    pending: number
    parked: number
    /** Seconds since the oldest pending event happened; null when nothing is pending. */
    oldestPendingAgeSeconds: number | null
  }
  sync: {
    /** A CRM adapter is configured (`sync.adapter.type` is not none). */
    configured: boolean
    lastSuccessAt: number | null
    lastErrorAt: number | null
  }
  sms: {
    breakerOpen: boolean
    /** Codes sent since local midnight. */
    budgetUsed: number
    /** `sms.fraud.dailyBudget`; 0: no budget. */
    budgetLimit: number
    blockedPrefixes: number
    providers: Array<{
      provider: string
      failing: boolean
      lastError: { at: number; kind: SmsFailureKind } | null
    }>
  }
  storage: {
    databaseBytes: number
    walBytes: number
    /** Free and total bytes of the data folder's file system; null when unreadable. */
    diskFreeBytes: number | null
    diskSizeBytes: number | null
  }
  /** Within `branch.openingHours` now (true when none are configured). */
  branchOpen: boolean
}

/** The portal's map of the neighbour table (src/gate/neighbours.ts), as the metrics show it. */
export interface NeighbourWatchState {
  /** How it follows the kernel: the service's own netlink socket, or `ip monitor`. */
  way: 'netlink' | 'ip'
  /** The map answers requests (false: starting, down, or changes were lost: the kernel answers). */
  live: boolean
  /** Addresses in the map. */
  entries: number
  /** Requests whose device was asked of the kernel because the map could not answer, so far. */
  directLookups: number
  /** Times the kernel dropped changes before the watch read them, so far. */
  losses: number
}

export interface StateDeps {
  db: Db
  config: Config
  clock: Clock
  /** The SQLite file (its `-wal` beside it). */
  dbFile: string
  firewall: FirewallCheck
  /** The last presence sweep's figure, when the service runs one. */
  presence?: () => { present: number; at: number } | null
  /** What makes the firewall's changes (the gate's `way`), when the gate says. */
  firewallWay?: () => GateWay | null
  /** The neighbour watch's state, when the service runs one. */
  neighbours?: () => NeighbourWatchState | null
}

const sizeOf = (file: string): number => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

/** A reader of the branch's state, its statements prepared once. */
export function createStateReader(deps: StateDeps): { read(): BranchState } {
  const { db, config, clock } = deps
  const liveCount = db.prepare(
    `SELECT count(*) AS n FROM authorizations WHERE ended_at IS NULL AND ends_at > @now`,
  )
  const openVisits = db.prepare(`SELECT count(*) AS n FROM visits WHERE ended_at IS NULL`)
  const outbox = outboxStatements(db)
  const sms = smsStatements(db)
  const tz = config.branch.timeZone
  const dir = path.dirname(deps.dbFile)
  return {
    read() {
      const now = clock.now()
      const counts = outbox.counts()
      const syncState = outbox.state()
      const holds = sms.activeHolds(now)
      let disk: { free: number; size: number } | null = null
      try {
        const s = statfsSync(dir)
        disk = { free: s.bavail * s.bsize, size: s.blocks * s.bsize }
      } catch {
        disk = null
      }
      return {
        at: now,
        devices: {
          database: (liveCount.get({ now }) as { n: number }).n,
          firewall: deps.firewall.last(),
          firewallError: deps.firewall.lastError(),
          firewallWay: deps.firewallWay?.() ?? null,
        },
        presence: deps.presence?.() ?? null,
        neighbours: deps.neighbours?.() ?? null,
        openVisits: (openVisits.get() as { n: number }).n,
        outbox: {
          pending: counts.pending,
          parked: counts.parked,
          oldestPendingAgeSeconds:
            counts.oldestPendingAt === null
              ? null
              : Math.max(0, (now - counts.oldestPendingAt) / 1000),
        },
        sync: {
          configured: config.sync.adapter.type !== 'none',
          lastSuccessAt: syncState.last_success_at,
          lastErrorAt: syncState.last_error_at,
        },
        sms: {
          breakerOpen: holds.some((h) => h.scope === 'branch'),
          budgetUsed: sms.sentSince(startOfLocalDay(now, tz) - 1),
          budgetLimit: config.sms.fraud.dailyBudget,
          blockedPrefixes: holds.filter((h) => h.scope === 'prefix').length,
          providers: providerHealth(sms, config).map((p) => ({
            provider: p.provider,
            failing: p.failing,
            lastError: p.lastError ? { at: p.lastError.at, kind: p.lastError.kind } : null,
          })),
        },
        storage: {
          databaseBytes: sizeOf(deps.dbFile),
          walBytes: sizeOf(`${deps.dbFile}-wal`),
          diskFreeBytes: disk?.free ?? null,
          diskSizeBytes: disk?.size ?? null,
        },
        branchOpen:
          config.branch.openingHours === null ||
          closingTime(now, config.branch.openingHours, tz) !== null,
      }
    },
  }
}
