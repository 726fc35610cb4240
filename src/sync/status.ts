import type { SyncStatusSource } from '../console/ports.js'
import type { Db } from '../db/open.js'
import { outboxStatements } from '../db/outbox.js'

/** What `branchgate sync --status` and the manager console show. Times are epoch ms (UTC). */
export interface SyncStatus {
  /** Events waiting to be sent. */
  pending: number
  /** When the oldest pending event happened, or null. */
  oldestPendingAt: number | null
  /** Milliseconds since then, or null when nothing is pending. */
  oldestPendingAgeMs: number | null
  /** Last time the CRM acknowledged a batch, or null if never. */
  lastSuccessAt: number | null
  /** The last failure (transient or a refusal), or null. */
  lastError: string | null
  lastErrorAt: number | null
  /** Events the CRM refused; they wait for `branchgate sync --retry-failed`. */
  parked: number
  /** When the next try is due after a failure, or null when not backing off. */
  nextAttemptAt: number | null
  /** Last time a run started, and with which adapter. */
  lastRunAt: number | null
  adapter: string | null
  /** Whether a run holds the lease right now. */
  running: boolean
}

export function syncStatus(db: Db, now: number): SyncStatus {
  const s = outboxStatements(db)
  const c = s.counts()
  const st = s.state()
  return {
    pending: c.pending,
    oldestPendingAt: c.oldestPendingAt,
    oldestPendingAgeMs: c.oldestPendingAt === null ? null : Math.max(0, now - c.oldestPendingAt),
    lastSuccessAt: st.last_success_at,
    lastError: st.last_error,
    lastErrorAt: st.last_error_at,
    parked: c.parked,
    nextAttemptAt: st.next_attempt_at > now ? st.next_attempt_at : null,
    lastRunAt: st.last_run_at,
    adapter: st.adapter,
    running: st.lease_owner !== null && (st.lease_until ?? 0) > now,
  }
}

/** Parked events with the CRM's answer, oldest first, for the console. */
export function parkedEvents(db: Db, limit = 100) {
  return outboxStatements(db)
    .parked(limit)
    .map((r) => ({
      id: r.id,
      type: r.type,
      occurredAt: r.occurred_at,
      parkedAt: r.parked_at,
      attempts: r.attempts,
      error: r.last_error,
      response: r.response,
    }))
}

/** "3 h 12 min", "45 s": an age for people. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

/**
 * Queues every parked event again (after the cause was fixed) and lifts the backoff, so the next
 * run sends them. Returns how many. What `branchgate sync --retry-failed` and the console call.
 */
export function retryParkedEvents(db: Db): number {
  const s = outboxStatements(db)
  return db.transaction(() => {
    const n = s.requeueParked()
    if (n > 0) s.clearBackoff()
    return n
  })()
}

/**
 * The console's sync panel source (`SyncStatusSource` of src/console/ports.ts): null when no CRM
 * is configured, else the figures of `syncStatus` and the parked events (first 500).
 */
export function consoleSyncSource(db: Db, configured: boolean): SyncStatusSource {
  return {
    status(now) {
      if (!configured) return null
      const s = syncStatus(db, now)
      return {
        pending: s.pending,
        oldestPendingAt: s.oldestPendingAt,
        lastSuccessAt: s.lastSuccessAt,
        lastError:
          s.lastError !== null && s.lastErrorAt !== null
            ? { at: s.lastErrorAt, message: s.lastError }
            : null,
        parked: parkedEvents(db, 500).map((p) => ({
          id: p.id,
          kind: p.type,
          createdAt: p.occurredAt,
          attempts: p.attempts,
          lastResponse: p.response ?? p.error,
        })),
      }
    },
  }
}
