import type { Mac } from '../mac.js'

/** One device let through by the firewall, until a time (UTC epoch ms). */
export interface GateEntry {
  mac: Mac
  until: number
}

/**
 * The firewall, as verbs only: no policy lives here. Implementations: dry-run (records what it
 * would do) and, later, nftables. Errors are thrown as GateError.
 */
export interface Gate {
  /** Lets the MAC through until `until`; replaces any earlier deadline for it. */
  letThrough(mac: Mac, until: number): Promise<void>
  /** Cuts the MAC off; a MAC not let through is not an error. */
  revoke(mac: Mac): Promise<void>
  /** The MACs let through now. */
  list(): Promise<GateEntry[]>
}
