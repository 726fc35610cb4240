import { readFileSync } from 'node:fs'
import { endianness } from 'node:os'
import { loadKoffi } from '../ffi.js'
import {
  inNamespace,
  interfaceIndex,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
  openNetlinkSocket,
  parseAcks,
  type NetlinkSocket,
} from './netlink.js'

/**
 * A device's tc lines as rtnetlink messages on a socket of the service's own (issue 20). Every
 * login made `tc -force -batch -` parse four lines and make the same four requests; tc's own CPU
 * was 0.30–0.65 ms a login in the real path, on top of the pipe to it and its answer back.
 *
 * Only the lines src/gate/shaping.ts writes for one device are read back here: its HTB class on
 * each side (`class replace … htb rate … ceil … burst … cburst … quantum …`), the class's leaf
 * queue (`qdisc replace … fq_codel flows … limit …` or `… pfifo limit …`) and its removal
 * (`class del …`). Each becomes the message tc itself sends for it (iproute2's tc_class_modify,
 * htb_parse_class_opt, tc_qdisc_modify, fq_codel_parse_opt, fifo_parse_opt). Anything else (the
 * trees at start, their removal) still goes to tc, and so does a line the kernel refused: tc
 * then takes it or says why in its own words.
 */

/** One of the lines read back. */
export type TcChange =
  | {
      kind: 'class'
      dev: string
      parent: number
      classid: number
      /** Bytes a second, as tc turns `Nkbit` into (N × 1000 / 8). */
      rate: number
      ceil: number
      /** Bytes. */
      burst: number
      cburst: number
      quantum: number
    }
  | { kind: 'fq_codel'; dev: string; parent: number; handle: number; flows: number; limit: number }
  | { kind: 'pfifo'; dev: string; parent: number; handle: number; limit: number }
  | { kind: 'class del'; dev: string; classid: number }

const DEV = '([A-Za-z0-9_.-]{1,15})'
const ID = '([0-9a-f]{1,4}):([0-9a-f]{1,4})'
const N = '(\\d{1,10})'
const CLASS = new RegExp(
  `^class replace dev ${DEV} parent ${ID} classid ${ID} htb rate ${N}kbit ceil ${N}kbit burst ${N} cburst ${N} quantum ${N}$`,
)
const LEAF = new RegExp(
  `^qdisc replace dev ${DEV} parent ${ID} handle ([0-9a-f]{1,4}): (?:fq_codel flows ${N} limit ${N}|pfifo limit ${N})$`,
)
const DEL = new RegExp(`^class del dev ${DEV} classid ${ID}$`)

const handleOf = (major: string, minor: string) =>
  ((parseInt(major, 16) << 16) | parseInt(minor, 16)) >>> 0
/** kbit/s as tc reads `Nkbit`: bits are 1000 a kbit, 8 a byte. */
const bytesPerSecond = (kbit: string) => (Number(kbit) * 1000) / 8

/** The change a line makes, or null for a line this reader does not take (it goes to tc). */
export function parseTcLine(line: string): TcChange | null {
  let m = CLASS.exec(line)
  if (m) {
    const rate = bytesPerSecond(m[6]!)
    const ceil = bytesPerSecond(m[7]!)
    // Rates past 32 bits take tc's 64-bit attributes: not one of ours (10 Gbit/s at most).
    if (!rate || !ceil || ceil >= 2 ** 32 || rate >= 2 ** 32) return null
    return {
      kind: 'class',
      dev: m[1]!,
      parent: handleOf(m[2]!, m[3]!),
      classid: handleOf(m[4]!, m[5]!),
      rate,
      ceil,
      burst: Number(m[8]),
      cburst: Number(m[9]),
      quantum: Number(m[10]),
    }
  }
  m = LEAF.exec(line)
  if (m) {
    const base = {
      dev: m[1]!,
      parent: handleOf(m[2]!, m[3]!),
      handle: (parseInt(m[4]!, 16) << 16) >>> 0,
    }
    return m[7] !== undefined
      ? { kind: 'pfifo', ...base, limit: Number(m[7]) }
      : { kind: 'fq_codel', ...base, flows: Number(m[5]), limit: Number(m[6]) }
  }
  m = DEL.exec(line)
  if (m) return { kind: 'class del', dev: m[1]!, classid: handleOf(m[2]!, m[3]!) }
  return null
}

// rtnetlink.h, pkt_sched.h, pkt_cls.h: message types and attributes.
const RTM_NEWQDISC = 36
const RTM_NEWTCLASS = 40
const RTM_DELTCLASS = 41
const TCMSG_LEN = 20
const TCA_KIND = 1
// Nested as iproute2's addattr_nest makes it: without NLA_F_NESTED (the kernel parses a qdisc's
// and a class's options either way; tc's own bytes are the ones every kernel has taken).
const TCA_OPTIONS = 2
const TCA_HTB_PARMS = 1
const TCA_FQ_CODEL_LIMIT = 2
const TCA_FQ_CODEL_FLOWS = 5
const TC_LINKLAYER_ETHERNET = 1
/** struct tc_htb_opt: two tc_ratespec (12 bytes each), then buffer, cbuffer, quantum, level, prio. */
const HTB_OPT_LEN = 44
/**
 * tc_calc_rtable's cell_log for htb_parse_class_opt's MTU of 1600: the smallest shift that
 * brings the MTU under 256.
 */
