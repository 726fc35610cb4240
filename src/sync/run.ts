import { createHash, createHmac, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Clock } from '../clock.js'
import type { SyncConfig } from './config.js'
import type { Db } from '../db/open.js'
import { outboxStatements, type OutboxRow } from '../db/outbox.js'
import { opaqueId } from '../ids.js'
import { noMetrics, secondsSince, type Metrics } from '../observe/metrics.js'
import { retryParkedEvents } from './status.js'
import { subjectDigest } from './outbox.js'
import { clip, isContentRejection, type Batch, type CrmAdapter, type WireEvent } from './adapter.js'

/**
 * One sync run: drain due events in order, in batches, marking each delivered only after the CRM
 * acknowledged it. Runs never overlap: an in-process lock, and a lease row in SQLite so that
 * `branchgate sync` and the service (two processes) cannot overlap either.
 *
 * Crash safety: an event leaves `pending` only in the transaction that records the CRM's answer.
 * Killed mid-batch, the batch is sent again (same batch id, same event ids): at-least-once
 * delivery, and the receiver's de-duplication by event id makes it exactly-once.
 */

export type RunResult =
  /** No CRM configured: events accumulate. */
  | { status: 'no-adapter'; pending: number }
  /** Another run (here or in another process) holds the lease. */
  | { status: 'busy'; holder: string }
  /** A transient failure asked to wait; nothing was tried. */
  | { status: 'backing-off'; until: number }
  | { status: 'done'; delivered: number; parked: number; retried: number; batches: number }
  | {
      status: 'failed'
      delivered: number
      parked: number
      retried: number
      batches: number
      error: string
      nextAttemptAt: number
    }

export interface SyncRunnerDeps {
  db: Db
  /** null when `sync.adapter.type` is none. */
  adapter: CrmAdapter | null
  clock: Clock
  config: Pick<
    SyncConfig,
    'timeoutMs' | 'batchMaxEvents' | 'batchMaxBytes' | 'backoffBaseMs' | 'backoffCapMs'
  > & {
    /**
     * Hours a delivered event (ids and digests only) is kept: sync.keepDeliveredHours, else
     * privacy.retention.deliveredEventsDays (src/sync/build.ts); default 168.
     */
    keepDeliveredHours?: number | undefined
  }
  branchId: string
  log: (line: string) => void
  /** [0, 1); tests pass a fixed one. */
  random?: () => number
  /** Whether a lease holder on this host is still running; default asks the kernel. */
  isAlive?: (pid: number) => boolean
  /**
   * Key of the digests a delivered event keeps instead of its payload (see redactDelivered);
   * default: a random one per process (digests then match nothing later, which is still safe).
   */
  redactKey?: Buffer
  /** Each batch timed by outcome; default: nowhere. */
  metrics?: Metrics
}

/**
 * What a delivered event keeps (issue 15): the CRM acknowledged it, so the payload (names,
 * numbers) is no longer needed. It becomes `{"redacted":true,"digest":"hmac-sha256:…"}`, a keyed
 * hash of exactly what was sent (support can check a payload the CRM shows against it without the
 * branch keeping it), and the subject (`customer:+52…`) becomes `h:` and its keyed hash. Keyed:
 * a plain SHA-256 of a phone number is reversed by trying every number.
 */
export function redactDelivered(
  s: Pick<ReturnType<typeof outboxStatements>, 'redact'>,
  rows: ReadonlyArray<{ seq: number; subject: string | null; payload: string }>,
  key: Buffer,
): number {
  const r = eventRedactor(key)
  for (const row of rows) s.redact(row.seq, r.payload(row.payload), r.subject(row.subject))
  return rows.length
}

/**
 * The digests of redactDelivered, with the subjects' remembered: a run delivers many events of
 * the same customer, and each HMAC costs a few microseconds (issue 20).
 */
export function eventRedactor(key: Buffer) {
  const digest = (text: string) => createHmac('sha256', key).update(text).digest('hex')
  const subjects = new Map<string, string>()
  return {
    /** `{"redacted":true,"digest":"hmac-sha256:…"}` of exactly what was sent. */
    payload: (payload: string) => `{"redacted":true,"digest":"hmac-sha256:${digest(payload)}"}`,
    subject(subject: string | null): string | null {
      if (subject === null || subject.startsWith('h:')) return subject
      let h = subjects.get(subject)
      if (h === undefined) {
        // Bounded: a long run over many customers forgets the oldest digests wholesale.
        if (subjects.size >= 10_000) subjects.clear()
        h = subjectDigest(key, subject)
        subjects.set(subject, h)
      }
      return h
    },
  }
}

