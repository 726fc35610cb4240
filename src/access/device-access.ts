import type { Clock } from '../clock.js'
import type { AccessStatements } from '../db/access.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import { GateError } from '../errors.js'
import type { Mac } from '../mac.js'
import type { Gate } from '../gate/gate.js'
import { noMetrics, secondsSince, type Metrics } from '../observe/metrics.js'

/** Why a device's access changed; recorded in the audit log. */
export type AccessReason =
  'login' | 'manual-allow' | 'revoke' | 'expiry' | 'idle' | 'staff' | 'returning'

export type DeviceChange =
  | {
      next: 'allowed'
      mac: Mac
      customerId: number | null
      until: number
      reason: AccessReason
      actor: string
    }
  | { next: 'blocked'; mac: Mac; reason: AccessReason; actor: string }

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
  /** A customer's arrival, by the visit rules (src/visits/book.ts): returns the open visit's id. */
  visits: { arrive(customerId: number, at: number): string }
  /** Each firewall change is timed; default: nowhere. */
  metrics?: Metrics
}

/**
 * The one path by which a device's access changes: login, manual allow, revoke, expiry, idle and
 * staff all call `setDeviceState`. The firewall is told first; only what it accepted is
 * recorded, together with the audit line, in one transaction.
 */
export function createDeviceAccess(deps: DeviceAccessDeps) {
  const { db, gate, clock, access, audit } = deps
  const metrics = deps.metrics ?? noMetrics

  const recordAllowed = db.transaction(
    (c: Extract<DeviceChange, { next: 'allowed' }>, now: number, along?: AlongWith) => {
      const customerId = along ? along(now).customerId : c.customerId
      access.endFor(c.mac, now, 'replaced')
      access.grant({ mac: c.mac, customerId, now, until: c.until, reason: c.reason })
      const visitId = customerId === null ? null : deps.visits.arrive(customerId, now)
      audit.record({
        at: now,
        actor: c.actor,
        action: 'device.allow',
        subject: c.mac,
        reason: c.reason,
        detail: { until: c.until, customerId, visitId },
      })
      return visitId
    },
  )
  const recordBlocked = db.transaction(
    (c: Extract<DeviceChange, { next: 'blocked' }>, now: number) => {
      const ended = access.endFor(c.mac, now, c.reason)
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
      const t0 = performance.now()
      try {
        if (change.next === 'allowed') await gate.letThrough(change.mac, change.until)
        else await gate.revoke(change.mac)
        metrics.timing(
          { op: 'firewall', change: change.next === 'allowed' ? 'allow' : 'revoke' },
          secondsSince(t0),
        )
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err)
        deps.log(`gate: ${change.next} ${change.mac} (${change.reason}) failed: ${detail}`)
        audit.record({
          at: clock.now(),
          actor: change.actor,
          action: change.next === 'allowed' ? 'device.allow.failed' : 'device.revoke.failed',
          subject: change.mac,
          reason: change.reason,
          detail: { error: detail },
        })
        throw err instanceof GateError ? err : new GateError(detail)
      }
      const now = clock.now()
      if (change.next === 'allowed') {
        try {
          return { visitId: recordAllowed(change, now, along) }
        } catch (err) {
          if (!access.live(change.mac, now)) await gate.revoke(change.mac).catch(() => {})
          throw err
        }
      }
      recordBlocked(change, now)
      return { visitId: null }
    },
    /**
     * Start-up: the firewall's let-through set rebuilt from the live authorizations, in one
     * batch. Returns how many devices it holds.
     */
    async rebuildGate(): Promise<number> {
      const live = access.allLive(clock.now())
      await gate.replaceAll(live.map((a) => ({ mac: a.mac as Mac, until: a.ends_at })))
      return live.length
    },
    /** The device's live authorization, if any. */
    liveUntil(mac: Mac): number | null {
      return access.live(mac, clock.now())?.ends_at ?? null
    },
  }
}
export type DeviceAccess = ReturnType<typeof createDeviceAccess>
