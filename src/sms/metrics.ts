import type { Clock } from '../clock.js'
import type { Riders } from '../db/riders.js'
import type { AttemptRow, SmsStatements } from '../db/sms.js'
import type { SendAttempt } from './sender.js'

/** Per-provider figures over a window. Latencies in milliseconds, of every try (sent or not). */
export interface ProviderStats {
  provider: string
  sent: number
  failed: number
  /** Refused because the number cannot receive it (not the provider's fault). */
  unreachable: number
  p50Ms: number | null
  p95Ms: number | null
}

/**
 * Records every provider try in sms_attempts, and a failed one as its provider's last error;
 * the failover chain calls it. Never throws.
 * Tries are figures for the status pages: they are written together, one commit per event-loop
 * turn, after the sends of that turn, rather than one commit each inside every login. With
 * `riders`, they go in the connection's next commit if one comes first: the one that records who
 * delivered the code (issue 20: one commit less per code sent).
 */
export function attemptRecorder(
  sms: SmsStatements,
  clock: Clock,
  log: (line: string) => void,
  later: (flush: () => void) => void = setImmediate,
  riders?: Riders,
) {
  const queue: AttemptRow[] = []
  const flush = () => {
    // Written already by a commit that took them along.
    if (queue.length === 0) return
    const rows = queue.splice(0)
    try {
      sms.recordAttempts(rows)
    } catch (err) {
      log(`sms: could not record ${rows.length} provider tries: ${(err as Error).message}`)
    }
  }
  return (a: SendAttempt): void => {
    if (a.outcome === 'failed') {
      // The detail is the provider's answer with the number masked (never the request).
      log(
        `sms: ${a.provider} failed after ${Math.round(a.latencyMs)} ms` +
          `${a.kind ? ` (${a.kind})` : ''}: ${a.detail ?? 'no detail'}`,
      )
    }
    if (queue.length === 0) {
      later(flush)
      riders?.add(flush)
    }
    queue.push({
      at: clock.now(),
      provider: a.provider,
      channel: a.channel,
      outcome: a.outcome,
      latency_ms: Math.round(a.latencyMs * 10) / 10,
      detail: a.detail?.slice(0, 300) ?? null,
      kind: a.kind ?? null,
    })
  }
}

/** Sent, failed and latency percentiles per provider since `since` (epoch ms). */
export function providerStats(sms: SmsStatements, since: number): ProviderStats[] {
  const by = new Map<
    string,
    { sent: number; failed: number; unreachable: number; latencies: number[] }
  >()
  // Rows come sorted by provider, then latency: the percentiles need no further sort.
  for (const r of sms.attemptsSince(since)) {
    let s = by.get(r.provider)
    if (!s) by.set(r.provider, (s = { sent: 0, failed: 0, unreachable: 0, latencies: [] }))
    s[r.outcome]++
    s.latencies.push(r.latency_ms)
  }
  return [...by].map(([provider, s]) => ({
    provider,
    sent: s.sent,
    failed: s.failed,
    unreachable: s.unreachable,
    p50Ms: percentile(s.latencies, 0.5),
    p95Ms: percentile(s.latencies, 0.95),
  }))
}

/** Nearest-rank percentile of an ascending list; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)))
  return sorted[rank - 1]!
}

/** Days of provider tries and ended holds kept: enough for a month of figures and audits. */
export const SMS_RECORDS_DAYS = 90

/**
 * The body of a daily job (`{ name: 'sms-prune', schedule: '17 3 * * *', run }`): forgets provider
 * tries and ended holds older than SMS_RECORDS_DAYS. Returns the rows removed.
 */
export function pruneSmsRecords(sms: SmsStatements, now: number): number {
  return sms.prune(now - SMS_RECORDS_DAYS * 86_400_000)
}
