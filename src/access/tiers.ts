import type { Config } from '../config.js'
import type { DeviceRate } from '../gate/gate.js'

/**
 * What kind of access a device has. `verified`: a code (or "welcome back"); `unverified`: let
 * through without a code because codes could not be sent; `pass`: a staff-issued pass;
 * `staff`: a staff device; `manual`: let through by hand (`branchgate allow`).
 */
export type Tier = 'verified' | 'unverified' | 'pass' | 'staff' | 'manual'
export const TIERS: readonly Tier[] = ['verified', 'unverified', 'pass', 'staff', 'manual']

/** The rates each tier gets, and the floor a used-up allowance slows a device to. kbit/s. */
export interface TierRates {
  verified: DeviceRate
  unverified: DeviceRate
  pass: DeviceRate
  manual: DeviceRate
  /** gate.quota.floorKbps */
  floorKbps: number
}

/** The rates of the config: each tier's own, else gate.rate's. Staff devices have none. */
export function tierRatesOf(config: Config): TierRates {
  const g = config.gate.rate
  const t = config.tiers
  const base = { downKbps: g.downKbps, upKbps: g.upKbps }
  return {
    verified: {
      downKbps: t.verified.downKbps ?? g.downKbps,
      upKbps: t.verified.upKbps ?? g.upKbps,
    },
    unverified: {
      downKbps: Math.min(t.unverified.kbps, g.downKbps ?? Infinity),
      upKbps: Math.min(t.unverified.kbps, g.upKbps ?? Infinity),
    },
    pass: { downKbps: t.pass.downKbps ?? g.downKbps, upKbps: t.pass.upKbps ?? g.upKbps },
    manual: base,
    floorKbps: config.gate.quota.floorKbps,
  }
}

/**
 * The rate a device of `tier` gets; `slowed`: its holder's allowance ran out today, so it goes
 * no faster than the floor each way. null: no limit of its own.
 */
export function rateOf(rates: TierRates, tier: Tier, slowed: boolean): DeviceRate | null {
  const own: DeviceRate = tier === 'staff' ? { downKbps: null, upKbps: null } : rates[tier]
  const cap = (v: number | null) => (slowed ? Math.min(v ?? Infinity, rates.floorKbps) : v)
  const r = { downKbps: cap(own.downKbps), upKbps: cap(own.upKbps) }
  return r.downKbps === null && r.upKbps === null ? null : r
}

/**
 * Who a device's data counts against: the customer (all their devices) or the pass. Devices of
 * other tiers have no allowance. Encoded as stored in data_usage.holder.
 */
export type Holder = `c:${number}` | `p:${number}`

export function holderOf(a: {
  tier: string
  customer_id: number | null
  pass_id: number | null
}): Holder | null {
  if (a.tier === 'verified' && a.customer_id !== null) return `c:${a.customer_id}`
  if (a.tier === 'pass' && a.pass_id !== null) return `p:${a.pass_id}`
  return null
}
