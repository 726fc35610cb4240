import type { SmsFraudConfig } from './config.js'
import { RateLimitedError, SendingPausedError, type DomainError } from '../errors.js'

/**
 * Defences against SMS pumping (toll fraud) and runaway cost, as pure functions over counts.
 * The caller (src/sms/guard.ts) reads the counts and records any hold in the same transaction
 * that records the challenge, so parallel requests cannot slip past.
 */
export type FraudPolicy = SmsFraudConfig

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** The number without its last 4 digits: pumping walks through one operator's range. */
export function phonePrefix(e164: string): string {
  return e164.slice(0, Math.max(0, e164.length - 4))
}

/** Distinct numbers sent a code, and how many of them typed it back. */
export interface Conversion {
  numbers: number
  verified: number
}

/** What the rules look at. Every window starts no earlier than the end of the last hold it caused. */
export interface FraudCounts {
  /** Epoch ms until the branch-wide circuit breaker pauses sending; null: not paused. */
  branchHoldUntil: number | null
  /** Epoch ms until this prefix is blocked for low conversion; null: not blocked. */
  prefixHoldUntil: number | null
  /** Codes sent today (the branch's local day). */
  sentToday: number
  /** Epoch ms when the branch's next local day starts (the budget resets). */
  nextDayStart: number
  /** Codes sent branch-wide in the last hour. */
  branchLastHour: number
  /** Send times (epoch ms, ascending) to this prefix in the last hour. */
  prefixLastHour: number[]
  /** Conversion of this prefix over the conversion window (decided codes only). */
  prefixConversion: Conversion
  /** Conversion of every other prefix over the same window: what "normal" is here. */
  restConversion: Conversion
}

/** A hold the caller must record (and alert on): sending paused for a scope until a time. */
export interface Hold {
  scope: 'branch' | 'prefix'
  until: number
  reason: string
}

export type FraudVerdict = { ok: true } | { ok: false; error: DomainError; hold?: Hold }

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

/** Decides whether one more code may be sent now. Pure. */
export function judgeSend(policy: FraudPolicy, counts: FraudCounts, now: number): FraudVerdict {
  if (counts.branchHoldUntil !== null && counts.branchHoldUntil > now) {
    return {
      ok: false,
      error: new SendingPausedError('breaker', seconds(counts.branchHoldUntil - now)),
    }
  }
  if (policy.dailyBudget > 0 && counts.sentToday >= policy.dailyBudget) {
    return {
      ok: false,
      error: new SendingPausedError('budget', seconds(counts.nextDayStart - now)),
    }
  }
  if (counts.prefixHoldUntil !== null && counts.prefixHoldUntil > now) {
    return {
      ok: false,
      error: new SendingPausedError('prefix', seconds(counts.prefixHoldUntil - now)),
    }
  }
  if (policy.branchPerHour > 0 && counts.branchLastHour >= policy.branchPerHour) {
    const until = now + policy.breakerPauseMinutes * MINUTE
    return {
      ok: false,
      error: new SendingPausedError('breaker', seconds(until - now)),
      hold: {
        scope: 'branch',
        until,
        reason: `${counts.branchLastHour} codes in the last hour (limit ${policy.branchPerHour})`,
      },
    }
  }
  const recent = counts.prefixLastHour.filter((t) => t > now - HOUR)
  if (policy.perPrefixPerHour > 0 && recent.length >= policy.perPrefixPerHour) {
    const oldest = recent[recent.length - policy.perPrefixPerHour]!
    return { ok: false, error: new RateLimitedError('prefix', seconds(oldest + HOUR - now)) }
  }
  const low = lowConversion(policy, counts.prefixConversion, counts.restConversion)
  if (low) {
    const until = now + policy.conversion.cooldownMinutes * MINUTE
    return {
      ok: false,
      error: new SendingPausedError('prefix', seconds(until - now)),
      hold: { scope: 'prefix', until, reason: low },
    }
  }
  return { ok: true }
}

/**
 * Why a prefix converts far below normal, or null. Normal is the rest of the branch's ratio when
 * it has enough numbers to tell, else `assumedNormalRatio`.
 */
export function lowConversion(
  policy: FraudPolicy,
  prefix: Conversion,
  rest: Conversion,
): string | null {
  const c = policy.conversion
  if (c.minNumbers === 0 || prefix.numbers < c.minNumbers) return null
  const normal = rest.numbers >= c.minNumbers ? rest.verified / rest.numbers : c.assumedNormalRatio
  const ratio = prefix.verified / prefix.numbers
  if (ratio >= normal * c.belowFraction) return null
  const pct = (x: number) => `${Math.round(x * 100)}%`
  return `${prefix.verified} of ${prefix.numbers} numbers verified (${pct(ratio)}, normal ${pct(normal)})`
}
