import type { AuditStatements } from '../db/audit.js'
import type { SmsStatements } from '../db/sms.js'
import type { DomainError } from '../errors.js'
import { startOfLocalDay, startOfNextLocalDay } from '../time.js'
import { judgeSend, phonePrefix, type Conversion, type FraudPolicy } from './fraud.js'

/** The fraud and cost defences as the login sees them. */
export interface SendGuard {
  /**
   * Whether one more code may go to `phone` now; the refusal, or null. Must run inside the
   * transaction that records the challenge. A hold it decides (circuit breaker, low-conversion
   * prefix) is recorded and alerted on even though the request is refused, so the caller must
   * commit rather than roll back.
   */
  check(phone: string, now: number): DomainError | null
}

const HOUR = 3_600_000
/** Milliseconds the branch-wide conversion baseline is reused. */
const TOTAL_TTL_MS = 30_000

export function createSendGuard(deps: {
  sms: SmsStatements
  audit: AuditStatements
  policy: FraudPolicy
  timeZone: string
  log: (line: string) => void
}): SendGuard {
  const { sms, policy } = deps
  // The branch's normal ratio is a baseline over a day of codes: read it at most every
  // TOTAL_TTL_MS instead of scanning the day on every code sent.
  let total: { at: number; value: { numbers: number; verified: number } } | null = null
  const branchConversion = (now: number, windowMs: number) => {
    if (!total || now - total.at >= TOTAL_TTL_MS || now < total.at) {
      total = { at: now, value: sms.totalConversion(now - windowMs, now) }
    }
    return total.value
  }
  /** The rest of the branch over the whole window; `p`: the prefix's own over it. */
  const restOf = (p: Conversion, now: number, windowMs: number) => {
    const t = branchConversion(now, windowMs)
    return {
      numbers: Math.max(0, t.numbers - p.numbers),
      verified: Math.max(0, t.verified - p.verified),
    }
  }
  return {
    check(phone, now) {
      const prefix = phonePrefix(phone)
      // When the last hold of each scope ended, read once per check (the prefix's two windows
      // asked the same question twice).
      const ended = {
        branch: undefined as number | undefined,
        prefix: undefined as number | undefined,
      }
      const holdEnd = (scope: 'branch' | 'prefix', key: string) =>
        (ended[scope] ??= sms.lastHoldEnd(scope, key, now) ?? -Infinity)
      /** A window of `ms` back from now, restarted when a hold of that scope/key ended. */
      const since = (scope: 'branch' | 'prefix', key: string, now: number, ms: number) =>
        Math.max(now - ms, holdEnd(scope, key))
      const windowMs = policy.conversion.windowHours * HOUR
      const none = { numbers: 0, verified: 0 }
      // Rules turned off (0) are not read at all: they cost nothing on the login.
      const judgeConversion = policy.conversion.minNumbers > 0
      // The prefix's conversion since its last hold, and over the whole window for the rest of
      // the branch: one read when no hold ended inside the window (nearly always), not two.
      let prefixOwn = none
      let prefixWhole = none
      if (judgeConversion) {
        const from = since('prefix', prefix, now, windowMs)
        prefixOwn = sms.prefixConversion(prefix, from, now)
        prefixWhole =
          from === now - windowMs ? prefixOwn : sms.prefixConversion(prefix, now - windowMs, now)
      }
      const verdict = judgeSend(
        policy,
        {
          branchHoldUntil: sms.activeHold('branch', '', now)?.until ?? null,
          prefixHoldUntil: sms.activeHold('prefix', prefix, now)?.until ?? null,
          sentToday:
            policy.dailyBudget > 0 ? sms.sentSince(startOfLocalDay(now, deps.timeZone) - 1) : 0,
          nextDayStart: policy.dailyBudget > 0 ? startOfNextLocalDay(now, deps.timeZone) : now,
          branchLastHour:
            policy.branchPerHour > 0 ? sms.sentSince(since('branch', '', now, HOUR)) : 0,
          prefixLastHour:
            policy.perPrefixPerHour > 0
              ? sms.prefixTimesSince(
                  prefix,
                  since('prefix', prefix, now, HOUR),
                  policy.perPrefixPerHour,
                )
              : [],
          prefixConversion: prefixOwn,
          restConversion: judgeConversion ? restOf(prefixWhole, now, windowMs) : none,
        },
        now,
      )
      if (verdict.ok) return null
      const hold = verdict.hold
      if (hold) {
        const key = hold.scope === 'branch' ? '' : prefix
        sms.hold({ scope: hold.scope, key, reason: hold.reason, now, until: hold.until })
        deps.audit.record({
          at: now,
          actor: 'system',
          action: hold.scope === 'branch' ? 'sms.breaker.open' : 'sms.prefix.block',
          subject: key || null,
          reason: hold.reason,
          detail: { until: hold.until },
        })
        const until = new Date(hold.until).toISOString()
        deps.log(
          hold.scope === 'branch'
            ? `sms: ALERT circuit breaker open: ${hold.reason}; sending paused until ${until}`
            : `sms: ALERT prefix ${key}… blocked: ${hold.reason}; until ${until}`,
        )
      }
      return verdict.error
    },
  }
}
