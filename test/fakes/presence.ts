import { parseMac, type Mac } from '../../src/mac.js'
import type { PresenceSource } from '../../src/visits/presence.js'
import { FakeClock } from './clock.js'

/**
 * A presence source the test scripts: which devices are here, and when each was last active.
 * `here(mac)` marks a device active "now" at every sample until `gone(mac)`.
 */
export class FakePresence implements PresenceSource {
  readonly active = new Set<Mac>()
  readonly lastActive = new Map<Mac, number>()
  here(...macs: string[]) {
    for (const m of macs) this.active.add(mac(m))
    return this
  }
  gone(...macs: string[]) {
    for (const m of macs) this.active.delete(mac(m))
    return this
  }
  /** Out of the sample altogether (the neighbour entry expired or failed). */
  forget(...macs: string[]) {
    for (const m of macs) {
      this.active.delete(mac(m))
      this.lastActive.delete(mac(m))
    }
    return this
  }
  /** One sign of life at a given time, without staying active. */
  lastSeen(m: string, at: number) {
    this.lastActive.set(mac(m), at)
    return this
  }
  async sample(now: number) {
    const out = new Map<Mac, number>()
    for (const m of this.active) this.lastActive.set(m, now)
    for (const [m, at] of this.lastActive) out.set(m, at)
    return out
  }
}

function mac(text: string): Mac {
  const m = parseMac(text)
  if (!m) throw new Error(`bad MAC ${text}`)
  return m
}

/**
 * A wall clock and a monotonic clock that move together, except when the wall clock is stepped
 * (an NTP correction): then only the wall clock moves.
 */
export class FakeClocks {
  readonly wall = new FakeClock()
  readonly mono = new FakeClock(1_000)
  advance(p: Parameters<FakeClock['advance']>[0]) {
    this.wall.advance(p)
    this.mono.advance(p)
  }
  step(p: Parameters<FakeClock['advance']>[0]) {
    this.wall.advance(p)
  }
  now() {
    return this.wall.now()
  }
}
