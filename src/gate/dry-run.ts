import type { Clock } from '../clock.js'
import type { Mac } from '../mac.js'
import type { Gate, GateEntry } from './gate.js'

export interface DryRunGate extends Gate {
  /** Every call made, in order: what a real firewall would have been told. */
  readonly calls: ReadonlyArray<{ verb: 'letThrough' | 'revoke'; mac: Mac; until?: number }>
}

/**
 * A firewall that only records and logs what it would do. For the demo on a laptop and for fast
 * tests; it lets nobody through for real.
 */
export function createDryRunGate(clock: Clock, log: (line: string) => void = () => {}): DryRunGate {
  const entries = new Map<Mac, number>()
  const calls: Array<{ verb: 'letThrough' | 'revoke'; mac: Mac; until?: number }> = []
  return {
    calls,
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
    async list() {
      const now = clock.now()
      const out: GateEntry[] = []
      for (const [mac, until] of entries) if (until > now) out.push({ mac, until })
      return out
    },
  }
}
