import type { Db } from './open.js'

export type OutboxStatus = 'pending' | 'delivered' | 'parked'

export interface OutboxRow {
  seq: number
  id: string
  type: string
  branch_id: string
  schema_version: number
  occurred_at: number
  subject: string | null
  payload: string
  status: OutboxStatus
  attempts: number
  next_attempt_at: number
  last_error: string | null
  response: string | null
  delivered_at: number | null
  parked_at: number | null
}

/** A due event as the sync run reads it (outboxStatements().due). */
export type DueRow = Pick<
  OutboxRow,
  | 'seq'
  | 'id'
  | 'type'
  | 'branch_id'
  | 'schema_version'
  | 'occurred_at'
  | 'subject'
  | 'payload'
  | 'attempts'
>

export interface SyncStateRow {
  lease_owner: string | null
  lease_until: number | null
  consecutive_failures: number
  next_attempt_at: number
  last_run_at: number | null
  last_success_at: number | null
  last_error: string | null
  last_error_at: number | null
  adapter: string | null
}

/** Prepared statements over outbox_events and sync_state. Lists of seqs travel as JSON arrays. */
export function outboxStatements(db: Db) {
  const insert = db.prepare(
    `INSERT INTO outbox_events (id, type, branch_id, schema_version, occurred_at, subject, payload)
     VALUES (@id, @type, @branchId, @schemaVersion, @occurredAt, @subject, @payload)`,
  )
  const forgetSubject = db.prepare(`DELETE FROM outbox_events WHERE subject = @subject`)
  // A hashed subject is also what delivered events keep: those (ids and digests) stay.
  const forgetUndelivered = db.prepare(
    `DELETE FROM outbox_events WHERE subject = @subject AND status <> 'delivered'`,
  )
  // Due pending events in order, except those queued behind an earlier event of the same
  // subject that waits for its own retry: per-subject order is never broken. A retry time past
  // @horizon cannot have been set by this clock (it jumped back, e.g. a mini-PC booting without
  // its RTC): such events count as due rather than waiting for years.
  const due = db
    .prepare(
      `SELECT seq, id, type, branch_id, schema_version, occurred_at, subject, payload, attempts
     FROM outbox_events e
     WHERE status = 'pending' AND (next_attempt_at <= @now OR next_attempt_at > @horizon)
       AND (subject IS NULL OR NOT EXISTS (
         SELECT 1 FROM outbox_events b
         WHERE b.status = 'pending' AND b.subject = e.subject AND b.seq < e.seq
           AND b.next_attempt_at > @now AND b.next_attempt_at <= @horizon))
       AND seq > @after
     ORDER BY seq LIMIT @limit`,
    )
    .raw(true)
  // The same when no pending event waits for a retry (so none can hold another back): a range
  // of the pending index, without the per-row look at the subject's earlier events (issue 20).
  const dueNoneWaiting = db
    .prepare(
      `SELECT seq, id, type, branch_id, schema_version, occurred_at, subject, payload, attempts
     FROM outbox_events
     WHERE status = 'pending' AND (next_attempt_at <= @now OR next_attempt_at > @horizon)
       AND seq > @after
     ORDER BY seq LIMIT @limit`,
    )
    .raw(true)
  // Answered by outbox_waiting (migration 020), whose WHERE clause its own repeats word for word
  // (SQLite uses a partial index only for a query that states the index's condition).
  const anyWaiting = db.prepare(
    `SELECT 1 FROM outbox_events
     WHERE status = 'pending' AND next_attempt_at > 0
       AND next_attempt_at > @now AND next_attempt_at <= @horizon LIMIT 1`,
  )
  // Delivered and redacted in one write of the row (issue 20: was an UPDATE, a re-read with
  // json_extract and a second UPDATE per event).
  const deliverOne = db.prepare(
    `UPDATE outbox_events SET status = 'delivered', delivered_at = @now, attempts = attempts + 1,
       last_error = NULL, response = NULL, payload = @payload, subject = @subject
     WHERE status = 'pending' AND seq = @seq`,
  )
  // The same for a row whose subject is already its digest (every row written since subjects are
  // stored hashed): `subject` is not in the SET list, so SQLite leaves outbox_by_subject alone.
  // Named there, even with an equal value, the entry is deleted and inserted again: a random
  // page of that index per event (issue 20: most of the pages a drain wrote).
  const deliverKept = db.prepare(
    `UPDATE outbox_events SET status = 'delivered', delivered_at = @now, attempts = attempts + 1,
       last_error = NULL, response = NULL, payload = @payload
     WHERE status = 'pending' AND seq = @seq`,
  )
  // A batch's acknowledged events whose subject is already a digest, in one statement (issue 20:
  // was a statement per event). The new payloads come as one JSON object, seq to payload, read by
  // json_each: no SQL function in the statement. A function call (as the digest was, computed by
  // a JS callback) or an ABORT constraint check makes SQLite keep a statement journal, a copy of
  // every page the statement changes (a batch's ~25 pages spill it to a temporary file): ~8 % of
  // an acknowledgement's CPU. OR FAIL needs none, and a failure still undoes everything, since
  // the statement runs inside the acknowledgement's transaction, which rolls back whole.
  const deliverMany = db.prepare(
    `UPDATE OR FAIL outbox_events SET status = 'delivered', delivered_at = @now,
       attempts = attempts + 1, last_error = NULL, response = NULL, payload = a.value
     FROM json_each(@payloads) AS a
     WHERE outbox_events.seq = a.key AND outbox_events.status = 'pending'`,
  )
  const markFailed = db.prepare(
    `UPDATE outbox_events SET attempts = attempts + 1, last_error = @error,
       next_attempt_at = MAX(next_attempt_at, @nextAttemptAt)
     WHERE status = 'pending' AND seq IN (SELECT value FROM json_each(@seqs))`,
  )
  const park = db.prepare(
    `UPDATE outbox_events SET status = 'parked', parked_at = @now, attempts = attempts + 1,
       last_error = @error, response = @response
     WHERE status = 'pending' AND seq = @seq`,
  )
  const requeueParked = db.prepare(
    `UPDATE outbox_events SET status = 'pending', parked_at = NULL, next_attempt_at = 0
     WHERE status = 'parked'`,
  )
  const prune = db.prepare(
    `DELETE FROM outbox_events WHERE status = 'delivered' AND delivered_at <= @before`,
  )
  const counts = db.prepare(
    `SELECT
       (SELECT COUNT(*) FROM outbox_events WHERE status = 'pending') AS pending,
       (SELECT MIN(occurred_at) FROM outbox_events WHERE status = 'pending') AS oldestPendingAt,
       (SELECT MIN(next_attempt_at) FROM outbox_events WHERE status = 'pending') AS nextEventAttemptAt,
       (SELECT COUNT(*) FROM outbox_events WHERE status = 'parked') AS parked`,
  )
  const parked = db.prepare(
    `SELECT seq, id, type, occurred_at, attempts, last_error, response, parked_at FROM outbox_events
     WHERE status = 'parked' ORDER BY seq LIMIT @limit`,
  )
  const visitForEvent = db.prepare(
    `SELECT id, customer_id, branch_id, started_at, ended_at, end_reason FROM visits WHERE id = @id`,
  )
  const unredactedAll = db.prepare(
    `SELECT seq, subject, payload FROM outbox_events
     WHERE status = 'delivered' AND json_extract(payload, '$.redacted') IS NULL LIMIT @limit`,
  )
  const redact = db.prepare(
    `UPDATE outbox_events SET payload = @payload, subject = @subject WHERE seq = @seq`,
  )
  const state = db.prepare(`SELECT * FROM sync_state WHERE id = 1`)
  const takeLease = db.prepare(
    `UPDATE sync_state SET lease_owner = @owner, lease_until = @until WHERE id = 1`,
  )
  const renewLease = db.prepare(
    `UPDATE sync_state SET lease_until = @until WHERE id = 1 AND lease_owner = @owner`,
  )
  const releaseLease = db.prepare(
    `UPDATE sync_state SET lease_owner = NULL, lease_until = NULL WHERE id = 1 AND lease_owner = @owner`,
  )
  const runStarted = db.prepare(
    `UPDATE sync_state SET last_run_at = @now, adapter = @adapter WHERE id = 1`,
  )
  const succeeded = db.prepare(
    `UPDATE sync_state SET last_success_at = @now, consecutive_failures = 0, next_attempt_at = 0 WHERE id = 1`,
  )
  const failed = db.prepare(
    `UPDATE sync_state SET last_error = @error, last_error_at = @now,
       consecutive_failures = consecutive_failures + 1, next_attempt_at = @nextAttemptAt
     WHERE id = 1`,
  )
  const noteError = db.prepare(
    `UPDATE sync_state SET last_error = @error, last_error_at = @now WHERE id = 1`,
  )
  const clearBackoff = db.prepare(`UPDATE sync_state SET next_attempt_at = 0 WHERE id = 1`)

  const json = (seqs: number[]) => JSON.stringify(seqs)
  return {
    insert: (e: {
      id: string
      type: string
      branchId: string
      schemaVersion: number
      occurredAt: number
      subject: string | null
      payload: string
    }) => insert.run(e),
    /** Drops every outbox row of a subject (used when its data is erased). */
    forgetSubject: (subject: string) => forgetSubject.run({ subject }).changes,
    /** Drops the undelivered rows of a hashed subject (delivered ones keep the same hash). */
    forgetUndelivered: (subject: string) => forgetUndelivered.run({ subject }).changes,
    /**
     * Due events in order, from after `after` (a batch still in flight), at most `limit`.
     * `noneWaiting`: the caller knows no pending event waits for a retry (see `anyWaiting`).
     */
    due: (now: number, horizon: number, limit: number, after = 0, noneWaiting = false): DueRow[] =>
      // Read as arrays (raw), made into objects of one literal shape: rows as objects cost
      // better-sqlite3 a look-up of each column's name per row (issue 20: about a third of the
      // read's CPU).
      (
        (noneWaiting ? dueNoneWaiting : due).all({ now, horizon, limit, after }) as Array<
          [number, string, string, string, number, number, string | null, string, number]
        >
      ).map(
        ([seq, id, type, branch_id, schema_version, occurred_at, subject, payload, attempts]) => ({
          seq,
          id,
          type,
          branch_id,
          schema_version,
          occurred_at,
          subject,
          payload,
          attempts,
        }),
      ),
    /** Whether any pending event waits for its own retry (until a time before `horizon`). */
    anyWaiting: (now: number, horizon: number) => anyWaiting.get({ now, horizon }) !== undefined,
    /** One acknowledged event: delivered, its payload and subject replaced by their digests. */
    deliverRedacted: (
      seq: number,
      now: number,
      payload: string,
      subject: string | null,
      /** The subject stored now: when it equals `subject`, the row's subject is not rewritten. */
      storedSubject?: string | null,
    ) =>
      (storedSubject === subject
        ? deliverKept.run({ seq, now, payload })
        : deliverOne.run({ seq, now, payload, subject })
      ).changes,
    /**
     * Acknowledged events whose stored subject stays as it is (a digest, or none): delivered, each
     * payload replaced by the one given (its digest). Inside a transaction only (see deliverMany).
     * Returns how many rows changed.
     */
    deliverBatch: (rows: ReadonlyArray<{ seq: number; payload: string }>, now: number) => {
      const payloads: Record<number, string> = {}
      for (const r of rows) payloads[r.seq] = r.payload
      return deliverMany.run({ payloads: JSON.stringify(payloads), now }).changes
    },
    markFailed: (seqs: number[], error: string, nextAttemptAt: number) =>
      markFailed.run({ seqs: json(seqs), error, nextAttemptAt }).changes,
    park: (seq: number, error: string, response: string | null, now: number) =>
      park.run({ seq, error, response, now }).changes,
    requeueParked: () => requeueParked.run().changes,
    prune: (before: number) => prune.run({ before }).changes,
    counts: () =>
      counts.get() as {
        pending: number
        oldestPendingAt: number | null
        nextEventAttemptAt: number | null
        parked: number
      },
    parked: (limit: number) =>
      parked.all({ limit }) as Array<
        Pick<
          OutboxRow,
          | 'seq'
          | 'id'
          | 'type'
          | 'occurred_at'
          | 'attempts'
          | 'last_error'
          | 'response'
          | 'parked_at'
        >
      >,
    /** The visit as `visit.closed` describes it. */
    visitForEvent: (id: string) =>
      visitForEvent.get({ id }) as
        | {
            id: string
            customer_id: number | null
            branch_id: string
            started_at: number
            ended_at: number | null
            end_reason: string | null
          }
        | undefined,
    /** Any delivered events whose payload is still whole (written before issue 15). */
    unredactedDelivered: (limit: number) =>
      unredactedAll.all({ limit }) as Array<{
        seq: number
        subject: string | null
        payload: string
      }>,
    /** Replaces a delivered event's payload and subject by their digests. */
    redact: (seq: number, payload: string, subject: string | null) =>
      redact.run({ seq, payload, subject }).changes,
    state: () => state.get() as SyncStateRow,
    takeLease: (owner: string, until: number) => takeLease.run({ owner, until }),
    renewLease: (owner: string, until: number) => renewLease.run({ owner, until }).changes === 1,
    releaseLease: (owner: string) => releaseLease.run({ owner }),
    runStarted: (now: number, adapter: string) => runStarted.run({ now, adapter }),
    succeeded: (now: number) => succeeded.run({ now }),
    failed: (error: string, now: number, nextAttemptAt: number) =>
      failed.run({ error, now, nextAttemptAt }),
    noteError: (error: string, now: number) => noteError.run({ error, now }),
    clearBackoff: () => clearBackoff.run(),
  }
}
export type OutboxStatements = ReturnType<typeof outboxStatements>
