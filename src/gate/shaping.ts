import type { Mac } from '../mac.js'
import type { DeviceRate } from './gate.js'
import { classid } from './nft-rates.js'

/**
 * The tc half of per-device rates (issue 17), as command lines built by pure functions; nothing
 * here runs a command (src/gate/shaper.ts feeds these lines to one long-lived `tc -batch`).
 *
 * Downloads are shaped on the guest interface's egress, uploads on the egress of an IFB device
 * the guest interface's ingress is redirected to. Each side is one HTB tree:
 *
 *   1:  htb, default 1:2
 *   └─ 1:1   all guests: rate = ceil = the total (gate.rate.totalDownKbps / totalUpKbps)
 *      ├─ 1:2    what belongs to no let-through device (portal pages, DHCP, the walled garden)
 *      └─ 1:<m>  one class per let-through device: ceil = its rate, with its own short queue
 *
 * Every device class has the same tiny guaranteed rate and the same quantum (one full frame),
 * so what the total leaves is shared among the busy devices by HTB's deficit round robin, one
 * frame each in turn: two devices pulling as fast as they can get the same share, and a third
 * one's small request waits behind at most one frame of each of them. Why HTB and not nftables
 * limits or meters: measured in docs/gateway.md ("Rates").
 *
 * Download packets find their class by skb->priority, which the netdev table's egress chain
 * sets from the destination MAC (src/gate/nft-rates.ts); HTB takes a priority that names one
 * of its leaf classes as the class. Upload packets are matched by source MAC with a u32 filter
 * on the IFB device (the netdev ingress hook runs after tc's ingress redirect, so it cannot
 * mark them).
 */

/** The IFB device the guest interface's ingress (guests' uploads) is redirected to. */
export const IFB_DEVICE = 'bgifb0'
/** "No total": HTB needs a number. */
export const UNLIMITED_KBPS = 10_000_000
/** Each device's guaranteed rate, kbit/s: tiny, so nearly all is shared by round robin. */
export const GUARANTEED_KBPS = 64
/** Bytes a class sends per round-robin turn: one full Ethernet frame. */
export const QUANTUM_BYTES = 1514

export type LeafQdisc = 'fq_codel' | 'pfifo'

