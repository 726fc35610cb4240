import type { Gate } from '../gate/gate.js'

/** One comparison of the firewall's let-through set with the database's live accesses. */
export interface FirewallReading {
  /** When it was taken (epoch ms). */
  at: number
  /** Devices the database lets through at that instant. */
  database: number
  /** Devices in the firewall's set. */
  firewall: number
  /** Let through by the database, absent from the firewall: a customer who cannot get out. */
  missing: number
  /** In the firewall, not let through by the database: a device out without a reason. */
  stray: number
}

export interface FirewallCheck {
  /** Reads the set and the database now, and keeps the result. Never throws. */
  run(now: number): Promise<FirewallReading | null>
  /** The last successful reading, or null. */
  last(): FirewallReading | null
  /** The last failure to read the set (and when), or null since a success. */
  lastError(): { at: number; message: string } | null
}

/**
 * The gauge "firewall and database disagree", kept off the scrape: a job reads the set (one
 * `nft list` of up to thousands of elements) every minute, and the scrape reads the result.
 * The database's side is read in the same turn, right after the set, so a login in between
 * cannot look like a disagreement.
 */
export function createFirewallCheck(deps: {
  gate: Pick<Gate, 'list'>
  /** The MACs the database lets through at `now`. */
  liveMacs: (now: number) => Iterable<string>
}): FirewallCheck {
  let last: FirewallReading | null = null
  let error: { at: number; message: string } | null = null
  return {
    async run(now) {
      try {
        const entries = await deps.gate.list()
        const inFirewall = new Set<string>(entries.map((e) => e.mac))
        let database = 0
        let missing = 0
        for (const mac of deps.liveMacs(now)) {
          database++
          if (!inFirewall.delete(mac)) missing++
        }
        last = { at: now, database, firewall: entries.length, missing, stray: inFirewall.size }
        error = null
        return last
      } catch (err) {
        error = { at: now, message: err instanceof Error ? err.message : String(err) }
        return null
      }
    },
    last: () => last,
    lastError: () => error,
  }
}
