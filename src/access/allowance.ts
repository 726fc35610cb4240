import type { Db } from '../db/open.js'
import type { AllowanceStatements } from '../db/allowance.js'
import type { Gate } from '../gate/gate.js'
import { parseMac, type Mac } from '../mac.js'
import { localDate } from '../time.js'
import type { DeviceAccess } from './device-access.js'
import { holderOf, type Holder } from './tiers.js'

/**
 * The data allowance per customer per day (gate.quota.dailyMB, issue 17). Each sweep reads the
 * kernel's per-device byte counts (the gate's `usage`), adds what is new to the day of the
 * device's holder (the customer, across all their devices and MACs; or the staff pass), and
 * slows every live device of a holder whose day is used up to the floor rate, through the one
 * change path. A new local day gives them their tier's rate back.
 *
 * Counts survive reconnects and restarts because they live in the database; the kernel's counts
 * are only read as increments. What a device moves after the last sweep before it is cut off
 * (at most one presence interval) is not counted.
 */
export interface AllowanceDeps {
  db: Db
  gate: Pick<Gate, 'usage'>
  access: Pick<DeviceAccess, 'setDeviceState'>
  rows: AllowanceStatements
  /** Bytes per holder per day (dailyMB × 10^6); null: counted, never slowed. */
  dailyBytes: number | null
  timeZone: string
  log: (line: string) => void
}

export interface AllowanceReport {
  /** Bytes added to holders' days by this sweep. */
  counted: number
  slowed: Mac[]
  restored: Mac[]
  failed: Mac[]
}

export function createAllowance(deps: AllowanceDeps) {
  const { rows } = deps
  const dayOf = (now: number) => localDate(now, deps.timeZone)

  /** Adds the increments of the kernel's counts to the holders' days, in one transaction. */
  const count = deps.db.transaction(
    (usage: ReadonlyMap<Mac, { downBytes: number; upBytes: number }>, now: number) => {
      const day = dayOf(now)
      let counted = 0
      for (const [mac, u] of usage) {
        const total = u.downBytes + u.upBytes
        const before = rows.counter(mac)
        // A count lower than the last one restarted (the device was let through anew).
        const fresh = before === undefined || total < before ? total : total - before
        if (before !== total) rows.setCounter(mac, total)
        if (fresh <= 0) continue
        const a = rows.holderOf(mac, now)
        const holder = a ? holderOf(a) : null
        if (!holder) continue
        rows.add(holder, day, fresh)
        counted += fresh
      }
      return counted
    },
  )

  /** What the allowance says about the live devices now: which to slow, which to restore. */
  const plan = (now: number) => {
    const day = dayOf(now)
    const slow: Array<{ mac: Mac; holder: Holder }> = []
    const restore: Mac[] = []
    for (const r of rows.liveHolders(day, now)) {
      const mac = parseMac(r.mac)
      const holder = holderOf(r)
      if (!mac || !holder) continue
      const over = deps.dailyBytes !== null && r.used >= deps.dailyBytes
      if (over && r.slowed === 0) slow.push({ mac, holder })
      else if (!over && r.slowed === 1) restore.push(mac)
    }
    return { day, slow, restore }
  }

  return {
    async sweep(now: number): Promise<AllowanceReport> {
      const counted = count(await deps.gate.usage(), now)
      const report: AllowanceReport = { counted, slowed: [], restored: [], failed: [] }
      const { day, slow, restore } = plan(now)
      for (const { mac, holder } of slow) {
        try {
          await deps.access.setDeviceState({
            next: 'rate',
            mac,
            slowed: true,
            reason: 'quota',
            actor: 'system',
          })
          rows.markSlowed(holder, day, now)
          report.slowed.push(mac)
        } catch (err) {
          report.failed.push(mac)
          deps.log(`allowance: ${mac}: ${(err as Error).message}`)
        }
      }
      for (const mac of restore) {
        try {
          await deps.access.setDeviceState({
            next: 'rate',
            mac,
            slowed: false,
            reason: 'quota-reset',
            actor: 'system',
          })
          report.restored.push(mac)
        } catch (err) {
          report.failed.push(mac)
          deps.log(`allowance: ${mac}: ${(err as Error).message}`)
        }
      }
      return report
    },
    /** Whether the branch has a daily allowance at all (`gate.quota.dailyMB`). */
    enabled: deps.dailyBytes !== null,
    /** Whether the holder's allowance for the day of `now` is used up (never, without one). */
    usedUp(holder: Holder, now: number): boolean {
      return deps.dailyBytes !== null && rows.used(holder, dayOf(now)) >= deps.dailyBytes
    },
    /** Bytes the holder may still move today; null without an allowance. */
    remaining(holder: Holder, now: number): number | null {
      if (deps.dailyBytes === null) return null
      return Math.max(0, deps.dailyBytes - rows.used(holder, dayOf(now)))
    },
    /** Bytes the holder moved today. */
    used(holder: Holder, now: number): number {
      return rows.used(holder, dayOf(now))
    },
  }
}
export type Allowance = ReturnType<typeof createAllowance>