export interface SyncRunner {
  /** One run. `force` ignores the backoff (an operator's `branchgate sync`). */
  run(opts?: { force?: boolean }): Promise<RunResult>
  /** Re-queues parked events (after the cause was fixed); returns how many. */
  retryParked(): number
  /** Finishes the batch in flight, then stops; later runs return 'busy'. */
  stop(): Promise<void>
}

/** The batch id: a hash of its event ids, so a retried batch keeps its id (and webhook-id). */
export function batchIdOf(eventIds: readonly string[]): string {
  return `batch_${createHash('sha256').update(eventIds.join('\n')).digest('hex').slice(0, 32)}`
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base · 2^failures)). */
export function backoffMs(
  failures: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  const window = Math.min(capMs, baseMs * 2 ** Math.min(failures, 40))
  return Math.floor(random() * window)
}

/** How long a renewed run lease is trusted without asking SQLite again; far below any lease. */
const LEASE_RECHECK_MS = 1000

/** Retry-After beyond this is taken as a misconfiguration and clamped. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000

export function wireEvent(
  row: Pick<
    OutboxRow,
    'seq' | 'id' | 'type' | 'branch_id' | 'schema_version' | 'occurred_at' | 'subject' | 'payload'
  > & { attempts?: number },
): WireEvent {
  const occurredAt = new Date(row.occurred_at).toISOString()
  return {
    seq: row.seq,
    id: row.id,
    type: row.type,
    schemaVersion: row.schema_version,
    branchId: row.branch_id,
    occurredAt: row.occurred_at,
    attempts: row.attempts ?? 0,
    subject: row.subject,
    data: row.payload,
    json: `{"id":${JSON.stringify(row.id)},"type":${JSON.stringify(row.type)},"schemaVersion":${row.schema_version},"branchId":${JSON.stringify(row.branch_id)},"occurredAt":"${occurredAt}","data":${row.payload}}`,
  }
}

function defaultIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

type DeliveryOutcome = Awaited<ReturnType<CrmAdapter['deliver']>>

export function createSyncRunner(deps: SyncRunnerDeps): SyncRunner {
  const { db, clock, config, log } = deps
  const s = outboxStatements(db)
  const random = deps.random ?? Math.random
  const redactKey = deps.redactKey ?? randomBytes(32)
  const redactor = eventRedactor(redactKey)
  const isAlive = deps.isAlive ?? defaultIsAlive
  const metrics = deps.metrics ?? noMetrics
  const host = hostname()
  const owner = `${host}:${process.pid}:${opaqueId()}`
  // Long enough for the slowest batch (Salesforce: token + two calls, each with its timeout).
  const leaseMs = 4 * config.timeoutMs + 10_000
  // No wait this runner sets reaches further; a later retry time means the clock jumped back.
  const horizonMs = Math.max(config.backoffCapMs, MAX_RETRY_AFTER_MS) + 60_000
  let current: Promise<RunResult> | null = null
  let stopping = false

  const holderGone = (holder: string) => {
    const [h, pid] = holder.split(':')
    return h === host && Number.isInteger(Number(pid)) && !isAlive(Number(pid))
  }

  const acquire = db.transaction((now: number): string | null => {
    const st = s.state()
    if (
      st.lease_owner &&
      st.lease_owner !== owner &&
      (st.lease_until ?? 0) > now &&
      !holderGone(st.lease_owner)
    ) {
      return st.lease_owner
    }
    s.takeLease(owner, now + leaseMs)
    return null
  })

  /**
   * Whether some pending event waits for its own retry, so that the later events of its subject
   * wait too: set at the start of a run and by every retry this run records. While it is false,
   * the next batch is read with a range of the pending index (no per-event look at the subject's
   * earlier events), and read while the previous request is still in flight.
   */
  let waiting = true

  function nextBatch(dueAt: number, after = 0): WireEvent[] {
    const events: WireEvent[] = []
    // Room for the request's own envelope (type, timestamp, batch and branch ids).
    let bytes = 256
    for (const row of s.due(dueAt, dueAt + horizonMs, config.batchMaxEvents, after, !waiting)) {
      const e = wireEvent(row)
      const size = Buffer.byteLength(e.json) + 1
      if (events.length > 0 && bytes + size > config.batchMaxBytes) break
      events.push(e)
      bytes += size
    }
    return events
  }

  const recordAck = db.transaction(
    (
      events: WireEvent[],
      outcome: Extract<Awaited<ReturnType<CrmAdapter['deliver']>>, { kind: 'acked' }>,
      now: number,
    ) => {
      const tally = { delivered: 0, parked: 0, retried: 0 }
      const results = new Map((outcome.events ?? []).map((r) => [r.id, r]))
      const delivered: WireEvent[] = []
      // Once an event of a subject waits for a retry, the later ones of that subject wait with it,
      // so the CRM ends with them applied in order (upserts sent again are harmless).
      const held = new Set<string>()
      for (const e of events) {
        let r = results.get(e.id)
        if (e.subject !== null && held.has(e.subject) && (!r || r.result === 'delivered')) {
          r = {
            id: e.id,
            result: 'retry',
            error: 'held back behind an earlier event of the same subject',
          }
        }
        if (r?.result === 'retry' && e.subject !== null) held.add(e.subject)
        if (!r || r.result === 'delivered') {
          delivered.push(e)
        } else if (r.result === 'retry') {
          s.markFailed(
            [e.seq],
            r.error,
            now + 1 + backoffMs(e.attempts, config.backoffBaseMs, config.backoffCapMs, random),
          )
          tally.retried++
          waiting = true
        } else {
          s.park(e.seq, r.error, r.response, now)
          tally.parked++
          log(`sync: parked ${e.type} ${e.id}: ${clip(r.error, 300)}`)
        }
      }
      if (results.size > 0) {
        const sent = new Set(events.map((e) => e.id))
        for (const id of results.keys())
          if (!sent.has(id)) log(`sync: the CRM answered for unknown event ${id}`)
      }
      // Delivered and redacted in one write per row: the CRM has it, the branch keeps digests.
      // Rows whose subject is already its digest (all written since subjects are stored hashed)
      // go in one statement; an older plain subject is re-keyed row by row.
      const kept: Array<{ seq: number; payload: string }> = []
      for (const e of delivered) {
        const subject = redactor.subject(e.subject)
        // The digest of exactly the text sent (e.data went into the request as it is).
        if (subject === e.subject) kept.push({ seq: e.seq, payload: redactor.payload(e.data) })
        else
          tally.delivered += s.deliverRedacted(
            e.seq,
            now,
            redactor.payload(e.data),
            subject,
            e.subject,
          )
      }
      if (kept.length) tally.delivered += s.deliverBatch(kept, now)
      s.succeeded(now)
      return tally
    },
  )

  const parkAll = db.transaction(
    (events: WireEvent[], error: string, response: string | null, now: number) => {
      for (const e of events) s.park(e.seq, error, response, now)
    },
  )

  async function drain(force: boolean): Promise<RunResult> {
    const adapter = deps.adapter
    const startedAt = clock.now()
    if (!adapter) return { status: 'no-adapter', pending: s.counts().pending }
    const st = s.state()
    if (!force && st.next_attempt_at > startedAt && st.next_attempt_at <= startedAt + horizonMs)
      return { status: 'backing-off', until: st.next_attempt_at }
    const holder = acquire.immediate(startedAt)
    if (holder) return { status: 'busy', holder }
    s.runStarted(startedAt, adapter.name)
    // A batch can outlast the lease (several Salesforce calls, each with its own timeout): keep
    // renewing it while the run lives, so another process never takes over a live run.
    const heartbeat = setInterval(
      () => s.renewLease(owner, clock.now() + leaseMs),
      Math.max(1000, leaseMs / 4),
    )
    heartbeat.unref()
    const tally = { delivered: 0, parked: 0, retried: 0, batches: 0 }
    // Sub-batches of a batch the CRM refused for its content, sent apart to find the bad events.
    const split: WireEvent[][] = []
    waiting = s.anyWaiting(startedAt, startedAt + horizonMs)
    type InFlight = { events: WireEvent[]; t0: number; answer: Promise<DeliveryOutcome> }
    const send = (events: WireEvent[]): InFlight => {
      const batch: Batch = {
        id: batchIdOf(events.map((e) => e.id)),
        branchId: deps.branchId,
        events,
      }
      const t0 = performance.now()
      const answer = adapter.deliver(batch).catch((err: unknown): DeliveryOutcome => ({
        kind: 'transient',
        error: `${adapter.name}: ${(err as Error).message}`,
        retryAfterMs: null,
      }))
      return { events, t0, answer }
    }
    // Checked before every request, written at most once a second (issue 20: a write and a
    // commit per batch): while the last renewal is that recent, most of the lease is left, and
    // another process only takes a lease that ran out or whose holder on this host is gone.
    let renewedAt = startedAt
    const leaseKept = () => {
      const now = clock.now()
      if (now >= renewedAt && now - renewedAt < LEASE_RECHECK_MS) return true
      if (s.renewLease(owner, now + leaseMs)) {
        renewedAt = now
        return true
      }
      log('sync: lost the run lease to another process; stopping this run')
      return false
    }
    let inFlight: InFlight | null = null
    // The next batch, read while the previous request was in flight (issue 20: the CRM's work
    // and ours overlap). Only used when that request's answer holds no event back.
    let prefetched: WireEvent[] | null = null
    try {
      while (inFlight || !stopping) {
        if (!inFlight) {
          if (!leaseKept()) break
          // Only events due when the run started: one retried inside this run waits for the next.
          const events = split.shift() ?? prefetched ?? nextBatch(startedAt)
          prefetched = null
          if (events.length === 0) break
          inFlight = send(events)
        }
        const current: InFlight = inFlight
        inFlight = null
        if (split.length === 0 && !waiting && !stopping)
          prefetched = nextBatch(startedAt, current.events.at(-1)!.seq)
        const outcome = await current.answer
        metrics.timing({ op: 'sync', outcome: outcome.kind }, secondsSince(current.t0))
        tally.batches++
        const now = clock.now()
        if (outcome.kind === 'acked') {
          // Nothing of this batch waits for a retry, so nothing later is held back: the next
          // request goes out before this answer is written down (a crash in between sends both
          // again, and the receiver de-duplicates by event id).
          const holdsNone = !(outcome.events ?? []).some((r) => r.result === 'retry')
          if (holdsNone && prefetched && prefetched.length > 0 && !stopping && leaseKept()) {
            inFlight = send(prefetched)
            prefetched = null
          }
          const t = recordAck(current.events, outcome, now)
          tally.delivered += t.delivered
          tally.parked += t.parked
          tally.retried += t.retried
          if (!holdsNone) prefetched = null
          continue
        }
        prefetched = null
        const events = current.events
        if (outcome.kind === 'rejected') {
          if (isContentRejection(outcome.status) && events.length > 1) {
            const half = Math.ceil(events.length / 2)
            split.unshift(events.slice(0, half), events.slice(half))
            continue
          }
          parkAll(events, outcome.error, outcome.response, now)
          tally.parked += events.length
          log(
            `sync: parked ${events.length} event(s) (${events[0]!.type} ${events[0]!.id}…): ${clip(outcome.error, 300)}`,
          )
          s.noteError(outcome.error, now)
        } else {
          const failures = s.state().consecutive_failures
          const wait =
            outcome.retryAfterMs !== null
              ? Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS)
              : backoffMs(failures, config.backoffBaseMs, config.backoffCapMs, random)
          const nextAttemptAt = now + wait
          db.transaction(() => {
            s.markFailed(
              events.map((e) => e.seq),
              outcome.error,
              0,
            )
            s.failed(outcome.error, now, nextAttemptAt)
          })()
          log(
            `sync: ${outcome.error}; ${s.counts().pending} pending, next try in ${wait < 10_000 ? `${wait} ms` : `${Math.ceil(wait / 1000)} s`}`,
          )
          return { status: 'failed', ...tally, error: outcome.error, nextAttemptAt }
        }
      }
      s.prune(clock.now() - (config.keepDeliveredHours ?? 168) * 3_600_000)
      if (tally.batches > 0) {
        log(
          `sync: delivered ${tally.delivered}, parked ${tally.parked}, retrying ${tally.retried} in ${tally.batches} request(s)`,
        )
      }
      return { status: 'done', ...tally }
    } finally {
      clearInterval(heartbeat)
      s.releaseLease(owner)
    }
  }

  return {
    run(opts = {}) {
      if (stopping) return Promise.resolve({ status: 'busy', holder: 'stopping' })
      if (current) return Promise.resolve({ status: 'busy', holder: owner })
      current = drain(opts.force ?? false).finally(() => {
        current = null
      })
      return current
    },
    retryParked: () => retryParkedEvents(db),
    async stop() {
      stopping = true
      await current?.catch(() => undefined)
    },
  }
}
