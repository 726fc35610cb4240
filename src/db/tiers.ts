import type { Db } from './open.js'

export interface UnverifiedGrantRow {
  id: number
  phone_e164: string
  name: string
  locale: string
  marketing: 0 | 1
  notice_version: string
  mac: string
  day: string
  granted_at: number
  ends_at: number
  why: string
  upgraded_at: number | null
  customer_id: number | null
}

export interface PassRow {
  id: number
  locator: string
  secret_hmac: string
  name: string | null
  minutes: number
  issued_by: string
  issued_at: number
  redeem_by: number
  attempts: number
  status: 'issued' | 'redeemed' | 'exhausted' | 'revoked' | 'expired'
  mac: string | null
  redeemed_at: number | null
  ends_at: number | null
}

/** Prepared statements over unverified_grants, passes and pass_tries (issue 17). */
export function tierStatements(db: Db) {
  const insertGrant = db.prepare(
    `INSERT INTO unverified_grants (phone_e164, name, locale, marketing, notice_version, mac, day,
       granted_at, ends_at, why)
     VALUES (@phone, @name, @locale, @marketing, @noticeVersion, @mac, @day, @now, @until, @why)`,
  )
  const grantsOn = db.prepare(
    `SELECT count(*) AS n FROM unverified_grants WHERE day = @day AND (mac = @mac OR phone_e164 = @phone)`,
  )
  const grantOf = db.prepare(
    `SELECT * FROM unverified_grants WHERE mac = @mac AND day = @day ORDER BY granted_at DESC LIMIT 1`,
  )
  const upgraded = db.prepare(
    `UPDATE unverified_grants SET upgraded_at = @now, customer_id = @customerId
     WHERE mac = @mac AND upgraded_at IS NULL AND ends_at > @since`,
  )
  // A code for this device and number could not be sent, lately: the proof the providers fail
  // for this customer, which a forged form cannot give.
  const failedSend = db.prepare(
    `SELECT 1 FROM otp_challenges
     WHERE mac = @mac AND phone_e164 = @phone AND created_at > @since AND send_failed_at IS NOT NULL
     LIMIT 1`,
  )
  const insertPass = db.prepare(
    `INSERT INTO passes (locator, secret_hmac, name, minutes, issued_by, issued_at, redeem_by)
     VALUES (@locator, @secretHmac, @name, @minutes, @issuedBy, @now, @redeemBy)`,
  )
  const livePassByLocator = db.prepare(
    `SELECT * FROM passes WHERE locator = @locator AND status IN ('issued', 'redeemed')`,
  )
  const passById = db.prepare(`SELECT * FROM passes WHERE id = @id`)
  // A pass that can no longer be used frees its locator.
  const retirePasses = db.prepare(
    `UPDATE passes SET status = 'expired'
     WHERE status IN ('issued', 'redeemed')
       AND ((status = 'issued' AND redeem_by <= @now) OR (status = 'redeemed' AND ends_at <= @now))`,
  )
  const liveLocators = db.prepare(
    `SELECT locator FROM passes WHERE status IN ('issued', 'redeemed')`,
  )
  const countPassTry = db.prepare(
    `UPDATE passes SET attempts = attempts + 1 WHERE id = @id RETURNING attempts`,
  )
  const setPassStatus = db.prepare(`UPDATE passes SET status = @status WHERE id = @id`)
  const redeemPass = db.prepare(
    `UPDATE passes SET status = 'redeemed', mac = @mac, redeemed_at = @now, ends_at = @until
     WHERE id = @id AND status = 'issued'`,
  )
  const passesSince = db.prepare(
    `SELECT * FROM passes WHERE issued_at >= @since ORDER BY issued_at DESC LIMIT @limit`,
  )
  const insertTry = db.prepare(`INSERT INTO pass_tries (at, mac) VALUES (@at, @mac)`)
  const triesByMac = db.prepare(
    `SELECT count(*) AS n FROM pass_tries WHERE mac = @mac AND at > @since`,
  )
  const triesAll = db.prepare(`SELECT count(*) AS n FROM pass_tries WHERE at > @since`)
  const pruneTries = db.prepare(`DELETE FROM pass_tries WHERE at < @before`)
  const countUnverified = db.prepare(
    `SELECT count(*) AS n FROM unverified_grants WHERE granted_at >= @from AND granted_at < @to`,
  )
  const countPasses = db.prepare(
    `SELECT count(*) AS n FROM passes WHERE redeemed_at >= @from AND redeemed_at < @to`,
  )
  return {
    insertGrant: (g: {
      phone: string
      name: string
      locale: string
      marketing: boolean
      noticeVersion: string
      mac: string
      day: string
      now: number
      until: number
      why: string
    }) => Number(insertGrant.run({ ...g, marketing: g.marketing ? 1 : 0 }).lastInsertRowid),
    /** Grants of the day for this device or this number. */
    grantsOn: (day: string, mac: string, phone: string) =>
      (grantsOn.get({ day, mac, phone }) as { n: number }).n,
    grantOf: (mac: string, day: string) =>
      grantOf.get({ mac, day }) as UnverifiedGrantRow | undefined,
    /** The device's grant that is still running (or ended after `since`) became a verification. */
    markUpgraded: (mac: string, customerId: number, now: number, since: number) =>
      upgraded.run({ mac, customerId, now, since }).changes,
    failedSendSince: (mac: string, phone: string, since: number) =>
      failedSend.get({ mac, phone, since }) !== undefined,
    insertPass: (p: {
      locator: string
      secretHmac: string
      name: string | null
      minutes: number
      issuedBy: string
      now: number
      redeemBy: number
    }) => Number(insertPass.run(p).lastInsertRowid),
    livePass: (locator: string) => livePassByLocator.get({ locator }) as PassRow | undefined,
    passById: (id: number) => passById.get({ id }) as PassRow | undefined,
    retirePasses: (now: number) => retirePasses.run({ now }).changes,
    liveLocators: () =>
      new Set((liveLocators.all() as Array<{ locator: string }>).map((r) => r.locator)),
    countPassTry: (id: number) => (countPassTry.get({ id }) as { attempts: number }).attempts,
    setPassStatus: (id: number, status: PassRow['status']) => setPassStatus.run({ id, status }),
    redeemPass: (id: number, mac: string, now: number, until: number) =>
      redeemPass.run({ id, mac, now, until }).changes,
    passesSince: (since: number, limit = 200) => passesSince.all({ since, limit }) as PassRow[],
    recordTry: (at: number, mac: string) => insertTry.run({ at, mac }),
    triesByMac: (mac: string, since: number) => (triesByMac.get({ mac, since }) as { n: number }).n,
    triesAll: (since: number) => (triesAll.get({ since }) as { n: number }).n,
    pruneTries: (before: number) => pruneTries.run({ before }).changes,
    unverifiedBetween: (from: number, to: number) =>
      (countUnverified.get({ from, to }) as { n: number }).n,
    passesRedeemedBetween: (from: number, to: number) =>
      (countPasses.get({ from, to }) as { n: number }).n,
  }
}
export type TierStatements = ReturnType<typeof tierStatements>
