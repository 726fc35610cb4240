import type { NeighbourTable } from '../../src/gate/neighbours.js'
import { parseMac, type Mac } from '../../src/mac.js'

/** A neighbour table the test fills: IP -> MAC. */
export class FakeNeighbours implements NeighbourTable {
  readonly table = new Map<string, Mac>()
  /** How many times macFor was asked. */
  lookups = 0
  /**
   * With `knowing()`: the table's answer without a lookup, as the service's neighbour watch
   * gives it (the portal's splash fast path then runs); addresses in `unknown` are not known.
   */
  known?: (ip: string) => Mac | null | undefined
  readonly unknown = new Set<string>()
  knowing() {
    this.known = (ip) => (this.unknown.has(ip) ? undefined : this.table.get(ip))
    return this
  }
  set(ip: string, mac: string) {
    const m = parseMac(mac)
    if (!m) throw new Error(`bad MAC ${mac}`)
    this.table.set(ip, m)
    return this
  }
  async macFor(ip: string) {
    this.lookups++
    return this.table.get(ip) ?? null
  }
}
