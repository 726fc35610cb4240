import type { Clock } from '../clock.js'
import type { Mac } from '../mac.js'
import type { DeviceRate, Gate, GateCounter, GateEntry, GateUsage } from './gate.js'

type Verb = 'letThrough' | 'revoke' | 'replaceAll' | 'setRate' | 'setNotice'

export interface DryRunGate extends Gate {
  /** Every call made, in order: what a real firewall would have been told. */
  readonly calls: ReadonlyArray<{
    verb: Verb
    mac?: Mac
    until?: number
    rate?: DeviceRate | null
    notice?: boolean
  }>
  /** Counters the test (or demo) sets by hand; only MACs let through are reported. */
  readonly traffic: Map<Mac, GateCounter>
  /** Bytes each way the test sets by hand per device; only MACs let through are reported. */
  readonly bytes: Map<Mac, GateUsage>
  /** The rate each let-through device has now (null: none of its own). */
  readonly rates: ReadonlyMap<Mac, DeviceRate | null>
  /** Devices whose next plain-HTTP request would go to the portal. */
  readonly notices: ReadonlySet<Mac>
}

/**
 * A firewall that only records and logs what it would do. For the demo on a laptop and for fast
 * tests; it lets nobody through for real.
 */
export function createDryRunGate(clock: Clock, log: (line: string) => void = () => {}): DryRunGate {
  const entries = new Map<Mac, number>()
  const calls: Array<{
    verb: Verb
    mac?: Mac
    until?: number
    rate?: DeviceRate | null
    notice?: boolean
  }> = []
  const traffic = new Map<Mac, GateCounter>()
  const bytes = new Map<Mac, GateUsage>()
  const rates = new Map<Mac, DeviceRate | null>()
  const notices = new Set<Mac>()
  const shown = (r: DeviceRate | null | undefined) =>
    r ? ` at ${r.downKbps ?? '∞'}/${r.upKbps ?? '∞'} kbit/s down/up` : ''
  const live = (mac: Mac) => (entries.get(mac) ?? 0) > clock.now()
  return {
    calls,
    traffic,
    bytes,
    rates,
    notices,
    async letThrough(mac, until, rate = null) {
      entries.set(mac, until)
      rates.set(mac, rate)
      calls.push({ verb: 'letThrough', mac, until, ...(rate ? { rate } : {}) })
      log(
        `[gate dry-run] would let ${mac} through until ${new Date(until).toISOString()}${shown(rate)}`,
      )
    },
    async revoke(mac) {
      entries.delete(mac)
      rates.delete(mac)
      notices.delete(mac)
      // As the kernel does: a revoked device's counts go with it.
      bytes.delete(mac)
      calls.push({ verb: 'revoke', mac })
      log(`[gate dry-run] would revoke ${mac}`)
    },
    async replaceAll(list) {
      entries.clear()
      rates.clear()
      notices.clear()
      // As the kernel does: the rebuilt table starts its counts at zero.
      bytes.clear()
      const now = clock.now()
      for (const e of list) {
        if (e.until <= now) continue
        entries.set(e.mac, e.until)
        rates.set(e.mac, e.rate ?? null)
        if (e.notice) notices.add(e.mac)
      }
      calls.push({ verb: 'replaceAll' })
      log(`[gate dry-run] would rebuild the set with ${entries.size} device(s)`)
    },
    async setRate(mac, rate) {
      if (entries.has(mac)) rates.set(mac, rate)
      calls.push({ verb: 'setRate', mac, rate })
      log(`[gate dry-run] would set the rate of ${mac}${shown(rate) || ' to no limit'}`)
    },
    async setNotice(mac, on) {
      if (on) notices.add(mac)
      else notices.delete(mac)
      calls.push({ verb: 'setNotice', mac, notice: on })
    },
    async counters() {
      const out = new Map<Mac, GateCounter>()
      for (const mac of entries.keys()) {
        if (live(mac)) out.set(mac, traffic.get(mac) ?? { packets: 0, bytes: 0 })
      }
      return out
    },
    async usage() {
      const out = new Map<Mac, GateUsage>()
      for (const mac of entries.keys()) {
        if (live(mac)) out.set(mac, bytes.get(mac) ?? { downBytes: 0, upBytes: 0 })
      }
      return out
    },
    async list() {
      const now = clock.now()
      const out: GateEntry[] = []
      for (const [mac, until] of entries) if (until > now) out.push({ mac, until })
      return out
    },
  }
}
