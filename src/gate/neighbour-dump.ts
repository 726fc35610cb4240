import { isIP } from 'node:net'
import { endianness } from 'node:os'
import type { Mac } from '../mac.js'
import { loadKoffi } from '../ffi.js'
import {
  eachMessage,
  errnoOf,
  inNamespace,
  interfaceIndex,
  macAt,
  NETLINK_ROUTE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  openNetlinkSocket,
  u16,
  u32,
  type NetlinkSocket,
} from './netlink.js'

/**
 * The kernel's neighbour table read in the service's own process: one RTM_GETNEIGH dump on a
 * netlink socket, the answer read as it comes (issue 20). The presence sweep asked a kept
 * `ip -j -s -batch -` instead: ip's own dump, its JSON of every entry written to a pipe, and
 * that text read back here, 14 ms of a sweep over 1,000 real entries in the scale bench.
 */

/** Neighbour entries as read, side by side: the device's MAC, and when. */
export interface NeighbourActivity {
  macs: Mac[]
  ats: number[]
}

// rtnetlink.h and neighbour.h: the message types, the ndmsg header's size, the attributes of
// an entry, and the states that say nothing of a device being here (FAILED, INCOMPLETE, NOARP,
// or none at all) or a fixed entry (PERMANENT).
const RTM_NEWNEIGH = 28
const RTM_DELNEIGH = 29
const RTM_GETNEIGH = 30
const AF_UNSPEC = 0
const AF_INET = 2
const AF_INET6 = 10
const NDMSG_LEN = 12
/** A neighbour dump request: the netlink header and an ndmsg. */
const NEIGH_REQUEST_BYTES = NLMSG_HDRLEN + NDMSG_LEN
const NDA_DST = 1
const NDA_LLADDR = 2
const NDA_CACHEINFO = 3
const NUD_INCOMPLETE = 0x01
const NUD_FAILED = 0x20
const NUD_NOARP = 0x40
const NUD_PERMANENT = 0x80
const UNUSABLE = NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP | NUD_PERMANENT
/**
 * nda_cacheinfo's times are in clock ticks of USER_HZ, 100 a second on Linux (jiffies_to_clock_t):
 * ms = ticks × 10. iproute2 divides by the same (`ip -s neigh`'s seconds).
 */
const MS_PER_TICK = 10

/** Where a dump stands after one read. */
export type NeighbourStep = { done: false } | { done: true; error: number }

/**
 * Walks what one recv of a neighbour dump returned: `entry` is called with each RTM_NEWNEIGH of
 * request `seq` (where its ndmsg starts, where the message ends). Over at NLMSG_DONE, or at an
 * error; a cut message ends the walk.
 */
function walkDump(
  buf: Buffer,
  length: number,
  seq: number,
  entry: (nd: number, end: number) => void,
): NeighbourStep {
  let step: NeighbourStep = { done: false }
  eachMessage(buf, length, (type, _flags, s, payload, end) => {
    if (s !== seq) return
    if (type === NLMSG_DONE) step = { done: true, error: 0 }
    else if (type === NLMSG_ERROR) step = { done: true, error: errnoOf(buf, payload, end) }
    else {
      if (type === RTM_NEWNEIGH && end - payload >= NDMSG_LEN) entry(payload, end)
      return
    }
    return true
  })
  return step
}

/**
 * Reads what one recv of a neighbour dump returned: for each usable entry on interface
 * `ifindex` (any, when null), its link-layer address and the last time the kernel confirmed it
 * reachable, into `into`. REACHABLE, DELAY, PROBE and STALE entries count, as with `ip -j -s
 * neigh` (parseNeighbourActivity). Over at NLMSG_DONE, or at an error.
 */
export function parseNeighbourDump(
  buf: Buffer,
  length: number,
  seq: number,
  ifindex: number | null,
  now: number,
  into: NeighbourActivity,
): NeighbourStep {
  return walkDump(buf, length, seq, (nd, end) => {
    const state = u16(buf, nd + 8)
    if (
      (ifindex === null || u32(buf, nd + 4) === ifindex) &&
      state !== 0 &&
      (state & UNUSABLE) === 0
    )
      readEntry(buf, nd + NDMSG_LEN, end, now, into)
  })
}

