import type { Clock } from '../clock.js'
import type { Mac } from '../mac.js'
import type { Gate, GateCounter, GateEntry } from './gate.js'

export interface DryRunGate extends Gate {
  /** Every call made, in order: what a real firewall would have been told. */
  readonly calls: ReadonlyArray<{
    verb: 'letThrough' | 'revoke' | 'replaceAll'
    mac?: Mac
    until?: number
  }>
  /** Counters the test (or demo) sets by hand; only MACs let through are reported. */
  readonly traffic: Map<Mac, GateCounter>
}

/**
 * A firewall that only records and logs what it would do. For the demo on a laptop and for fast
 * tests; it lets nobody through for real.
 */
export function createDryRunGate(clock: Clock, log: (line: string) => void = () => {}): DryRunGate {
  const entries = new Map<Mac, number>()
  const calls: Array<{ verb: 'letThrough' | 'revoke' | 'replaceAll'; mac?: Mac; until?: number }> =
    []
  const traffic = new Map<Mac, GateCounter>()
  return {
    calls,
    traffic,
    async letThrough(mac, until) {
      entries.set(mac, until)
      calls.push({ verb: 'letThrough', mac, until })
      log(`[gate dry-run] would let ${mac} through until ${new Date(until).toISOString()}`)
    },
    async revoke(mac) {
      entries.delete(mac)
      calls.push({ verb: 'revoke', mac })
      log(`[gate dry-run] would revoke ${mac}`)
    },
    async replaceAll(list) {
      entries.clear()
      const now = clock.now()
      for (const e of list) if (e.until > now) entries.set(e.mac, e.until)
      calls.push({ verb: 'replaceAll' })
      log(`[gate dry-run] would rebuild the set with ${entries.size} device(s)`)
    },
    async counters() {
      const now = clock.now()
      const out = new Map<Mac, GateCounter>()
      for (const [mac, until] of entries) {
        if (until > now) out.set(mac, traffic.get(mac) ?? { packets: 0, bytes: 0 })
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
