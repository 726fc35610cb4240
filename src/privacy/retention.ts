import { createHmac } from 'node:crypto'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { outboxStatements } from '../db/outbox.js'
import { tallyStatements, type VisitToTally } from '../db/tallies.js'
import type { Erasure } from '../customers/erasure.js'
import type { PrivacyConfig } from '../customers/config.js'
import { redactDelivered } from '../sync/run.js'
import { instantOfWallTime, localDate } from '../time.js'

const DAY = 86_400_000
/** Customers blocked or deleted per transaction batch read; visits tallied per transaction. */
const BATCH = 200
const VISIT_BATCH = 2000

const MAC_GLOB =
  '[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]'

/** What one run did, also kept in privacy_state.last_report and logged. */
export interface RetentionReport {
  /** The clock's reading when the run started. */
  clockAt: number
  /** The instant retention ran "as of": the clock, unless a step ahead was capped. */
  effectiveAt: number
  /** True when the clock was ahead of the last run by more than privacy.catchUpDays. */
  capped: boolean
  deleted: number
  blocked: number
  visitsTallied: number
  macsHashed: number
  /** Access records (authorizations) ended before privacy.retention.visitsMonths. */
  authorizationsDeleted: number
  devicesDeleted: number
  codesDeleted: number
  auditDeleted: number
  requestsDeleted: number
  campaignSendsDeleted: number
  eventsRedacted: number
  eventsPruned: number
  consoleRecordsDeleted: number
  /** Issue 17's raw data: grants without a code, pass names and MACs, pass tries, bytes per day. */
  accessRecordsCleared: number
}

export interface RetentionDeps {
  db: Db
  erasure: Pick<Erasure, 'block' | 'deleteBlocked'>
  audit: AuditStatements
  privacy: Pick<PrivacyConfig, 'retention' | 'catchUpDays'>
  timeZone: string
  /** remember.days: a device verified this recently is kept for "welcome back". */
  rememberDays: number
  /** Key of the hashes that replace MACs (derived from the install secret). */
  macKey: Buffer
  /** Key of the digests of delivered CRM events (the sync run's, so both agree). */
  eventKey: Buffer
  /**
   * Hours a delivered CRM event is kept: sync.keepDeliveredHours when an older config sets it
   * (the sync run prunes by it too, so both agree), else privacy.retention.deliveredEventsDays.
   */
  keepDeliveredHours?: number | undefined
  log: (line: string) => void
  /**
   * Called after each unit of work commits, with the customer it was about (tests watch it from
   * another process and kill this one mid-run).
   */
  onProgress?: (what: string, customerId?: number) => void
}

/** `months` calendar months before `ms` (UTC), the day clamped to the month's length. */
export function monthsBefore(ms: number, months: number): number {
  const d = new Date(ms)
  const target = new Date(ms)
  target.setUTCDate(1)
  target.setUTCMonth(target.getUTCMonth() - months)
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate()
  target.setUTCDate(Math.min(d.getUTCDate(), last))
  return target.getTime()
}

/** A keyed hash standing for a MAC once raw device data is past its retention: `h:` + 32 hex. */
export function macHasher(key: Buffer): (mac: string) => string {
  return (mac) =>
    `h:${createHmac('sha256', key).update(mac.toLowerCase()).digest('hex').slice(0, 32)}`
}

/**
 * The daily privacy job (`privacy.retention`): deletes blocked customers whose blocking ended,
 * blocks customers not seen for too long, turns old visits into anonymous tallies (and deletes
 * the access records and campaign sends as old), hashes MACs and drops IPs and providers' error
 * texts past the raw-data retention, deletes old codes, devices, audit lines, rights requests,
 * and redacts and prunes delivered CRM events.
 *
 * **Safe across restarts**: every unit (one customer blocked or deleted, one batch of visits
 * tallied, one batch of rows hashed) is its own transaction, and every step picks what is due
 * from the database, so a run killed anywhere leaves no customer half-done and the next run (at
 * start, then daily) does the rest.
 *
 * **Safe across clock steps**: retention runs "as of" an instant that advances at most
 * `privacy.catchUpDays` past the previous run's. A clock that jumps years ahead blocks and
 * deletes only that much more per run, and the run says so in the log and the audit log; a clock
 * that jumps back does nothing new until it passes the previous run again.
 */
