import type { Clock } from '../clock.js'
import type { AccessStatements, AuthorizationRow } from '../db/access.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { GateError } from '../errors.js'
import type { Mac } from '../mac.js'
import type { DeviceRate, Gate } from '../gate/gate.js'
import { noMetrics, secondsSince, type Metrics } from '../observe/metrics.js'
import { holderOf, rateOf, type Holder, type Tier, type TierRates } from './tiers.js'

/** Why a device's access changed; recorded in the audit log. */
export type AccessReason =
  | 'login'
  | 'manual-allow'
  | 'revoke'
  | 'expiry'
  | 'idle'
  | 'staff'
  | 'returning'
  // Issue 17: access without a code, a staff pass, an extension, a verification from the
  // degraded tier, and the daily allowance running out (or a new day restoring the rate).
  | 'unverified'
  | 'pass'
  | 'extend'
  | 'upgrade'
  | 'quota'
  | 'quota-reset'

export type DeviceChange =
  | {
      next: 'allowed'
      mac: Mac
      /** The customer it is for, as known before the change (a login's `along` may name it). */
      customerId: number | null
      until: number
      reason: AccessReason
      actor: string
      /** Default: 'staff' for reason staff, 'manual' for manual-allow, else 'verified'. */
      tier?: Tier
      /** The staff pass, for tier 'pass'. */
      passId?: number | null
      /** Extensions the session has had (an extension carries the count on). */
      extensions?: number
    }
  | { next: 'blocked'; mac: Mac; reason: AccessReason; actor: string }
  | {
      /** The device keeps its access; only its rate changes (the daily allowance). */
      next: 'rate'
      mac: Mac
      /** true: held at the floor, and told so on its next page; false: its tier's rate again. */
      slowed: boolean
      reason: 'quota' | 'quota-reset'
      actor: string
    }

type Allowed = Extract<DeviceChange, { next: 'allowed' }>

/**
 * Writes that belong in the same commit as a device's access: a login's used code and its
 * customer. Runs inside the transaction, before the access is recorded, and names the customer
 * the access is for; a throw rolls the whole commit back.
 */
export type AlongWith = (now: number) => { customerId: number | null }

export interface DeviceAccessDeps {
  db: Db
  gate: Gate
  clock: Clock
  access: AccessStatements
  audit: AuditStatements
  log: (line: string) => void
  /**
   * A visitor's arrival, by the visit rules (src/visits/book.ts): a customer id, or a pass's id
   * negated. Returns the open visit's id.
   */
  visits: { arrive(visitor: number, at: number): string }
  /** Each tier's rate (src/access/tiers.ts); default: no limits. */
  rates?: TierRates
  /** Whether the holder's daily allowance is used up (src/access/allowance.ts); default: never. */
  usedUp?: (holder: Holder, now: number) => boolean
  /** Each firewall change is timed; default: nowhere. */
  metrics?: Metrics
}

const NO_RATES: TierRates = {
  verified: { downKbps: null, upKbps: null },
  unverified: { downKbps: null, upKbps: null },
  pass: { downKbps: null, upKbps: null },
  manual: { downKbps: null, upKbps: null },
  floorKbps: 256,
}

export function tierOf(c: Allowed): Tier {
  if (c.tier) return c.tier
  if (c.reason === 'staff') return 'staff'
  if (c.reason === 'manual-allow') return 'manual'
  return 'verified'
}

/**
 * The one path by which a device's access changes: login, manual allow, revoke, expiry, idle,
 * staff, the tiers of issue 17 and the allowance all call `setDeviceState`. The firewall is told
 * first; only what it accepted is recorded, together with the audit line, in one transaction.
 */