function readEntry(buf: Buffer, start: number, end: number, now: number, into: NeighbourActivity) {
  let lladdr = -1
  let confirmed = -1
  for (let off = start; off + 4 <= end;) {
    const len = u16(buf, off)
    if (len < 4 || off + len > end) return
    const type = u16(buf, off + 2) & 0x3fff
    // A device's MAC: six bytes (another link's address, of another length, is not one).
    if (type === NDA_LLADDR) lladdr = len === 4 + 6 ? off + 4 : -1
    // struct nda_cacheinfo: confirmed, used, updated, refcnt (u32 each, host order).
    else if (type === NDA_CACHEINFO && len >= 4 + 16) confirmed = u32(buf, off + 4)
    off += (len + 3) & ~3
  }
  if (lladdr < 0 || confirmed < 0) return
  into.macs.push(macAt(buf, lladdr))
  into.ats.push(now - confirmed * MS_PER_TICK)
}

/**
 * An address's bytes as the kernel keeps it (4 for IPv4, 16 for IPv6; an IPv6 zone is dropped),
 * or null for text that is not an address.
 */
export function addressBytes(ip: string): Buffer | null {
  const bare = ip.split('%')[0]!
  const family = isIP(bare)
  if (family === 4) return Buffer.from(bare.split('.').map(Number))
  if (family !== 6) return null
  let text = bare
  let v4: number[] = []
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    v4 = dotted[1]!.split('.').map(Number)
    text = `${text.slice(0, -dotted[1]!.length)}0:0`
  }
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail === undefined ? null : tail ? tail.split(':') : []
  const groups =
    right === null
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  if (groups.length !== 8) return null
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  if (dotted) out.set(v4, 12)
  return out
}

/**
 * Reads what one recv of a neighbour dump returned, looking for the entry of `dst` (its bytes)
 * with a MAC in a usable state (PERMANENT counts here: a fixed entry names its device): its
 * MAC into `found.mac`.
 */
export function findNeighbour(
  buf: Buffer,
  length: number,
  seq: number,
  dst: Buffer,
  found: { mac: Mac | null },
): NeighbourStep {
  return walkDump(buf, length, seq, (nd, end) => {
    const state = u16(buf, nd + 8)
    if (found.mac !== null || state === 0 || (state & (UNUSABLE & ~NUD_PERMANENT)) !== 0) return
    readAddresses(buf, nd, end, where)
    const same =
      where.dst >= 0 &&
      where.dstLength === dst.length &&
      buf.compare(dst, 0, dst.length, where.dst, where.dst + where.dstLength) === 0
    if (same && where.lladdr >= 0) found.mac = macAt(buf, where.lladdr)
  })
}

/** Where an entry's address and MAC sit in a message (-1: not there), read by readAddresses. */
interface EntryAddresses {
  dst: number
  dstLength: number
  lladdr: number
}
const where: EntryAddresses = { dst: -1, dstLength: 0, lladdr: -1 }

/**
 * Finds the address (NDA_DST) and the six-byte MAC (NDA_LLADDR) of the entry whose ndmsg starts
 * at `nd`: false when an attribute is cut (what was found before it is kept).
 */
function readAddresses(buf: Buffer, nd: number, end: number, into: EntryAddresses): boolean {
  into.dst = -1
  into.dstLength = 0
  into.lladdr = -1
  for (let a = nd + NDMSG_LEN; a + 4 <= end;) {
    const alen = u16(buf, a)
    if (alen < 4 || a + alen > end) return false
    const atype = u16(buf, a + 2) & 0x3fff
    if (atype === NDA_DST) {
      into.dst = a + 4
      into.dstLength = alen - 4
    } else if (atype === NDA_LLADDR) into.lladdr = alen === 4 + 6 ? a + 4 : -1
    a += (alen + 3) & ~3
  }
  return true
}

