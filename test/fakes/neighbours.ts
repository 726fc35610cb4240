import type { NeighbourTable } from '../../src/gate/neighbours.js'
import { parseMac, type Mac } from '../../src/mac.js'

/** A neighbour table the test fills: IP -> MAC. */
export class FakeNeighbours implements NeighbourTable {
  readonly table = new Map<string, Mac>()
  set(ip: string, mac: string) {
    const m = parseMac(mac)
    if (!m) throw new Error(`bad MAC ${mac}`)
    this.table.set(ip, m)
    return this
  }
  async macFor(ip: string) {
    return this.table.get(ip) ?? null
  }
}
