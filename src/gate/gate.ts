import type { Mac } from '../mac.js'

/**
 * How fast one device may go, in kbit/s on the wire (Ethernet frames, so a TCP download shows
 * about 4 % less). null in a direction: no limit of its own (the guests' total still holds).
 */
export interface DeviceRate {
  downKbps: number | null
  upKbps: number | null
}

/** One device let through by the firewall, until a time (UTC epoch ms). */
export interface GateEntry {
  mac: Mac
  until: number
  /** Its rate; absent or null: no limit of its own. */
  rate?: DeviceRate | null
  /** Its next plain-HTTP request goes to the portal once (see Gate.setNotice). */
  notice?: boolean
}

/** Traffic the firewall has counted from one let-through MAC since it got its class. */
export interface GateCounter {
  packets: number
  bytes: number
}

/** Bytes one device moved through the guest port since the gate last created its counters. */
export interface GateUsage {
  /** To the device (its downloads). */
  downBytes: number
  /** From the device (its uploads). */
  upBytes: number
}

/**
 * The firewall, as verbs only: no policy lives here. Implementations: dry-run (records what it
 * would do) and nftables (table `inet branchgate`, set `allowed` of ether_addr with per-element
 * timeouts; per-device rates and byte counts in the maps `up` and `down` and tc).
 * Errors are thrown as GateError.
 */
export interface Gate {
  /**
   * Lets the MAC through until `until`, at `rate` (absent or null: no limit of its own);
   * replaces any earlier deadline and rate for it.
   */
  letThrough(mac: Mac, until: number, rate?: DeviceRate | null): Promise<void>
  /** Cuts the MAC off; a MAC not let through is not an error. */
  revoke(mac: Mac): Promise<void>
  /** The MACs let through now. */
  list(): Promise<GateEntry[]>
  /** Replaces the whole let-through set in one atomic batch (start-up rebuild). */
  replaceAll(entries: readonly GateEntry[]): Promise<void>
  /**
   * Per-MAC counters of what each let-through device sent through the gateway (for presence: a
   * count that grew is a sign of activity). nftables: the map `up`'s; empty without rates.
   */
  counters(): Promise<Map<Mac, GateCounter>>
  /** Changes a let-through device's rate, keeping its access and its byte counts. */
  setRate(mac: Mac, rate: DeviceRate | null): Promise<void>
  /**
   * `true`: the device's next new plain-HTTP connection is sent to the portal (once the portal
   * has shown it what it had to tell, it calls this with `false`).
   */
  setNotice(mac: Mac, on: boolean): Promise<void>
  /**
   * Per-device bytes each way since the gate created the device's counters (when it was let
   * through, or at the last replaceAll). A revoked device's counts are gone.
   */
  usage(): Promise<Map<Mac, GateUsage>>
  /**
   * How the one-line changes are made, once the first one was (null before, and for gates
   * that have no choice): libnftables in this process, through the helper, or `nft -i`.
   */
  way?(): GateWay | null
}

/** What makes the nftables gate's one-line changes (issue 20; `gate.nftSession`). */
export type GateWay = 'in-process' | 'helper' | 'nft'