export function createDeviceAccess(deps: DeviceAccessDeps) {
  const { db, gate, clock, access, audit } = deps
  const rates = deps.rates ?? NO_RATES
  const usedUp = deps.usedUp ?? (() => false)

  /** The rate an allowed change gets, and whether it starts slowed (its holder used the day up). */
  const rateFor = (c: Allowed, now: number): { rate: DeviceRate | null; slowed: boolean } => {
    const tier = tierOf(c)
    const holder = holderOf({ tier, customer_id: c.customerId, pass_id: c.passId ?? null })
    const slowed = holder !== null && usedUp(holder, now)
    return { rate: rateOf(rates, tier, slowed), slowed }
  }
  const metrics = deps.metrics ?? noMetrics

  const recordAllowed = db.transaction(
    (
      c: Allowed,
      given: { rate: DeviceRate | null; slowed: boolean },
      now: number,
      along?: AlongWith,
    ) => {
      const customerId = along ? along(now).customerId : c.customerId
      const tier = tierOf(c)
      const passId = c.passId ?? null
      access.endFor(c.mac, now, 'replaced')
      access.grant({
        mac: c.mac,
        customerId,
        now,
        until: c.until,
        reason: c.reason,
        tier,
        downKbps: given.rate?.downKbps ?? null,
        upKbps: given.rate?.upKbps ?? null,
        slowed: given.slowed,
        notice: given.slowed,
        extensions: c.extensions ?? 0,
        passId,
      })
      const visitor = customerId ?? (passId === null ? null : -passId)
      const visitId = visitor === null ? null : deps.visits.arrive(visitor, now)
      audit.record({
        at: now,
        actor: c.actor,
        action: 'device.allow',
        subject: c.mac,
        reason: c.reason,
        detail: {
          until: c.until,
          customerId,
          visitId,
          tier,
          ...(passId === null ? {} : { passId }),
          ...(given.rate ? { rate: given.rate } : {}),
          ...(given.slowed ? { slowed: true } : {}),
        },
      })
      return visitId
    },
  )
  const recordBlocked = db.transaction(
    (c: Extract<DeviceChange, { next: 'blocked' }>, now: number) => {
      const ended = access.endFor(c.mac, now, c.reason)
      // The kernel's byte counts of the device went with it.
      access.forgetCounter(c.mac)
      audit.record({
        at: now,
        actor: c.actor,
        action: 'device.revoke',
        subject: c.mac,
        reason: c.reason,
        detail: { authorizationsEnded: ended },
      })
    },
  )
  const recordRate = db.transaction(
    (
      c: Extract<DeviceChange, { next: 'rate' }>,
      live: AuthorizationRow,
      rate: DeviceRate | null,
      now: number,
    ) => {
      access.setRate({
        id: live.id,
        downKbps: rate?.downKbps ?? null,
        upKbps: rate?.upKbps ?? null,
        slowed: c.slowed,
      })
      audit.record({
        at: now,
        actor: c.actor,
        action: 'device.rate',
        subject: c.mac,
        reason: c.reason,
        detail: { rate, slowed: c.slowed, tier: live.tier },
      })
    },
  )

  const failed = (change: DeviceChange, err: unknown): never => {
    const detail = err instanceof Error ? err.message : String(err)
    deps.log(`gate: ${change.next} ${change.mac} (${change.reason}) failed: ${detail}`)
    audit.record({
      at: clock.now(),
      actor: change.actor,
      action:
        change.next === 'allowed'
          ? 'device.allow.failed'
          : change.next === 'rate'
            ? 'device.rate.failed'
            : 'device.revoke.failed',
      subject: change.mac,
      reason: change.reason,
      detail: { error: detail },
    })
    throw err instanceof GateError ? err : new GateError(detail)
  }

  return {
    /**
     * Changes a device's access. `along` adds writes to the same commit (see AlongWith); if
     * recording fails after the firewall let the device through, and the device has no other
     * live access, the firewall is told to take it back.
     */
    async setDeviceState(
      change: DeviceChange,
      along?: AlongWith,
    ): Promise<{ visitId: string | null }> {
      if (change.next === 'rate') {
        const live = access.live(change.mac, clock.now())
        if (!live) return { visitId: null }
        const rate = rateOf(rates, live.tier as Tier, change.slowed)
        try {
          await gate.setRate(change.mac, rate)
          if (change.slowed) await gate.setNotice(change.mac, true)
          else if (live.notice) await gate.setNotice(change.mac, false)
        } catch (err) {
          failed(change, err)
        }
        recordRate(change, live, rate, clock.now())
        return { visitId: null }
      }
      const given =
        change.next === 'allowed' ? rateFor(change, clock.now()) : { rate: null, slowed: false }
      const t0 = performance.now()
      try {
        if (change.next === 'allowed') {
          await gate.letThrough(change.mac, change.until, given.rate)
          // Slowed from the start: told so on its next page. Let through again at full rate: a
          // notice still pending from before is no longer true.
          if (given.slowed) await gate.setNotice(change.mac, true)
          else if (access.live(change.mac, clock.now())?.notice)
            await gate.setNotice(change.mac, false)
        } else await gate.revoke(change.mac)
        metrics.timing(
          { op: 'firewall', change: change.next === 'allowed' ? 'allow' : 'revoke' },
          secondsSince(t0),
        )
      } catch (err) {
        failed(change, err)
      }
      const now = clock.now()
      if (change.next === 'allowed') {
        try {
          return { visitId: recordAllowed(change, given, now, along) }
        } catch (err) {
          if (!access.live(change.mac, now)) await gate.revoke(change.mac).catch(() => {})
          throw err
        }
      }
      recordBlocked(change, now)
      return { visitId: null }
    },
    /**
     * Start-up: the firewall's let-through set rebuilt from the live authorizations, with their
     * rates and notices, in one batch. Returns how many devices it holds.
     */
    async rebuildGate(): Promise<number> {
      const live = access.allLive(clock.now())
      await gate.replaceAll(
        live.map((a) => ({
          mac: a.mac as Mac,
          until: a.ends_at,
          rate:
            a.down_kbps === null && a.up_kbps === null
              ? null
              : { downKbps: a.down_kbps, upKbps: a.up_kbps },
          notice: a.notice === 1,
        })),
      )
      // The rebuilt table counts every device from zero.
      access.forgetCounters()
      return live.length
    },
    /** The device's live authorization, if any. */
    liveUntil(mac: Mac): number | null {
      return access.live(mac, clock.now())?.ends_at ?? null
    },
    /** The device's live authorization row (tier, rate, extensions...), if any. */
    live(mac: Mac): AuthorizationRow | null {
      return access.live(mac, clock.now()) ?? null
    },
    /** The device was told what its notice said: its requests are no longer sent to the portal. */
    async noticeShown(mac: Mac): Promise<void> {
      if (!access.live(mac, clock.now())?.notice) return
      await gate.setNotice(mac, false)
      access.clearNotice(mac)
    },
  }
}
export type DeviceAccess = ReturnType<typeof createDeviceAccess>