const CELL_LOG = 3

/**
 * The kernel's scheduler clock as tc reads it from /proc/net/psched: ticks per microsecond
 * (64 ns ticks on every kernel since 2.6.22, so 15.625). tc_core_init's arithmetic.
 */
export function ticksPerMicrosecond(psched: string): number {
  const [t2us, us2t, res] = psched
    .trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16))
  if (!t2us || !us2t || !res) return 1000 / 64
  // "The kernel advertises a tick multiplier of 1000 in case of nano-second resolution".
  const t = res === 1_000_000_000 ? us2t : t2us
  return (t / us2t) * (res / 1_000_000)
}

/** tc_calc_xmittime: ticks to send `size` bytes at `rate` bytes a second (its truncations). */
export function xmitTicks(rate: number, size: number, perUs: number): number {
  const us = Math.trunc((1_000_000 * size) / rate) >>> 0
  return Math.trunc(us * perUs) >>> 0
}

/**
 * A tc_ratespec as tc_calc_rtable leaves it (cell_log 3 for an MTU of 1600, cell_align -1,
 * Ethernet). tc also sends the rate tables it computes (TCA_HTB_RTAB, TCA_HTB_CTAB: 1 KB each);
 * the kernel reads them only from a tc that does not name the link layer (htb_change_class), so
 * they are left out here.
 */
function rateSpec(buf: Buffer, at: number, rate: number) {
  buf.writeUInt8(CELL_LOG, at)
  buf.writeUInt8(TC_LINKLAYER_ETHERNET, at + 1)
  buf.writeUInt16LE(0, at + 2) // overhead
  buf.writeInt16LE(-1, at + 4) // cell_align
  buf.writeUInt16LE(0, at + 6) // mpu
  buf.writeUInt32LE(rate, at + 8)
}

/** Writes one netlink attribute at `at`; returns where the next one goes. */
function attr(buf: Buffer, at: number, type: number, value: number | string): number {
  let len: number
  if (typeof value === 'number') {
    buf.writeUInt32LE(value >>> 0, at + 4)
    len = 4 + 4
  } else {
    const n = buf.write(`${value}\0`, at + 4, 'latin1')
    len = 4 + n
  }
  buf.writeUInt16LE(len, at)
  buf.writeUInt16LE(type, at + 2)
  const next = at + ((len + 3) & ~3)
  buf.fill(0, at + len, next)
  return next
}

/** Room one change's message takes at most (an HTB class: 96 bytes). */
export const TC_MESSAGE_MAX = 128

/**
 * Writes the message tc sends for `change` on interface `ifindex` into buf at `at`; returns its
 * length.
 */
