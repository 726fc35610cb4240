import { newestFirst } from './newest.js'
import type { SmsFailureKind } from '../errors.js'
import type { Db } from './open.js'

export interface HoldRow {
  id: number
  scope: 'branch' | 'prefix'
  key: string
  reason: string
  starts_at: number
  until: number
  lifted_at: number | null
}

export interface AttemptRow {
  at: number
  provider: string
  channel: 'sms' | 'whatsapp'
  outcome: 'sent' | 'failed' | 'unreachable'
  latency_ms: number
  detail: string | null
  /** Why a failed try failed; it then becomes the provider's last error. */
  kind?: SmsFailureKind | null
}

/** A provider's last error (sms_provider_errors). */
export interface ProviderErrorRow {
  provider: string
  at: number
  kind: SmsFailureKind
  channel: 'sms' | 'whatsapp'
  detail: string | null
}

/**
 * Prepared statements over sms_holds, sms_attempts, sms_provider_errors and the SMS columns of
 * otp_challenges.
 */
export function smsStatements(db: Db) {
  // Failed sends cost nothing: they never count against a limit or the budget.
  const sentSince = db.prepare(
    `SELECT count(*) AS n FROM otp_challenges WHERE created_at > @since AND send_failed_at IS NULL`,
  )
  // The per-prefix limit only ever looks at the newest `limit` codes: no need to read more
  // (newestFirst stops there; a bound LIMIT would compile the statement again on every run).
  const prefixTimes = db
    .prepare(
      `SELECT created_at FROM otp_challenges
       WHERE phone_prefix = @prefix AND created_at > @since AND send_failed_at IS NULL
       ORDER BY created_at DESC`,
    )
    .pluck()
  // Only decided codes count: verified, or no longer usable. A code still pending is neither.
  const prefixConversion = db.prepare(
    `SELECT count(DISTINCT phone_e164) AS numbers,
            count(DISTINCT CASE WHEN status = 'verified' THEN phone_e164 END) AS verified
     FROM otp_challenges
     WHERE phone_prefix = @prefix AND created_at > @since AND send_failed_at IS NULL
       AND (status != 'pending' OR expires_at <= @now)`,
  )
  const totalConversion = db.prepare(
    `SELECT count(DISTINCT phone_e164) AS numbers,
            count(DISTINCT CASE WHEN status = 'verified' THEN phone_e164 END) AS verified
     FROM otp_challenges
     WHERE created_at > @since AND send_failed_at IS NULL
       AND (status != 'pending' OR expires_at <= @now)`,
  )
  const activeHold = db.prepare(
    `SELECT * FROM sms_holds
     WHERE scope = @scope AND key = @key AND lifted_at IS NULL AND until > @now
     ORDER BY until DESC LIMIT 1`,
  )
  const lastHoldEnd = db.prepare(
    `SELECT max(coalesce(lifted_at, until)) AS ended FROM sms_holds
     WHERE scope = @scope AND key = @key AND coalesce(lifted_at, until) <= @now`,
  )
  const insertHold = db.prepare(
    `INSERT INTO sms_holds (scope, key, reason, starts_at, until) VALUES (@scope, @key, @reason, @now, @until)`,
  )
  const activeHolds = db.prepare(
    `SELECT * FROM sms_holds WHERE lifted_at IS NULL AND until > @now ORDER BY scope, until`,
  )
  const liftHold = db.prepare(
    `UPDATE sms_holds SET lifted_at = @now WHERE id = @id AND lifted_at IS NULL AND until > @now`,
  )
  const insertAttempt = db.prepare(
    `INSERT INTO sms_attempts (at, provider, channel, outcome, latency_ms, detail)
     VALUES (@at, @provider, @channel, @outcome, @latency_ms, @detail)`,
  )
  const attemptsSince = db.prepare(
    `SELECT provider, outcome, latency_ms FROM sms_attempts WHERE at > @since ORDER BY provider, latency_ms`,
  )
  // Only a newer error replaces the one kept: tries of one turn may be written out of order.
  const upsertError = db.prepare(
    `INSERT INTO sms_provider_errors (provider, at, kind, channel, detail)
     VALUES (@provider, @at, @kind, @channel, @detail)
     ON CONFLICT (provider) DO UPDATE SET
       at = excluded.at, kind = excluded.kind, channel = excluded.channel, detail = excluded.detail
     WHERE excluded.at >= sms_provider_errors.at`,
  )
  const lastErrors = db.prepare(`SELECT * FROM sms_provider_errors ORDER BY provider`)
  // Walks the time index backwards and stops at the provider's newest success.
  const lastSent = db.prepare(
    `SELECT at FROM sms_attempts WHERE provider = @provider AND outcome = 'sent'
     ORDER BY at DESC LIMIT 1`,
  )
  const pruneAttempts = db.prepare(`DELETE FROM sms_attempts WHERE at < @before`)
  const pruneHolds = db.prepare(`DELETE FROM sms_holds WHERE coalesce(lifted_at, until) < @before`)

  const record = (a: AttemptRow) => {
    const { kind, ...row } = a
    insertAttempt.run(row)
    if (a.outcome === 'failed' && kind) {
      upsertError.run({
        provider: a.provider,
        at: a.at,
        kind,
        channel: a.channel,
        detail: a.detail,
      })
    }
  }

  return {
    sentSince: (since: number) => (sentSince.get({ since }) as { n: number }).n,
    /** Creation times (ascending) of the newest `limit` codes sent to the prefix since `since`. */
    prefixTimesSince: (prefix: string, since: number, limit: number) =>
      newestFirst<number>(prefixTimes, { prefix, since }, limit),
    prefixConversion: (prefix: string, since: number, now: number) =>
      prefixConversion.get({ prefix, since, now }) as { numbers: number; verified: number },
    /** The whole branch's conversion: numbers partition by prefix, so rest = total − prefix. */
    totalConversion: (since: number, now: number) =>
      totalConversion.get({ since, now }) as { numbers: number; verified: number },
    activeHold: (scope: HoldRow['scope'], key: string, now: number) =>
      activeHold.get({ scope, key, now }) as HoldRow | undefined,
    /** When the last hold of this scope/key ended (epoch ms), or null. */
    lastHoldEnd: (scope: HoldRow['scope'], key: string, now: number) =>
      (lastHoldEnd.get({ scope, key, now }) as { ended: number | null }).ended,
    hold: (h: {
      scope: HoldRow['scope']
      key: string
      reason: string
      now: number
      until: number
    }) => Number(insertHold.run(h).lastInsertRowid),
    activeHolds: (now: number) => activeHolds.all({ now }) as HoldRow[],
    /** Ends a hold early (a manager's decision); counting restarts from now. */
    liftHold: (id: number, now: number) => liftHold.run({ id, now }).changes === 1,
    recordAttempt: (a: AttemptRow) => record(a),
    /** Several tries in one commit; a failed one also becomes its provider's last error. */
    recordAttempts: db.transaction((rows: AttemptRow[]) => {
      for (const a of rows) record(a)
    }),
    /** Every provider's last error. */
    lastErrors: () => lastErrors.all() as ProviderErrorRow[],
    /** When the provider last delivered a code (within the kept tries), or null. */
    lastSentAt: (provider: string) =>
      (lastSent.get({ provider }) as { at: number } | undefined)?.at ?? null,
    attemptsSince: (since: number) =>
      attemptsSince.all({ since }) as Array<
        Pick<AttemptRow, 'provider' | 'outcome' | 'latency_ms'>
      >,
    /** Deletes provider tries and ended holds older than `before`; returns how many rows went. */
    prune: (before: number) =>
      pruneAttempts.run({ before }).changes + pruneHolds.run({ before }).changes,
  }
}
export type SmsStatements = ReturnType<typeof smsStatements>
