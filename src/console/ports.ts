import type { ErasureNotifier } from '../customers/erasure.js'
import type { SmsHealth } from '../sms/status.js'
/**
 * What the console needs from other features, as small doors the composition root fills in.
 * Both have no-op defaults so the console runs before those features are wired.
 */

/** The CRM sync's state as the sync panel shows it. */
export interface SyncStatus {
  /** Events waiting to be sent. */
  pending: number
  /** When the oldest waiting event was queued (UTC ms), or null. */
  oldestPendingAt: number | null
  lastSuccessAt: number | null
  lastError: { at: number; message: string } | null
  /** Events given up on after repeated failures, with the CRM's last answer. */
  parked: Array<{
    id: string
    kind: string
    createdAt: number
    attempts: number
    lastResponse: string | null
  }>
}

/** Where the sync panel reads from (the sync feature's `syncStatus(db, now)`). */
export interface SyncStatusSource {
  /** Null when no CRM sync is configured. */
  status(now: number): SyncStatus | null
}

export const noSync: SyncStatusSource = { status: () => null }

export type { CustomerBlocked, CustomerDeleted, ErasureNotifier } from '../customers/erasure.js'

export const noErasureNotifier: ErasureNotifier = {
  customerBlocked: () => {},
  customerDeleted: () => {},
}

/**
 * Whether the portal can text codes and how each provider does: the SMS feature's smsHealth()
 * (circuit breaker, daily budget, blocked prefixes; per provider sent, failed, p50/p95 latency).
 */
export type SmsStats = SmsHealth

/** Where the status page reads the SMS figures from. */
export interface SmsStatsSource {
  /** Null when the SMS feature keeps no figures. */
  stats(now: number): SmsStats | null
}

export const noSmsStats: SmsStatsSource = { stats: () => null }
