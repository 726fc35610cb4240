import { createHmac, randomInt, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import type { PassRow, TierStatements } from '../db/tiers.js'
import {
  InvalidPassError,
  PassUnusableError,
  RateLimitedError,
  ValidationError,
  type DomainError,
} from '../errors.js'
import type { Mac } from '../mac.js'
import { startOfNextLocalDay } from '../time.js'
import type { DeviceAccess } from './device-access.js'

/**
 * Staff-issued passes (issue 17): a manager (console or `branchgate pass`) gives a walk-in
 * without a usable mobile a one-time code; typed on the portal, it lets one device through for
 * `tiers.pass.minutes`. The code is 8 digits: 3 that find the pass and 5 checked against an
 * HMAC in constant time. Guessing is held back like codes are: wrong tries per pass (then the
 * pass is spent), per device and per branch, each within an hour.
 */

/** The most minutes a manager may give one pass (console or CLI): a week. */
export const PASS_MAX_MINUTES = 7 * 24 * 60
/** Wrong tries a pass takes before it is spent. */
export const PASS_TRIES = 5
/** Wrong pass codes one device may type per hour. */
export const PASS_TRIES_PER_DEVICE_PER_HOUR = 5
/** Wrong pass codes the whole branch may see per hour (many devices, or forged MACs). */
export const PASS_TRIES_PER_BRANCH_PER_HOUR = 30

const HOUR = 3_600_000

export interface PassesDeps {
  db: Db
  clock: Clock
  /** Per-install secret: the codes' HMAC key. */
  secret: Buffer
  access: Pick<DeviceAccess, 'setDeviceState' | 'live'>
  audit: AuditStatements
  rows: TierStatements
  /** tiers.pass.minutes: minutes of access a pass gives (a manager may give another figure). */
  minutes: number
  timeZone: string
}

/** A pass just issued: the code is shown once and never stored. */
export interface IssuedPass {
  id: number
  /** 8 digits. */
  code: string
  /** "123 45678": how it is shown and printed. */
  display: string
  name: string | null
  minutes: number
  /** Unused by then, it can no longer be used: the end of the local day. */
  redeemBy: number
}

function secretHmac(key: Buffer, locator: string, issuedAt: number, digits: string): string {
  return createHmac('sha256', key)
    .update(`branchgate pass v1 ${locator} ${issuedAt} ${digits}`)
    .digest('hex')
}

/** Digits only: people type passes with spaces and dashes, as they are printed. */
export function readPassCode(typed: string): string | null {
  const digits = typed.replace(/[\s\-.]/g, '')
  return /^[1-9]\d{7}$/.test(digits) ? digits : null
}

export function createPasses(deps: PassesDeps) {
  const { db, rows, clock } = deps

  const issue = db.transaction(
    (p: { name: string | null; minutes: number; actor: string }, now: number): IssuedPass => {
      rows.retirePasses(now)
      const live = rows.liveLocators()
      if (live.size >= 900) throw new Error('900 passes are usable at once already')
      let locator = ''
      do locator = String(randomInt(100, 1000))
      while (live.has(locator))
      const digits = String(randomInt(0, 100_000)).padStart(5, '0')
      const redeemBy = startOfNextLocalDay(now, deps.timeZone)
      const id = rows.insertPass({
        locator,
        secretHmac: secretHmac(deps.secret, locator, now, digits),
        name: p.name,
        minutes: p.minutes,
        issuedBy: p.actor,
        now,
        redeemBy,
      })
      deps.audit.record({
        at: now,
        actor: p.actor,
        action: 'pass.issue',
        subject: String(id),
        detail: { minutes: p.minutes, redeemBy, named: p.name !== null },
      })
      const code = `${locator}${digits}`
      return {
        id,
        code,
        display: `${locator} ${digits}`,
        name: p.name,
        minutes: p.minutes,
        redeemBy,
      }
    },
  )

  /**
   * Checks a typed code for a device: the pass, or the refusal (returned, not thrown, so the
   * counted wrong try is committed).
   */
  const check = db.transaction((code: string, mac: Mac, now: number): PassRow | DomainError => {
    const byDevice = rows.triesByMac(mac, now - HOUR)
    if (byDevice >= PASS_TRIES_PER_DEVICE_PER_HOUR) return new RateLimitedError('pass', 3600)
    if (rows.triesAll(now - HOUR) >= PASS_TRIES_PER_BRANCH_PER_HOUR)
      return new RateLimitedError('passBranch', 3600)
    rows.retirePasses(now)
    const pass = rows.livePass(code.slice(0, 3))
    const right =
      pass !== undefined &&
      (() => {
        const a = Buffer.from(secretHmac(deps.secret, pass.locator, pass.issued_at, code.slice(3)))
        const b = Buffer.from(pass.secret_hmac)
        return a.length === b.length && timingSafeEqual(a, b)
      })()
    if (pass && right) {
      if (pass.status === 'redeemed' && pass.mac !== mac) return new PassUnusableError('used')
      return pass
    }
    rows.recordTry(now, mac)
    if (pass) {
      const attempts = rows.countPassTry(pass.id)
      if (attempts >= PASS_TRIES) {
        rows.setPassStatus(pass.id, 'exhausted')
        deps.audit.record({
          at: now,
          actor: 'portal',
          action: 'pass.exhausted',
          subject: String(pass.id),
          detail: { mac },
        })
      }
    }
    return new InvalidPassError()
  })

  return {
    /** Issues a pass (audited); `minutes` defaults to tiers.pass.minutes. */
    issue(p: { name?: string | null; minutes?: number; actor: string }): IssuedPass {
      const name = p.name?.trim() ? p.name.trim().slice(0, 80) : null
      return issue({ name, minutes: p.minutes ?? deps.minutes, actor: p.actor }, clock.now())
    },

    /**
     * Lets the device through on the pass the code names. The same device may use its pass
     * again while it lasts; another device may not.
     */
    async redeem(typed: string, mac: Mac): Promise<{ until: number; name: string | null }> {
      const code = readPassCode(typed)
      if (code === null) throw new ValidationError({ pass: 'error.pass.format' })
      const now = clock.now()
      const pass = check(code, mac, now)
      if (!('secret_hmac' in pass)) throw pass
      const until = pass.status === 'redeemed' ? pass.ends_at! : now + pass.minutes * 60_000
      await deps.access.setDeviceState(
        {
          next: 'allowed',
          mac,
          customerId: null,
          until,
          reason: 'pass',
          actor: 'portal',
          tier: 'pass',
          passId: pass.id,
        },
        (at) => {
          // A parallel request from another device may have used it meanwhile.
          const fresh = rows.passById(pass.id)
          if (fresh?.status === 'issued') rows.redeemPass(pass.id, mac, at, until)
          else if (fresh?.status !== 'redeemed' || fresh.mac !== mac)
            throw new PassUnusableError('used')
          return { customerId: null }
        },
      )
      return { until, name: pass.name }
    },

    /** Passes issued since `since`, newest first. */
    since: (since: number) => rows.passesSince(since),

    /** Ends a pass: unused, it can no longer be; in use, its device is cut off. Audited. */
    async revoke(id: number, actor: string): Promise<boolean> {
      const pass = rows.passById(id)
      if (!pass || (pass.status !== 'issued' && pass.status !== 'redeemed')) return false
      const now = clock.now()
      rows.setPassStatus(id, 'revoked')
      deps.audit.record({ at: now, actor, action: 'pass.revoke', subject: String(id) })
      const mac = pass.mac as Mac | null
      if (mac && deps.access.live(mac)?.pass_id === id)
        await deps.access.setDeviceState({ next: 'blocked', mac, reason: 'revoke', actor })
      return true
    },
  }
}
export type Passes = ReturnType<typeof createPasses>
