import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import { smsStatements, type HoldRow, type SmsStatements } from '../db/sms.js'
import { localTime, startOfLocalDay, startOfNextLocalDay } from '../time.js'
import type { SmsFailureKind } from '../errors.js'
import { providerStats, type ProviderStats } from './metrics.js'
import { createSenders } from './providers.js'

/** What a manager needs to know about sending codes: for `branchgate status` and the console. */
export interface SmsHealth {
  /** The circuit breaker: open means sending is paused for everyone. */
  breaker: { open: boolean; until: number | null; reason: string | null }
  /** Codes sent today against the daily budget (limit 0: no budget). */
  budget: { used: number; limit: number; exhausted: boolean; resetsAt: number }
  /** Prefixes blocked for low conversion right now. */
  blockedPrefixes: Array<{ id: number; prefix: string; until: number; reason: string }>
  /** Per provider over the last 24 hours. */
  providers: ProviderStats[]
  /** Each configured provider's last error and last delivery, in the configured order. */
  health: ProviderHealth[]
}

/**
 * Whether a provider works: failover hides a broken one from customers, so the operator must
 * see it here (its last error, when and of what kind, and whether it delivered since).
 */
export interface ProviderHealth {
  provider: string
  lastError: { at: number; kind: SmsFailureKind; detail: string | null } | null
  /** Its last delivered code (within the kept tries), or null. */
  lastSentAt: number | null
  /** Its last error is newer than its last delivery: nothing got through it since. */
  failing: boolean
}

/** What each kind of error means, for the CLI (the console has its own, translated). */
export const FAILURE_KIND_TEXT: Record<SmsFailureKind, string> = {
  credentials: 'credentials refused (check the account ID and token in sms.providers)',
  noCredit: 'no credit or account suspended (top up the account)',
  senderRefused: 'sender refused for a number (an opt-out from this sender, a route or sender ID)',
  rejected: 'request refused (a template or parameter)',
  rateLimited: 'rate-limited by the provider',
  timeout: 'no answer in time',
  unavailable: 'provider unavailable (5xx or network)',
}

/** Each configured provider's health, in the configured order. */
export function providerHealth(sms: SmsStatements, config: Config): ProviderHealth[] {
  const errors = new Map(sms.lastErrors().map((e) => [e.provider, e]))
  const names = [...new Set(createSenders(config.sms.providers).map((s) => s.name))]
  return names.map((provider) => {
    const e = errors.get(provider)
    const lastSentAt = sms.lastSentAt(provider)
    return {
      provider,
      lastError: e ? { at: e.at, kind: e.kind, detail: e.detail } : null,
      lastSentAt,
      failing: e !== undefined && (lastSentAt === null || lastSentAt < e.at),
    }
  })
}

const DAY = 86_400_000

export function smsHealth(db: Db, config: Config, now: number): SmsHealth {
  const sms = smsStatements(db)
  const holds = sms.activeHolds(now)
  const breaker = holds.find((h: HoldRow) => h.scope === 'branch')
  const used = sms.sentSince(startOfLocalDay(now, config.branch.timeZone) - 1)
  const limit = config.sms.fraud.dailyBudget
  return {
    breaker: {
      open: breaker !== undefined,
      until: breaker?.until ?? null,
      reason: breaker?.reason ?? null,
    },
    budget: {
      used,
      limit,
      exhausted: limit > 0 && used >= limit,
      resetsAt: startOfNextLocalDay(now, config.branch.timeZone),
    },
    blockedPrefixes: holds
      .filter((h) => h.scope === 'prefix')
      .map((h) => ({ id: h.id, prefix: h.key, until: h.until, reason: h.reason })),
    providers: providerStats(sms, now - DAY),
    health: providerHealth(sms, config),
  }
}

/** The SMS part of `branchgate status`, one fact per line, times in the branch's zone. */
export function smsStatusLines(db: Db, config: Config, now: number): string[] {
  const h = smsHealth(db, config, now)
  const time = (ms: number) => localTime(ms, config.branch.timeZone)
  const lines = [
    `sms providers: ${config.sms.providers.map((p) => ('name' in p && p.name) || p.type).join(' > ')}`,
  ]
  lines.push(
    h.breaker.open
      ? `sms sending: PAUSED by the circuit breaker until ${time(h.breaker.until!)} (${h.breaker.reason})`
      : 'sms sending: on',
  )
  lines.push(
    h.budget.limit === 0
      ? `sms today: ${h.budget.used} codes (no daily budget)`
      : `sms today: ${h.budget.used} of ${h.budget.limit} codes${h.budget.exhausted ? ' — BUDGET SPENT, the portal refuses new codes' : ''}; resets ${time(h.budget.resetsAt)}`,
  )
  for (const b of h.blockedPrefixes)
    lines.push(`sms blocked prefix ${b.prefix}… until ${time(b.until)} (${b.reason})`)
  if (h.providers.length === 0) lines.push('sms providers, last 24 h: no tries yet')
  for (const p of h.providers) {
    const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v)} ms`)
    lines.push(
      `sms ${p.provider}, last 24 h: ${p.sent} sent, ${p.failed} failed, ${p.unreachable} unreachable; ` +
        `p50 ${ms(p.p50Ms)}, p95 ${ms(p.p95Ms)}`,
    )
  }
  for (const p of h.health) {
    if (!p.lastError) {
      lines.push(`sms ${p.provider}: no error on record`)
      continue
    }
    const e = p.lastError
    const since = p.lastSentAt === null ? 'none on record' : time(p.lastSentAt)
    lines.push(
      `sms ${p.provider}: last error ${time(e.at)}, ${FAILURE_KIND_TEXT[e.kind]}` +
        `${e.detail ? ` — ${e.detail.slice(0, 160)}` : ''}; ` +
        (p.failing
          ? `NOTHING DELIVERED THROUGH IT SINCE (last delivery: ${since})`
          : `delivering again (last delivery: ${since})`),
    )
  }
  return lines
}
