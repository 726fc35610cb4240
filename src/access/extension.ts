import type { AuthorizationRow } from '../db/access.js'
import { NotExtendableError } from '../errors.js'
import type { Mac } from '../mac.js'
import type { DeviceAccess } from './device-access.js'

/** session.extend: extending a session near its end without a new code (RFC 8908). */
export interface ExtendPolicy {
  /** Extensions one session may get; 0: never. */
  times: number
  /** Minutes each one adds. */
  minutes: number
  /** Minutes before the end from which it is offered. */
  withinMinutes: number
}

/**
 * Until when the session `live` would run if extended at `now`, or null when it cannot be:
 * only verified customers' sessions, at most `times` times, in the last `withinMinutes`, and
 * never past the branch's closing time (`closesAt`, null: no opening hours or closed now).
 */
export function extendedUntil(
  live: Pick<AuthorizationRow, 'tier' | 'ends_at' | 'extensions'> | null,
  now: number,
  policy: ExtendPolicy,
  closesAt: number | null,
): number | null {
  if (!live || live.tier !== 'verified' || live.ends_at <= now) return null
  if (live.extensions >= policy.times) return null
  if (live.ends_at - now > policy.withinMinutes * 60_000) return null
  let until = live.ends_at + policy.minutes * 60_000
  if (closesAt !== null) until = Math.min(until, closesAt)
  return until > live.ends_at ? until : null
}

/** Extends the device's session through the one change path (reason 'extend', audited). */
export async function extendSession(
  deps: {
    access: Pick<DeviceAccess, 'setDeviceState' | 'live'>
    policy: ExtendPolicy
    closesAt: (now: number) => number | null
  },
  mac: Mac,
  now: number,
): Promise<number> {
  const live = deps.access.live(mac)
  const until = extendedUntil(live, now, deps.policy, deps.closesAt(now))
  if (!live || until === null) throw new NotExtendableError()
  await deps.access.setDeviceState({
    next: 'allowed',
    mac,
    customerId: live.customer_id,
    until,
    reason: 'extend',
    actor: 'portal',
    tier: 'verified',
    extensions: live.extensions + 1,
  })
  return until
}