export interface ShapingParams {
  guestInterface: string
  /** kbit/s all guests may download together; null: no cap. */
  totalDownKbps: number | null
  /** kbit/s all guests may upload together; null: no cap. */
  totalUpKbps: number | null
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/
const ifname = (name: string) => {
  if (!IFNAME_RE.test(name)) throw new Error(`not an interface name: ${JSON.stringify(name)}`)
  return name
}
const kbit = (n: number) => {
  if (!Number.isInteger(n) || n < 1 || n > UNLIMITED_KBPS) throw new Error(`not a rate: ${n}`)
  return `${n}kbit`
}

/** The two sides: download on the guest interface, upload on the IFB device. */
function sides(p: ShapingParams) {
  return [
    { dev: ifname(p.guestInterface), total: p.totalDownKbps ?? UNLIMITED_KBPS },
    { dev: IFB_DEVICE, total: p.totalUpKbps ?? UNLIMITED_KBPS },
  ] as const
}

/**
 * The leaf queue of a class of `kbps`: fq_codel when the kernel has it (each device's own flows
 * kept apart, its queue kept short); otherwise a FIFO holding about 100 ms at that rate (10 to
 * 1000 frames), so a device's own backlog never grows into seconds.
 */
export function leafQdisc(leaf: LeafQdisc, kbps: number): string {
  if (leaf === 'fq_codel') return 'fq_codel flows 64 limit 1000'
  const frames = Math.round((kbps * 1000) / 8 / 10 / QUANTUM_BYTES)
  return `pfifo limit ${Math.min(1000, Math.max(10, frames))}`
}

/**
 * Lines that remove both trees and the ingress redirect; each may fail harmlessly when there
 * is nothing to remove (run them tolerantly).
 */
export function teardownLines(p: ShapingParams): string[] {
  const guest = ifname(p.guestInterface)
  return [
    `qdisc del dev ${guest} root`,
    `qdisc del dev ${guest} ingress`,
    `qdisc del dev ${IFB_DEVICE} root`,
  ]
}

/** The probe for fq_codel: the guest side's default leaf, which setupLines then sets again. */
export function leafProbeLine(p: ShapingParams): string {
  return `qdisc replace dev ${ifname(p.guestInterface)} parent 1:2 handle 2: ${leafQdisc('fq_codel', UNLIMITED_KBPS)}`
}

/** Lines that build both trees (after teardownLines) and redirect the guests' uploads to IFB. */
export function setupLines(p: ShapingParams, leaf: LeafQdisc): string[] {
  const lines: string[] = []
  for (const { dev, total } of sides(p)) {
    lines.push(
      `qdisc replace dev ${dev} root handle 1: htb default 2`,
      `class replace dev ${dev} parent 1: classid 1:1 htb rate ${kbit(total)} ceil ${kbit(total)} quantum ${QUANTUM_BYTES}`,
      `class replace dev ${dev} parent 1:1 classid 1:2 htb rate ${kbit(GUARANTEED_KBPS)} ceil ${kbit(total)} quantum ${QUANTUM_BYTES}`,
      `qdisc replace dev ${dev} parent 1:2 handle 2: ${leafQdisc(leaf, total)}`,
    )
  }
  const guest = ifname(p.guestInterface)
  lines.push(
    `qdisc replace dev ${guest} handle ffff: ingress`,
    `filter replace dev ${guest} parent ffff: protocol all prio 1 handle 800::1 u32 match u32 0 0 action mirred egress redirect dev ${IFB_DEVICE}`,
  )
  return lines
}

/** A device's ceiling on one side: its own rate, never above the total. */
function ceilOf(own: number | null, total: number): number {
  return own === null ? total : Math.min(own, total)
}

/** The u32 keys of a source MAC at the IFB's egress (offsets from the network header). */
function sourceMacMatch(mac: Mac): string {
  const hex = mac.replace(/:/g, '')
  if (!/^[0-9a-f]{12}$/.test(hex))
    throw new Error(`refusing a malformed MAC: ${JSON.stringify(mac)}`)
  return `match u32 0x${hex.slice(0, 8)} 0xffffffff at -8 match u16 0x${hex.slice(8)} 0xffff at -4`
}

/**
 * Lines that create a device's classes on both sides (or change them: every line is a
 * `replace`, so the same lines set a new rate and keep the counters), with its upload filter.
 */
export function deviceLines(
  p: ShapingParams,
  leaf: LeafQdisc,
  mac: Mac,
  minor: number,
  rate: DeviceRate | null,
): string[] {
  const id = classid(minor)
  const handle = minor.toString(16)
  const [down, up] = sides(p)
  const lines: string[] = []
  for (const [side, own] of [
    [down, rate?.downKbps ?? null],
    [up, rate?.upKbps ?? null],
  ] as const) {
    const ceil = ceilOf(own, side.total)
    lines.push(
      `class replace dev ${side.dev} parent 1:1 classid ${id} htb rate ${kbit(Math.min(GUARANTEED_KBPS, ceil))} ceil ${kbit(ceil)} quantum ${QUANTUM_BYTES}`,
      `qdisc replace dev ${side.dev} parent ${id} handle ${handle}: ${leafQdisc(leaf, ceil)}`,
    )
  }
  lines.push(
    `filter replace dev ${IFB_DEVICE} parent 1: protocol all prio 10 handle 800::${handle} u32 ${sourceMacMatch(mac)} flowid ${id}`,
  )
  return lines
}

/** Lines that remove a device's filter and classes (its leaf queues go with them). */
export function deviceRemoveLines(p: ShapingParams, minor: number): string[] {
  const id = classid(minor)
  const [down, up] = sides(p)
  return [
    `filter del dev ${IFB_DEVICE} parent 1: protocol all prio 10 handle 800::${minor.toString(16)} u32`,
    `class del dev ${up.dev} classid ${id}`,
    `class del dev ${down.dev} classid ${id}`,
  ]
}

/**
 * Reads `tc -s class show dev X` (iproute2's JSON output has no HTB classes): bytes sent per
 * device class (minor); other classes are left out.
 */
export function parseClassStats(text: string): Map<number, number> {
  const out = new Map<number, number>()
  const re = /^class htb 1:([0-9a-f]{1,4}) [^\n]*\n\s*Sent (\d+) bytes/gm
  for (const m of text.matchAll(re)) {
    const minor = parseInt(m[1]!, 16)
    if (minor >= 0x10) out.set(minor, Number(m[2]))
  }
  return out
}