export function createRetention(deps: RetentionDeps) {
  const { db } = deps
  const r = deps.privacy.retention
  const hashMac = macHasher(deps.macKey)
  db.function('bg_mac_hash', { deterministic: true }, (v: unknown) =>
    typeof v === 'string' ? hashMac(v) : null,
  )
  const tallies = tallyStatements(db)
  const outbox = outboxStatements(db)
  const state = db.prepare(`SELECT effective_at, last_run_at FROM privacy_state WHERE id = 1`)
  const saveState = db.prepare(
    `UPDATE privacy_state SET effective_at = @effectiveAt, last_run_at = @clockAt, last_report = @report WHERE id = 1`,
  )
  const latestActivity = db.prepare(
    `SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM audit_log UNION ALL SELECT MAX(last_seen_at) FROM visits
       UNION ALL SELECT MAX(last_verified_at) FROM customers)`,
  )
  const dueForDeletion = db
    .prepare(
      `SELECT customer_id FROM blocked_customers WHERE delete_after <= @now ORDER BY delete_after LIMIT @limit`,
    )
    .pluck()
  // Not seen: no code, no visit and no device sighting since the cutoff. Staff are not customers.
  const inactive = db
    .prepare(
      `SELECT c.id FROM customers c
       WHERE c.erased_at IS NULL AND c.last_verified_at < @cutoff
         AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.customer_id = c.id AND v.last_seen_at >= @cutoff)
         AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.customer_id = c.id
                         AND (d.last_seen_at >= @cutoff OR d.is_staff = 1))
       ORDER BY c.id LIMIT @limit`,
    )
    .pluck()
  // Staff visits count in no figure: they are deleted without a tally.
  const oldVisits = db.prepare(
    `SELECT v.id, v.customer_id, v.started_at, v.ended_at, c.tallied_through,
            EXISTS (SELECT 1 FROM devices d WHERE d.customer_id = v.customer_id AND d.is_staff = 1) AS staff
     FROM visits v LEFT JOIN customers c ON c.id = v.customer_id
     WHERE v.started_at < @before AND v.ended_at IS NOT NULL
     ORDER BY v.started_at LIMIT @limit`,
  )
  const dropVisit = db.prepare(`DELETE FROM visits WHERE id = @id`)
  const setTalliedThrough = db.prepare(`UPDATE customers SET tallied_through = @day WHERE id = @id`)
  const hashAuthorizations = db.prepare(
    `UPDATE authorizations SET mac = bg_mac_hash(mac)
     WHERE rowid IN (SELECT rowid FROM authorizations WHERE mac GLOB '${MAC_GLOB}'
       AND COALESCE(ended_at, ends_at) < @cutoff LIMIT @limit)`,
  )
  const hashConsents = db.prepare(
    `UPDATE consents SET mac = bg_mac_hash(mac)
     WHERE rowid IN (SELECT rowid FROM consents WHERE mac GLOB '${MAC_GLOB}' AND given_at < @cutoff LIMIT @limit)`,
  )
  const dropDevices = db.prepare(
    `DELETE FROM devices WHERE is_staff = 0 AND last_seen_at < @cutoff
       AND (verified_at IS NULL OR verified_at < @rememberedSince)`,
  )
  const dropCodes = db.prepare(`DELETE FROM otp_challenges WHERE created_at < @cutoff`)
  const auditWithRawData = db.prepare(
    `SELECT id, subject, detail FROM audit_log
     WHERE at < @cutoff AND (subject GLOB '${MAC_GLOB}'
       OR json_extract(detail, '$.mac') GLOB '${MAC_GLOB}' OR json_extract(detail, '$.ip') IS NOT NULL)
     LIMIT @limit`,
  )
  const rewriteAudit = db.prepare(
    `UPDATE audit_log SET subject = @subject, detail = @detail WHERE id = @id`,
  )
  const dropConsoleSessions = db.prepare(
    `DELETE FROM console_sessions WHERE last_seen_at < @cutoff`,
  )
  const dropLoginFailures = db.prepare(`DELETE FROM console_login_failures WHERE at < @cutoff`)
  const dropAudit = db.prepare(`DELETE FROM audit_log WHERE at < @cutoff`)
  const dropRequests = db.prepare(
    `DELETE FROM rights_requests WHERE status != 'open' AND closed_at < @cutoff`,
  )
  const dropCampaignSends = db.prepare(`DELETE FROM campaign_sends WHERE sent_at < @cutoff`)
  // When a device was let through is part of a visit: it goes with the visits' retention.
  const dropAuthorizations = db.prepare(
    `DELETE FROM authorizations WHERE COALESCE(ended_at, ends_at) < @cutoff`,
  )
  // Issue 17: access without a code keeps a typed number, a name and a MAC; a pass its holder's
  // name and device; wrong pass tries a MAC; the allowance bytes per customer and day. All raw
  // device data, kept privacy.retention.rawDeviceDays (a pass row stays for the visits' figures).
  // A grant's row stays, emptied, for the dashboard's count of access without a code.
  const dropUnverifiedGrants = db.prepare(
    `UPDATE unverified_grants SET phone_e164 = '', name = '', locale = '', marketing = 0,
       mac = 'erased:' || id, customer_id = NULL
     WHERE granted_at < @cutoff AND phone_e164 <> ''`,
  )
  const clearPasses = db.prepare(
    `UPDATE passes SET name = NULL, mac = bg_mac_hash(mac)
     WHERE COALESCE(ends_at, redeem_by) < @cutoff AND (name IS NOT NULL OR mac GLOB '${MAC_GLOB}')`,
  )
  const dropPassTries = db.prepare(`DELETE FROM pass_tries WHERE at < @cutoff`)
  const dropDataUsage = db.prepare(`DELETE FROM data_usage WHERE day < @day`)
  // How a customer arrived is a figure: its link to the customer goes with the visits' retention.
  const unlinkArrivals = db.prepare(
    `UPDATE device_arrivals SET customer_id = NULL WHERE at < @cutoff AND customer_id IS NOT NULL`,
  )
  // A provider's last error may echo the number it refused: its text goes with raw data.
  const clearProviderErrors = db.prepare(
    `UPDATE sms_provider_errors SET detail = NULL WHERE at < @cutoff AND detail IS NOT NULL`,
  )

  /** Old visits (oldest first) become tallies, one transaction per batch. */
  const tallyBatch = db.transaction((before: number): number => {
    const rows = oldVisits.all({ before, limit: VISIT_BATCH }) as Array<
      VisitToTally & {
        id: string
        customer_id: number | null
        tallied_through: string | null
        staff: 0 | 1
      }
    >
    const byCustomer = new Map<number | null, typeof rows>()
    for (const v of rows) {
      if (v.staff) continue
      const list = byCustomer.get(v.customer_id) ?? []
      list.push(v)
      byCustomer.set(v.customer_id, list)
    }
    for (const [customerId, visits] of byCustomer) {
      const through = tallies.tally(
        visits,
        customerId === null ? null : { talliedThrough: visits[0]!.tallied_through },
        deps.timeZone,
      )
      if (customerId !== null && through !== null)
        setTalliedThrough.run({ id: customerId, day: through })
    }
    for (const v of rows) dropVisit.run({ id: v.id })
    return rows.length
  })

  const hashAuditBatch = db.transaction((cutoff: number): number => {
    const rows = auditWithRawData.all({ cutoff, limit: 1000 }) as Array<{
      id: number
      subject: string | null
      detail: string | null
    }>
    for (const row of rows) {
      let detail = row.detail
      if (detail) {
        const d = JSON.parse(detail) as Record<string, unknown>
        if (typeof d.mac === 'string' && !d.mac.startsWith('h:')) d.mac = hashMac(d.mac)
        delete d.ip
        detail = JSON.stringify(d)
      }
      const subject =
        row.subject && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(row.subject)
          ? hashMac(row.subject)
          : row.subject
      rewriteAudit.run({ id: row.id, subject, detail })
    }
    return rows.length
  })

  const redactBatch = db.transaction(() =>
    redactDelivered(outbox, outbox.unredactedDelivered(1000), deps.eventKey),
  )

  /** The instant this run works "as of" (see createRetention). */
  function effectiveInstant(clockAt: number): { effectiveAt: number; capped: boolean } {
    const s = state.get() as { effective_at: number | null }
    // The first run ever anchors on the newest activity on record: a clock already years ahead
    // at the first start is capped too.
    const reference = s.effective_at ?? (latestActivity.pluck().get() as number | null)
    if (reference === null) return { effectiveAt: clockAt, capped: false }
    const limit = reference + deps.privacy.catchUpDays * DAY
    if (clockAt > limit) return { effectiveAt: limit, capped: true }
    // A clock that went back: nothing becomes due that was not due at the last run.
    return { effectiveAt: Math.max(clockAt, s.effective_at ?? clockAt), capped: false }
  }

  return {
    /** One run as of the clock reading `clockAt` (the jobs table's `now`). */
    async run(clockAt: number): Promise<RetentionReport> {
      const { effectiveAt: now, capped } = effectiveInstant(clockAt)
      const progress = deps.onProgress ?? (() => {})
      const report: RetentionReport = {
        clockAt,
        effectiveAt: now,
        capped,
        deleted: 0,
        blocked: 0,
        visitsTallied: 0,
        macsHashed: 0,
        authorizationsDeleted: 0,
        devicesDeleted: 0,
        codesDeleted: 0,
        auditDeleted: 0,
        requestsDeleted: 0,
        campaignSendsDeleted: 0,
        eventsRedacted: 0,
        eventsPruned: 0,
        consoleRecordsDeleted: 0,
        accessRecordsCleared: 0,
      }
      if (capped) {
        const days = Math.round((clockAt - now) / DAY)
        deps.log(
          `privacy: the clock is ${days} day(s) past what retention may catch up in one run (privacy.catchUpDays ${deps.privacy.catchUpDays}); retention runs as of ${new Date(now).toISOString()}, not ${new Date(clockAt).toISOString()}`,
        )
        deps.audit.record({
          at: clockAt,
          actor: 'system',
          action: 'retention.capped',
          reason: 'clock-step',
          detail: { clockAt, effectiveAt: now },
        })
      }

      // 1. Blocked customers whose blocking ended are deleted (their visits become tallies).
      for (;;) {
        const ids = dueForDeletion.all({ now, limit: BATCH }) as number[]
        if (ids.length === 0) break
        for (const id of ids) {
          if (deps.erasure.deleteBlocked(id, now)) report.deleted++
          progress('deleted', id)
        }
      }
      // 2. Customers not seen for privacy.retention.customersInactiveMonths are blocked.
      const inactiveBefore = monthsBefore(now, r.customersInactiveMonths)
      for (;;) {
        const ids = inactive.all({ cutoff: inactiveBefore, limit: BATCH }) as number[]
        if (ids.length === 0) break
        let blocked = 0
        for (const id of ids) {
          if (await deps.erasure.block(id, { actor: 'system', reason: 'retention', now })) blocked++
          progress('blocked', id)
        }
        report.blocked += blocked
        if (blocked === 0) break
      }
      // 3. Visits older than privacy.retention.visitsMonths become tallies, cut at a local
      //    midnight so no customer's day is split between rows and tallies.
      const visitsBefore = instantOfWallTime(
        Date.parse(`${localDate(monthsBefore(now, r.visitsMonths), deps.timeZone)}T00:00:00Z`),
        deps.timeZone,
      )
      for (;;) {
        const n = tallyBatch(visitsBefore)
        report.visitsTallied += n
        if (n > 0) progress('visits')
        if (n < VISIT_BATCH) break
      }
      report.campaignSendsDeleted = dropCampaignSends.run({
        cutoff: monthsBefore(now, r.visitsMonths),
      }).changes
      report.authorizationsDeleted = dropAuthorizations.run({
        cutoff: monthsBefore(now, r.visitsMonths),
      }).changes
      // 4. Raw device data past privacy.retention.rawDeviceDays: MACs hashed, IPs dropped.
      const rawBefore = now - r.rawDeviceDays * DAY
      for (const statement of [hashAuthorizations, hashConsents]) {
        for (;;) {
          const n = statement.run({ cutoff: rawBefore, limit: 1000 }).changes
          report.macsHashed += n
          if (n > 0) progress('macs')
          if (n < 1000) break
        }
      }
      for (;;) {
        const n = hashAuditBatch(rawBefore)
        report.macsHashed += n
        if (n > 0) progress('audit-macs')
        if (n < 1000) break
      }
      report.devicesDeleted = dropDevices.run({
        cutoff: rawBefore,
        rememberedSince: Math.min(rawBefore, now - deps.rememberDays * DAY),
      }).changes
      report.codesDeleted = dropCodes.run({ cutoff: rawBefore }).changes
      report.consoleRecordsDeleted =
        dropConsoleSessions.run({ cutoff: rawBefore }).changes +
        dropLoginFailures.run({ cutoff: rawBefore }).changes +
        clearProviderErrors.run({ cutoff: rawBefore }).changes
      report.accessRecordsCleared =
        dropUnverifiedGrants.run({ cutoff: rawBefore }).changes +
        clearPasses.run({ cutoff: rawBefore }).changes +
        dropPassTries.run({ cutoff: rawBefore }).changes +
        dropDataUsage.run({ day: localDate(rawBefore, deps.timeZone) }).changes +
        unlinkArrivals.run({ cutoff: monthsBefore(now, r.visitsMonths) }).changes
      // 5. The audit log and closed rights requests past privacy.retention.auditMonths.
      const auditBefore = monthsBefore(now, r.auditMonths)
      report.auditDeleted = dropAudit.run({ cutoff: auditBefore }).changes
      report.requestsDeleted = dropRequests.run({ cutoff: auditBefore }).changes
      // 6. Delivered CRM events: ids and digests only, kept privacy.retention.deliveredEventsDays.
      for (;;) {
        const n = redactBatch()
        report.eventsRedacted += n
        if (n < 1000) break
      }
      const keepHours = deps.keepDeliveredHours ?? r.deliveredEventsDays * 24
      report.eventsPruned = outbox.prune(now - keepHours * 3_600_000)

      saveState.run({ effectiveAt: now, clockAt, report: JSON.stringify(report) })
      const did = Object.entries(report)
        .filter(
          ([k, v]) => typeof v === 'number' && v > 0 && k !== 'clockAt' && k !== 'effectiveAt',
        )
        .map(([k, v]) => `${k} ${v}`)
      deps.log(
        `privacy: retention as of ${new Date(now).toISOString()}: ${did.join(', ') || 'nothing due'}`,
      )
      return report
    },
  }
}
export type Retention = ReturnType<typeof createRetention>
