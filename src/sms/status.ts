import type { Config } from '../config.js'
import type { Db } from '../db/open.js'
import { smsStatements, type HoldRow } from '../db/sms.js'
import { startOfLocalDay, startOfNextLocalDay } from '../time.js'
import { providerStats, type ProviderStats } from './metrics.js'

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
  }
}

/** The SMS part of `branchgate status`, one fact per line, times in the branch's zone. */
export function smsStatusLines(db: Db, config: Config, now: number): string[] {
  const h = smsHealth(db, config, now)
  const time = (ms: number) =>
    new Intl.DateTimeFormat('en-GB', {
      timeZone: config.branch.timeZone,
      dateStyle: 'short',
      timeStyle: 'short',
    }).format(ms)
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
  return lines
}
