import type { SessionStatements } from '../db/sessions.js'
import { parseMac, type Mac } from '../mac.js'
import type { DeviceAccess } from './device-access.js'

/** Hours a staff device stays through; renewed whenever it is seen with less than half left. */
export const STAFF_ACCESS_HOURS = 24

export interface SessionJobDeps {
  access: Pick<DeviceAccess, 'setDeviceState' | 'liveUntil'>
  sessions: SessionStatements
  /** session.idleMinutes; 0 means never. */
  idleMinutes: number
  /** Staff MACs from the config. */
  staffMacs: ReadonlySet<string>
  /**
   * ms; a device's stored last-seen time lags the presence sweep's by less than this (its
   * `seenStepMs`), so idleness is judged that much late, never early.
   */
  seenStepMs: number
  log: (line: string) => void
}

type Outcome = { changed: Mac[]; failed: Mac[] }

async function each(
  macs: Iterable<string>,
  change: (mac: Mac) => Promise<unknown>,
  log: (l: string) => void,
): Promise<Outcome> {
  const out: Outcome = { changed: [], failed: [] }
  for (const text of macs) {
    const mac = parseMac(text)
    if (!mac) continue
    try {
      await change(mac)
      out.changed.push(mac)
    } catch (err) {
      // setDeviceState already logged and audited it; the next run tries again.
      out.failed.push(mac)
      log(`session: ${mac}: ${(err as Error).message}`)
    }
  }
  return out
}

/** Ends, through the one state-change path, every access whose time ran out. */
export function expireSessions(deps: SessionJobDeps, now: number): Promise<Outcome> {
  return each(
    deps.sessions.expired(now),
    (mac) =>
      deps.access.setDeviceState({ next: 'blocked', mac, reason: 'expiry', actor: 'system' }),
    deps.log,
  )
}

/**
 * Revokes devices with no sign of life for session.idleMinutes (within the sweep's step: it writes
 * a present device's last-seen time once a step, so the threshold allows for that and errs late,
 * never early); their visit closes by the visit rules.
 */
export function revokeIdle(deps: SessionJobDeps, now: number): Promise<Outcome> {
  if (deps.idleMinutes <= 0) return Promise.resolve({ changed: [], failed: [] })
  const idle = deps.sessions
    .idleSince(now, now - deps.idleMinutes * 60_000 - deps.seenStepMs)
    .filter((r) => !deps.staffMacs.has(r.mac))
  return each(
    idle.map((r) => r.mac),
    (mac) => deps.access.setDeviceState({ next: 'blocked', mac, reason: 'idle', actor: 'system' }),
    deps.log,
  )
}

/** Every staff device: the config's list and the devices marked as staff. */
export function staffMacsOf(deps: Pick<SessionJobDeps, 'sessions' | 'staffMacs'>): Set<Mac> {
  const all = new Set<Mac>()
  for (const text of [...deps.staffMacs, ...deps.sessions.staffDevices()]) {
    const mac = parseMac(text)
    if (mac) all.add(mac)
  }
  return all
}

/**
 * Lets staff devices through without the portal (at start, and whenever the presence sweep or
 * the portal sees one), renewing access that has less than half its time left.
 */
export function admitStaff(
  deps: SessionJobDeps,
  macs: Iterable<string>,
  now: number,
): Promise<Outcome> {
  const hoursMs = STAFF_ACCESS_HOURS * 3_600_000
  const due = [...macs].filter((m) => {
    const mac = parseMac(m)
    if (!mac) return false
    const until = deps.access.liveUntil(mac)
    return until === null || until - now < hoursMs / 2
  })
  return each(
    due,
    (mac) =>
      deps.access.setDeviceState({
        next: 'allowed',
        mac,
        customerId: null,
        until: now + hoursMs,
        reason: 'staff',
        actor: 'system',
      }),
    deps.log,
  )
}