/**
 * An address's text from its bytes, as Node writes a client's address (and ip, and inet_ntop):
 * IPv4 dotted; IPv6 in lower-case hex without leading zeros, the first longest run of two zero
 * groups or more written `::`, and the IPv4-mapped and -compatible forms with their last four
 * bytes dotted (BIND's inet_ntop6, which libuv and glibc both carry).
 */
export function addressText(buf: Buffer, at: number, length: number): string | null {
  if (length === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`
  if (length !== 16) return null
  const words: number[] = []
  for (let i = 0; i < 8; i++) words.push((buf[at + 2 * i]! << 8) | buf[at + 2 * i + 1]!)
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (bestLen < 2) best = -1
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':'
      continue
    }
    if (i > 0) out += ':'
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff)))
      return `${out}${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`
    out += words[i]!.toString(16)
  }
  if (best >= 0 && best + bestLen === 8) out += ':'
  return out
}

/** A neighbour entry added or changed, or gone: what `ip monitor neigh` says in a line. */
export interface NeighbourEvent {
  ip: string
  /** The link-layer address, when the entry has a usable one. */
  mac: Mac | null
  /** The entry is gone (deleted), or in a state that names no device, or has no MAC. */
  gone: boolean
}

/** What a read of a socket subscribed to the neighbour changes hands on, in the kernel's order. */
export interface NeighbourMessages {
  /** A change the kernel announced (sequence 0). */
  change(e: NeighbourEvent): void
  /** An entry of the table dump asked for; null for one that is no address's (a bridge's). */
  entry(e: NeighbourEvent | null): void
  /** The dump's end: 0, or the kernel's error (negative errno). */
  end(error: number): void
}

/** NOARP, INCOMPLETE and FAILED name no device; PERMANENT does (a fixed entry). */
const NO_DEVICE = NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP

function eventOf(buf: Buffer, nd: number, end: number, deleted: boolean): NeighbourEvent | null {
  // ARP's and neighbour discovery's tables only: a bridge's forwarding entries come on the same
  // group (family AF_BRIDGE, no address).
  const family = buf[nd]!
  if (family !== AF_INET && family !== AF_INET6) return null
  const state = u16(buf, nd + 8)
  if (!readAddresses(buf, nd, end, where) || where.dst < 0) return null
  const ip = addressText(buf, where.dst, where.dstLength)
  if (ip === null) return null
  const gone = deleted || (state & NO_DEVICE) !== 0 || where.lladdr < 0
  return { ip, mac: gone ? null : macAt(buf, where.lladdr), gone }
}

/**
 * Reads what one read of a socket subscribed to the kernel's neighbour changes returned, handing
 * each message on in order: the changes (sequence 0), and the entries and end of table dump
 * `dumpSeq`. Other answers (an acknowledgement) are skipped; a cut message ends the read.
 */
export function parseNeighbourMessages(
  buf: Buffer,
  length: number,
  dumpSeq: number,
  on: NeighbourMessages,
): void {
  eachMessage(buf, length, (type, _flags, seq, payload, end) => {
    const neigh = end - payload >= NDMSG_LEN && (type === RTM_NEWNEIGH || type === RTM_DELNEIGH)
    if (seq === 0) {
      const e = neigh ? eventOf(buf, payload, end, type === RTM_DELNEIGH) : null
      if (e) on.change(e)
    } else if (seq === dumpSeq) {
      if (type === NLMSG_DONE) on.end(0)
      else if (type === NLMSG_ERROR) on.end(errnoOf(buf, payload, end))
      else if (neigh) on.entry(eventOf(buf, payload, end, false))
    }
  })
}

/**
 * Writes an RTM_GETNEIGH dump request of `family`'s table (AF_UNSPEC, the default: IPv4's and
 * IPv6's) numbered `seq` into `into` (NEIGH_REQUEST_BYTES long), and returns it.
 */
export function neighbourDumpRequest(
  seq: number,
  family = AF_UNSPEC,
  into: Buffer = Buffer.alloc(NEIGH_REQUEST_BYTES),
): Buffer {
  into.fill(0)
  into.writeUInt32LE(NEIGH_REQUEST_BYTES, 0)
  into.writeUInt16LE(RTM_GETNEIGH, 4)
  into.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6)
  into.writeUInt32LE(seq, 8)
  into.writeUInt8(family, NLMSG_HDRLEN)
  return into
}

/** The neighbour table, asked afresh at each read. */
export interface NeighbourDump {
  /**
   * Fills `into` with the usable entries of interface `device` (every interface when null):
   * null when done, else why the table could not be read (`into` then holds part of it).
   */
  read(device: string | null, now: number, into: NeighbourActivity): string | null
  /**
   * The MAC the kernel has for `ip` (IPv4 or IPv6) in a usable entry, null when it has none, or
   * why the table could not be read.
   */
  lookup(ip: string): Mac | null | { failed: string }
  close(): void
}

/**
 * The dump on a NETLINK_ROUTE socket, or why it cannot be opened: of this process's network
 * namespace, or of namespace `netns` (`ip netns add`; the tests').
 */
export function openNeighbourDump(o: { netns?: string } = {}): NeighbourDump | string {
  // Netlink speaks the host's byte order; this reader, like the element path's, reads x86's
  // and arm64's.
  if (endianness() !== 'LE')
    return 'this machine is big-endian; the netlink reader reads little-endian'
  const k = loadKoffi()
  if (typeof k === 'string') return k
  const socket: NetlinkSocket | string =
    o.netns === undefined
      ? openNetlinkSocket(k, NETLINK_ROUTE)
      : inNamespace(k, o.netns, () => openNetlinkSocket(k, NETLINK_ROUTE))
  if (typeof socket === 'string') return socket
  const request = Buffer.alloc(NEIGH_REQUEST_BYTES)
  // Answers come in messages of up to 32 KB (the kernel sizes them to the reader's buffer).
  const answers = Buffer.alloc(64 * 1024)
  let seq = 1
  const indexOf = (device: string): number | string => {
    const found = interfaceIndex(socket, device, seq++, answers)
    seq &= 0x7fffffff
    return found
  }
  /**
   * One RTM_GETNEIGH dump of `family`'s table (0: IPv4 and IPv6), each read handed to `parse`:
   * null when it ended, else why not (`what` names it in the answer).
   */
  const dump = (
    family: number,
    what: string,
    parse: (n: number, seq: number) => NeighbourStep,
  ): string | null => {
    const at = seq++
    seq &= 0x7fffffff
    neighbourDumpRequest(at, family, request)
    if (!socket.send(request, request.length)) return `the ${what} could not be sent`
    for (;;) {
      const n = socket.recv(answers)
      if (n <= 0) {
        socket.drain(answers)
        return `the ${what} stopped without its end`
      }
      const step = parse(n, at)
      if (step.done)
        return step.error === 0 ? null : `the kernel refused the ${what} (errno ${-step.error})`
    }
  }
  return {
    read(device, now, into) {
      socket.drain(answers)
      let ifindex: number | null = null
      if (device !== null) {
        // Asked of the socket's own namespace each time: an interface made again gets a new index.
        const found = indexOf(device)
        if (typeof found === 'string') return found
        ifindex = found
      }
      // Both families, every interface: the filter is ours.
      return dump(AF_UNSPEC, 'neighbour dump', (n, at) =>
        parseNeighbourDump(answers, n, at, ifindex, now, into),
      )
    },
    lookup(ip) {
      const dst = addressBytes(ip)
      if (dst === null) return null
      socket.drain(answers)
      const found: { mac: Mac | null } = { mac: null }
      // Only the address's family's table (ARP or neighbour discovery).
      const why = dump(dst.length === 4 ? AF_INET : AF_INET6, 'neighbour lookup', (n, at) =>
        findNeighbour(answers, n, at, dst, found),
      )
      return why === null ? found.mac : { failed: why }
    },
    close: () => socket.close(),
  }
}
