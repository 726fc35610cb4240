import type { Config } from '../config.js'
import type { BranchState } from './state.js'

/** One part of the box: fine, or what is degraded, in one sentence. */
export interface ReadinessCheck {
  ok: boolean
  detail: string
}

/**
 * The admin side's readiness view (GET /readyz) and part of `branchgate doctor --json`: what is
 * degraded, by part, in a form fleet automation reads. Liveness stays /healthz on the portal.
 */
export interface Readiness {
  status: 'ready' | 'degraded'
  branch: string
  /** ISO time of the reading. */
  at: string
  checks: {
    database: ReadinessCheck
    gate: ReadinessCheck
    providers: ReadinessCheck
    sync: ReadinessCheck
  }
}

/** Seconds the oldest pending event may wait before the sync counts as behind. */
export const SYNC_BEHIND_SECONDS = 3600

/** The readiness of a branch from one reading of its state (null: the database failed). */
export function readinessOf(
  config: Config,
  state: BranchState | { error: string },
  at: number,
): Readiness {
  if ('error' in state) {
    const unknown = { ok: false, detail: 'unknown: the database cannot be read' }
    return {
      status: 'degraded',
      branch: config.branch.id,
      at: new Date(at).toISOString(),
      checks: {
        database: { ok: false, detail: `cannot read the database: ${state.error}` },
        gate: unknown,
        providers: unknown,
        sync: unknown,
      },
    }
  }
  const checks = {
    database: { ok: true, detail: 'readable' },
    gate: gateCheck(config, state),
    providers: providersCheck(state),
    sync: syncCheck(state),
  }
  return {
    status: Object.values(checks).every((c) => c.ok) ? 'ready' : 'degraded',
    branch: config.branch.id,
    at: new Date(at).toISOString(),
    checks,
  }
}

function gateCheck(config: Config, s: BranchState): ReadinessCheck {
  if (config.gate.backend === 'dry-run')
    return { ok: true, detail: 'dry-run: nobody is really let through (demo)' }
  const fw = s.devices.firewall
  const err = s.devices.firewallError
  if (err && (!fw || err.at > fw.at))
    return { ok: false, detail: `cannot read the firewall set: ${err.message}` }
  if (!fw) return { ok: true, detail: 'not compared with the database yet' }
  if (fw.missing || fw.stray) {
    return {
      ok: false,
      detail:
        `firewall and database disagree: ${fw.missing} device(s) let through by the database ` +
        `are missing from the set, ${fw.stray} in the set have no access on record`,
    }
  }
  return { ok: true, detail: `${fw.firewall} device(s) in the set, as in the database` }
}

function providersCheck(s: BranchState): ReadinessCheck {
  const problems: string[] = []
  if (s.sms.breakerOpen) problems.push('the circuit breaker pauses sending')
  if (s.sms.budgetLimit > 0 && s.sms.budgetUsed >= s.sms.budgetLimit)
    problems.push(`the daily budget of ${s.sms.budgetLimit} codes is spent`)
  for (const p of s.sms.providers)
    if (p.failing) problems.push(`${p.provider} failing (${p.lastError?.kind ?? 'error'})`)
  if (problems.length) return { ok: false, detail: problems.join('; ') }
  return { ok: true, detail: `${s.sms.providers.length} provider(s), none failing` }
}

function syncCheck(s: BranchState): ReadinessCheck {
  const { pending, parked, oldestPendingAgeSeconds: age } = s.outbox
  if (!s.sync.configured)
    return { ok: true, detail: `no CRM configured; ${pending} event(s) wait in the outbox` }
  const problems: string[] = []
  if (parked > 0) problems.push(`${parked} event(s) parked (refused by the CRM)`)
  if (age !== null && age > SYNC_BEHIND_SECONDS)
    problems.push(
      `behind: the oldest of ${pending} pending event(s) is ${Math.floor(age / 60)} min old`,
    )
  if (problems.length) return { ok: false, detail: problems.join('; ') }
  return { ok: true, detail: `${pending} event(s) pending` }
}
