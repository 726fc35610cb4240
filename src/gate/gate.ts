import type { Mac } from '../mac.js'

/** One device let through by the firewall, until a time (UTC epoch ms). */
export interface GateEntry {
  mac: Mac
  until: number
}

/** Traffic the firewall has counted for one let-through MAC since it was added. */
export interface GateCounter {
  packets: number
  bytes: number
}

/**
 * The firewall, as verbs only: no policy lives here. Implementations: dry-run (records what it
 * would do) and nftables (table `inet branchgate`, set `allowed` of ether_addr with per-element
 * timeouts and counters). Errors are thrown as GateError.
 */
export interface Gate {
  /** Lets the MAC through until `until`; replaces any earlier deadline for it. */
  letThrough(mac: Mac, until: number): Promise<void>
  /** Cuts the MAC off; a MAC not let through is not an error. */
  revoke(mac: Mac): Promise<void>
  /** The MACs let through now. */
  list(): Promise<GateEntry[]>
  /** Replaces the whole let-through set in one atomic batch (start-up rebuild). */
  replaceAll(entries: readonly GateEntry[]): Promise<void>
  /** Per-MAC traffic counters of the let-through set (for presence). */
  counters(): Promise<Map<Mac, GateCounter>>
}
