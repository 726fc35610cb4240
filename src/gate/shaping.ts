import type { DeviceRate } from './gate.js'
import { classid } from './nft-rates.js'

/**
 * The tc half of per-device rates (issue 17), as command lines built by pure functions; nothing
 * here runs a command (src/gate/shaper.ts feeds these lines to one long-lived `tc -batch`).
 *
 * Downloads are shaped where they leave for the guests (the guest interface's egress), uploads
 * where they leave for the internet (the uplink's egress). Each side is one HTB tree:
 *
 *   1:  htb, default 1:2
 *   ├─ 1:2    what belongs to no let-through device (portal pages; on the uplink, the box's own
 *   │         traffic: SMS providers, the CRM), not held by the guests' total
 *   └─ 1:1    all guests: rate = ceil = the total (gate.rate.totalDownKbps / totalUpKbps)
 *      └─ 1:<m>  one class per let-through device: ceil = its rate, with its own short queue
 *
 * Every device class has the same tiny guaranteed rate and the same quantum (one full frame),
 * so what the total leaves is shared among the busy devices by HTB's deficit round robin, one
 * frame each in turn: two devices pulling as fast as they can get the same share, and a third
 * one's small request waits behind at most one frame of each of them. Why HTB and not nftables
 * limits or meters: measured in docs/gateway.md ("Rates").
 *
 * Packets find their class by skb->priority, which nftables sets from the MAC (src/gate/
 * nft-rates.ts): the destination MAC in the netdev egress chain of the guest interface, the
 * source MAC in a forward chain of `inet branchgate`. HTB takes a priority that names one of
 * its leaf classes as the class, so no tc filter is needed.
 */

/** "No total": HTB needs a number. */
export const UNLIMITED_KBPS = 10_000_000
/** Each device's guaranteed rate, kbit/s: tiny, so nearly all is shared by round robin. */
export const GUARANTEED_KBPS = 64
/** Bytes a class sends per round-robin turn: one full Ethernet frame. */
export const QUANTUM_BYTES = 1514

/**
 * A class's bursts: 10 ms at its rate (at least 1600 bytes, tc's own minimum). tc's default
 * (rate/HZ) left a 10 Mbit/s class 5–10 % under its rate, unsteadily; with 10 ms it gets its
 * rate less the frames' headers (measured: docs/gateway.md, "Rates").
 */
export function burstBytes(kbps: number): number {
  return Math.max(1600, Math.round((kbps * 1000) / 8 / 100))
}
const bursts = (kbps: number) => `burst ${burstBytes(kbps)} cburst ${burstBytes(kbps)}`

export type LeafQdisc = 'fq_codel' | 'pfifo'

export interface ShapingParams {
  guestInterface: string
  /** Where uploads are shaped; null: they are counted, not shaped. */
  uplinkInterface: string | null
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

/** The sides: downloads on the guest interface, uploads on the uplink (when there is one). */
function sides(p: ShapingParams) {
  const out: Array<{ dev: string; total: number; dir: 'down' | 'up' }> = [
    { dev: ifname(p.guestInterface), total: p.totalDownKbps ?? UNLIMITED_KBPS, dir: 'down' },
  ]
  if (p.uplinkInterface)
    out.push({ dev: ifname(p.uplinkInterface), total: p.totalUpKbps ?? UNLIMITED_KBPS, dir: 'up' })
  return out
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

/** Lines that remove both trees; each may fail harmlessly when there is nothing to remove. */
export function teardownLines(p: ShapingParams): string[] {
  return sides(p).map((s) => `qdisc del dev ${s.dev} root`)
}

/** The probe for fq_codel: the guest side's default leaf, which setupLines then sets again. */
export function leafProbeLine(p: ShapingParams): string {
  return `qdisc replace dev ${ifname(p.guestInterface)} parent 1:2 handle 2: ${leafQdisc('fq_codel', UNLIMITED_KBPS)}`
}

/** Lines that build both trees (after teardownLines). */
export function setupLines(p: ShapingParams, leaf: LeafQdisc): string[] {
  const lines: string[] = []
  for (const { dev, total } of sides(p)) {
    const all = kbit(UNLIMITED_KBPS)
    lines.push(
      `qdisc replace dev ${dev} root handle 1: htb default 2`,
      `class replace dev ${dev} parent 1: classid 1:1 htb rate ${kbit(total)} ceil ${kbit(total)} ${bursts(total)} quantum ${QUANTUM_BYTES}`,
      // Its bursts too: without them tc leaves `burst 0b` at this rate (see `tc class show`), and
      // the class is over its rate after every packet, paced by HTB's watchdog timer.
      `class replace dev ${dev} parent 1: classid 1:2 htb rate ${all} ceil ${all} ${bursts(UNLIMITED_KBPS)} quantum ${QUANTUM_BYTES}`,
      `qdisc replace dev ${dev} parent 1:2 handle 2: ${leafQdisc(leaf, UNLIMITED_KBPS)}`,
    )
  }
  return lines
}

/**
 * Lines that set the default class's leaf queue on each side: after setupLines, once the probe
 * found fq_codel. Not setupLines again: the kernel refuses to replace a root HTB with another
 * ("Change operation not supported by specified qdisc"; HTB has no change operation).
 */
export function defaultLeafLines(p: ShapingParams, leaf: LeafQdisc): string[] {
  return sides(p).map(
    ({ dev }) => `qdisc replace dev ${dev} parent 1:2 handle 2: ${leafQdisc(leaf, UNLIMITED_KBPS)}`,
  )
}

/** A device's ceiling on one side: its own rate, never above the total. */
function ceilOf(own: number | null, total: number): number {
  return own === null ? total : Math.min(own, total)
}

/**
 * Lines that create a device's class on each side (or change it: every line is a `replace`,
 * so the same lines set a new rate and keep the counters).
 */
export function deviceLines(
  p: ShapingParams,
  leaf: LeafQdisc,
  minor: number,
  rate: DeviceRate | null,
): string[] {
  const id = classid(minor)
  const handle = minor.toString(16)
  const lines: string[] = []
  for (const side of sides(p)) {
    const own = side.dir === 'down' ? (rate?.downKbps ?? null) : (rate?.upKbps ?? null)
    const ceil = ceilOf(own, side.total)
    lines.push(
      `class replace dev ${side.dev} parent 1:1 classid ${id} htb rate ${kbit(Math.min(GUARANTEED_KBPS, ceil))} ceil ${kbit(ceil)} ${bursts(ceil)} quantum ${QUANTUM_BYTES}`,
      `qdisc replace dev ${side.dev} parent ${id} handle ${handle}: ${leafQdisc(leaf, ceil)}`,
    )
  }
  return lines
}

/** Lines that remove a device's classes (their leaf queues go with them). */
export function deviceRemoveLines(p: ShapingParams, minor: number): string[] {
  return sides(p).map((s) => `class del dev ${s.dev} classid ${classid(minor)}`)
}
