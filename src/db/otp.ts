import { newestFirst } from './newest.js'
import type { Db } from './open.js'

export type ChallengeStatus = 'pending' | 'verified' | 'exhausted' | 'superseded' | 'send_failed'

export interface ChallengeRow {
  id: string
  phone_e164: string
  mac: string
  name: string
  locale: string
  marketing: 0 | 1
  code_hmac: string
  created_at: number
  expires_at: number
  attempts: number
  status: ChallengeStatus
  provider: string | null
  closed_at: number | null
  /** How the code was delivered. */
  channel: 'sms' | 'whatsapp'
  /** What the code proves the number for: a login, or stopping promotions (issue 15). */
  purpose: 'login' | 'opt-out'
}

/** Prepared statements over otp_challenges. */
export function otpStatements(db: Db) {
  const insert = db.prepare(
    `INSERT INTO otp_challenges (id, phone_e164, mac, name, locale, marketing, code_hmac, created_at, expires_at, status, purpose)
     VALUES (@id, @phone_e164, @mac, @name, @locale, @marketing, @code_hmac, @created_at, @expires_at, 'pending', @purpose)`,
  )
  const byId = db.prepare(`SELECT * FROM otp_challenges WHERE id = ?`)
  // Failed sends cost nothing and must not lock a customer out while a provider is down.
  // Newest first, read only as far as the limit (newestFirst: not a bound LIMIT).
  const sentToPhoneSince = db
    .prepare(
      `SELECT created_at FROM otp_challenges
       WHERE phone_e164 = @phone AND created_at > @since AND send_failed_at IS NULL
       ORDER BY created_at DESC`,
    )
    .pluck()
  const sentToMacSince = db
    .prepare(
      `SELECT created_at FROM otp_challenges
       WHERE mac = @mac AND created_at > @since AND send_failed_at IS NULL
       ORDER BY created_at DESC`,
    )
    .pluck()
  // Two statements rather than one OR, so each uses its index (a device's or number's codes).
  const supersedeForMac = db.prepare(
    `UPDATE otp_challenges SET status = 'superseded', closed_at = @now
     WHERE mac = @mac AND status = 'pending' AND id != @keep`,
  )
  const supersedeForPhone = db.prepare(
    `UPDATE otp_challenges SET status = 'superseded', closed_at = @now
     WHERE phone_e164 = @phone AND status = 'pending' AND id != @keep`,
  )
  const setStatus = db.prepare(
    `UPDATE otp_challenges SET status = @status, closed_at = @now WHERE id = @id`,
  )
  const closePending = db.prepare(
    `UPDATE otp_challenges SET status = @status, closed_at = @now
     WHERE id = @id AND status = 'pending'`,
  )
  // Its own statement: `send_failed_at` filters the "sent" indexes, so only this write touches them.
  const markSendFailed = db.prepare(
    `UPDATE otp_challenges SET status = 'send_failed', closed_at = @now, send_failed_at = @now
     WHERE id = @id`,
  )
  const setDelivered = db.prepare(
    `UPDATE otp_challenges SET provider = @provider, channel = @channel WHERE id = @id`,
  )
  const countAttempt = db.prepare(
    `UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = @id RETURNING attempts`,
  )
  return {
    insert: (
      row: Omit<
        ChallengeRow,
        'attempts' | 'status' | 'provider' | 'closed_at' | 'channel' | 'purpose'
      > & { purpose?: ChallengeRow['purpose'] },
    ) => insert.run({ purpose: 'login', ...row }),
    byId: (id: string) => byId.get(id) as ChallengeRow | undefined,
    /** Creation times (ascending) of the newest `limit` codes sent to the number since `since`. */
    sentToPhoneSince: (phone: string, since: number, limit: number) =>
      newestFirst<number>(sentToPhoneSince, { phone, since }, limit),
    /** Creation times (ascending) of the newest `limit` codes asked for by the device since `since`. */
    sentToMacSince: (mac: string, since: number, limit: number) =>
      newestFirst<number>(sentToMacSince, { mac, since }, limit),
    /** Older pending codes of the same device or number stop working. */
    supersedeOthers(keep: string, mac: string, phone: string, now: number) {
      supersedeForMac.run({ keep, mac, now })
      supersedeForPhone.run({ keep, phone, now })
    },
    setStatus: (id: string, status: Exclude<ChallengeStatus, 'send_failed'>, now: number | null) =>
      setStatus.run({ id, status, now }),
    /**
     * Closes a code that is still pending, in one statement (no read before it); false when it
     * was not (used, spent or replaced meanwhile).
     */
    closePending: (id: string, status: 'verified', now: number) =>
      closePending.run({ id, status, now }).changes === 1,
    /** The code could not be sent: it counts against nothing and cannot be used. */
    markSendFailed: (id: string, now: number) => markSendFailed.run({ id, now }),
    /** Who delivered the code, and on which channel. */
    setDelivered: (id: string, provider: string, channel: 'sms' | 'whatsapp') =>
      setDelivered.run({ id, provider, channel }),
    countAttempt: (id: string) => (countAttempt.get({ id }) as { attempts: number }).attempts,
  }
}
export type OtpStatements = ReturnType<typeof otpStatements>