export function tcMessage(
  change: TcChange,
  ifindex: number,
  seq: number,
  buf: Buffer,
  at: number,
  perUs: number,
): number {
  const type =
    change.kind === 'class'
      ? RTM_NEWTCLASS
      : change.kind === 'class del'
        ? RTM_DELTCLASS
        : RTM_NEWQDISC
  // `class replace` is NLM_F_CREATE; `qdisc replace` NLM_F_CREATE | NLM_F_REPLACE; del nothing.
  const flags =
    NLM_F_REQUEST |
    NLM_F_ACK |
    (change.kind === 'class'
      ? NLM_F_CREATE
      : change.kind === 'class del'
        ? 0
        : NLM_F_CREATE | NLM_F_REPLACE)
  buf.writeUInt16LE(type, at + 4)
  buf.writeUInt16LE(flags, at + 6)
  buf.writeUInt32LE(seq, at + 8)
  buf.writeUInt32LE(0, at + 12)
  // struct tcmsg: family, two pads, ifindex, handle, parent, info.
  const t = at + NLMSG_HDRLEN
  buf.fill(0, t, t + 4)
  buf.writeInt32LE(ifindex, t + 4)
  let off = t + TCMSG_LEN
  if (change.kind === 'class') {
    buf.writeUInt32LE(change.classid, t + 8)
    buf.writeUInt32LE(change.parent, t + 12)
    buf.writeUInt32LE(0, t + 16)
    off = attr(buf, off, TCA_KIND, 'htb')
    const nest = off
    off += 4
    // struct tc_htb_opt, written in place (level and prio 0).
    buf.writeUInt16LE(4 + HTB_OPT_LEN, off)
    buf.writeUInt16LE(TCA_HTB_PARMS, off + 2)
    const opt = off + 4
    buf.fill(0, opt, opt + HTB_OPT_LEN)
    rateSpec(buf, opt, change.rate)
    rateSpec(buf, opt + 12, change.ceil)
    buf.writeUInt32LE(xmitTicks(change.rate, change.burst, perUs), opt + 24)
    buf.writeUInt32LE(xmitTicks(change.ceil, change.cburst, perUs), opt + 28)
    buf.writeUInt32LE(change.quantum, opt + 32)
    off = opt + HTB_OPT_LEN
    buf.writeUInt16LE(off - nest, nest)
    buf.writeUInt16LE(TCA_OPTIONS, nest + 2)
  } else if (change.kind === 'class del') {
    buf.writeUInt32LE(change.classid, t + 8)
    buf.writeUInt32LE(0, t + 12)
    buf.writeUInt32LE(0, t + 16)
  } else {
    buf.writeUInt32LE(change.handle, t + 8)
    buf.writeUInt32LE(change.parent, t + 12)
    buf.writeUInt32LE(0, t + 16)
    off = attr(buf, off, TCA_KIND, change.kind)
    if (change.kind === 'pfifo') {
      // struct tc_fifo_qopt (one u32), not nested.
      off = attr(buf, off, TCA_OPTIONS, change.limit)
    } else {
      const nest = off
      off += 4
      off = attr(buf, off, TCA_FQ_CODEL_LIMIT, change.limit)
      off = attr(buf, off, TCA_FQ_CODEL_FLOWS, change.flows)
      buf.writeUInt16LE(off - nest, nest)
      buf.writeUInt16LE(TCA_OPTIONS, nest + 2)
    }
  }
  const length = off - at
  buf.writeUInt32LE(length, at)
  return length
}

/** Device lines sent on the service's own socket. */
export interface TcNetlink {
  /**
   * Sends the changes as one batch. Returns the indexes of those the kernel refused (empty when
   * all were made), or why the batch could not be sent or answered (then any may have been made:
   * every change is safe to make again).
   */
  apply(changes: readonly TcChange[]): number[] | string
  close(): void
}

/**
 * The socket, of this process's network namespace or of `netns`; or why it cannot be had (no
 * koffi or libmnl, a big-endian machine).
 */
export function openTcNetlink(
  o: { netns?: string | null; psched?: string } = {},
): TcNetlink | string {
  if (endianness() !== 'LE')
    return 'this machine is big-endian; the netlink writer writes little-endian'
  const k = loadKoffi()
  if (typeof k === 'string') return k
  const socket: NetlinkSocket | string =
    o.netns == null
      ? openNetlinkSocket(k, NETLINK_ROUTE)
      : inNamespace(k, o.netns, () => openNetlinkSocket(k, NETLINK_ROUTE))
  if (typeof socket === 'string') return socket
  let psched = o.psched
  if (psched === undefined)
    try {
      psched = readFileSync('/proc/net/psched', 'latin1')
    } catch {
      psched = ''
    }
  const perUs = ticksPerMicrosecond(psched)
  let out = Buffer.alloc(4 * TC_MESSAGE_MAX)
  const answers = Buffer.alloc(64 * 1024)
  let seq = 1
  /** Interface indexes by name; dropped when a batch is refused (an interface made again). */
  const indexes = new Map<string, number>()
  const indexOf = (dev: string): number | string => {
    const known = indexes.get(dev)
    if (known !== undefined) return known
    if (seq > 0x7fff0000) seq = 1
    const found = interfaceIndex(socket, dev, seq++, answers)
    if (typeof found === 'number') indexes.set(dev, found)
    return found
  }
  return {
    apply(changes) {
      socket.drain(answers)
      if (out.length < changes.length * TC_MESSAGE_MAX)
        out = Buffer.alloc(changes.length * TC_MESSAGE_MAX)
      const ifindexes: number[] = []
      for (const change of changes) {
        const ifindex = indexOf(change.dev)
        if (typeof ifindex === 'string') return ifindex
        ifindexes.push(ifindex)
      }
      // The batch's numbers in a row, answers told apart by them.
      if (seq > 0x7fff0000) seq = 1
      const first = seq
      let off = 0
      changes.forEach((change, i) => {
        off += tcMessage(change, ifindexes[i]!, seq++, out, off, perUs)
      })
      if (!socket.send(out, off)) return 'the tc changes could not be sent'
      const refused: number[] = []
      let waiting = changes.length
      while (waiting > 0) {
        const n = socket.recv(answers)
        if (n <= 0) return 'the kernel did not answer every tc change'
        for (const a of parseAcks(answers, n)) {
          const i = a.seq - first
          if (i < 0 || i >= changes.length) continue
          waiting--
          if (a.error !== 0) refused.push(i)
        }
      }
      if (refused.length) indexes.clear()
      return refused
    },
    close: () => socket.close(),
  }
}
