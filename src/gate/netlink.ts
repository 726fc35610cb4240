import { closeSync, openSync } from 'node:fs'
import type { Koffi } from '../ffi.js'
import type { Mac } from '../mac.js'

export const NETLINK_ROUTE = 0
export const NETLINK_NETFILTER = 12
const MSG_DONTWAIT = 0x40
const SOL_SOCKET = 1
const SO_RCVBUF = 8
const SO_RCVTIMEO = 20
const SO_RCVBUFFORCE = 33
const EAGAIN = 11
const EBADF = 9

/**
 * A netlink socket of the calling thread's network namespace, opened and bound by libmnl
 * (netfilter's own small netlink library, a dependency of libnftables). Reads never block: the
 * kernel answers a request while it is being sent, and writes a dump's next message while the
 * one before is read, so what a request gets back is there at once.
 */
export interface NetlinkSocket {
  /** The socket's descriptor (a reader in libuv's thread pool reads it: neighbour-monitor.ts). */
  readonly fd: number
  /**
   * Asks for a receive buffer of `bytes` (SO_RCVBUFFORCE, past the system's limit: the service
   * has CAP_NET_ADMIN; else SO_RCVBUF, up to the limit). Whether the forced size was taken.
   */
  growReceiveBuffer(bytes: number): boolean
  /** Sends buf[0, length); false when not all of it went. */
  send(buf: Buffer, length: number): boolean
  /** One message batch into `into`: its length, or 0 or less when nothing is waiting. */
  recv(into: Buffer): number
  /**
   * One message batch into `into` without waiting: its length, 0 when nothing waits, or the
   * error as a negative errno (-105, ENOBUFS: the kernel dropped messages for want of room).
   */
  take(into: Buffer): number
  /**
   * A read that waits (in libuv's thread pool) gives up after `ms` with EAGAIN; false when the
   * option was refused.
   */
  setReceiveTimeout(ms: number): boolean
  /** Throws away whatever is waiting (a refused batch's other answers). */
  drain(scratch: Buffer): void
  close(): void
}

/**
 * `groups`: the multicast groups to join at bind (RTMGRP_NEIGH for the neighbour table's changes);
 * none by default, for a socket that only asks.
 */
export function openNetlinkSocket(k: Koffi, bus: number, groups = 0): NetlinkSocket | string {
  let mnl: ReturnType<Koffi['load']>
  let libc: ReturnType<Koffi['load']>
  try {
    mnl = k.load('libmnl.so.0')
    libc = k.load('libc.so.6')
  } catch (err) {
    return `libmnl cannot be loaded: ${(err as Error).message.split('\n')[0]}`
  }
  type Ptr = unknown
  const sockOpen = mnl.func('void *mnl_socket_open(int bus)') as (bus: number) => Ptr
  const sockBind = mnl.func('int mnl_socket_bind(void *nl, unsigned int groups, int pid)') as (
    nl: Ptr,
    groups: number,
    pid: number,
  ) => number
  const sockFd = mnl.func('int mnl_socket_get_fd(void *nl)') as (nl: Ptr) => number
  const sockSend = mnl.func(
    'intptr_t mnl_socket_sendto(void *nl, const void *buf, size_t len)',
  ) as (nl: Ptr, buf: Buffer, len: number) => number
  const sockClose = mnl.func('int mnl_socket_close(void *nl)') as (nl: Ptr) => number
  const recv = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as (
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
  ) => number

  const setsockopt = libc.func(
    'int setsockopt(int fd, int level, int name, const void *value, uint32_t length)',
  ) as (fd: number, level: number, name: number, value: Buffer, length: number) => number

  const sock = sockOpen(bus)
  if (!sock) return 'cannot open a netlink socket'
  if (sockBind(sock, groups, 0) < 0) {
    sockClose(sock)
    return 'cannot bind a netlink socket'
  }
  const fd = sockFd(sock)
  let open = true
  return {
    fd,
    growReceiveBuffer(bytes) {
      const size = Buffer.alloc(4)
      size.writeInt32LE(bytes)
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) === 0) return true
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4)
      return false
    },
    setReceiveTimeout(ms) {
      // struct timeval: two longs, 8 bytes each on the 64-bit machines this runs on.
      const tv = Buffer.alloc(16)
      tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0)
      tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8)
      return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) === 0
    },
    send: (buf, length) => open && sockSend(sock, buf, length) === length,
    recv: (into) => (open ? recv(fd, into, into.length, MSG_DONTWAIT) : -1),
    take(into) {
      if (!open) return -EBADF
      const n = recv(fd, into, into.length, MSG_DONTWAIT)
      if (n >= 0) return n
      const errno = k.errno()
      return errno === EAGAIN ? 0 : -errno
    },
    drain(scratch) {
      while (open && recv(fd, scratch, scratch.length, MSG_DONTWAIT) > 0);
    },
    close() {
      if (!open) return
      open = false
      sockClose(sock)
    },
  }
}

/**
 * The network namespace of a command (nft, tc) a socket of this process can follow: null for
 * the program alone, the name for `ip netns exec NAME PROGRAM` (the bench's and the tests'
 * namespaces), undefined for any other prefix (a socket cannot follow a program).
 */
export function netnsOf(argv: readonly string[]): string | null | undefined {
  if (argv.length === 1) return null
  const [ip, netns, exec, name] = argv
  return argv.length === 5 && ip === 'ip' && netns === 'netns' && exec === 'exec' ? name : undefined
}

const CLONE_NEWNET = 0x40000000

/**
 * Runs `open` with the calling thread in network namespace `netns`, and puts it back. Only the
 * main thread moves, and only for the synchronous call: nothing else runs on it meanwhile.
 */
export function inNamespace<T>(k: Koffi, netns: string, open: () => T): T | string {
  const setns = k.load('libc.so.6').func('int setns(int fd, int nstype)') as (
    fd: number,
    type: number,
  ) => number
  const opened = (file: string): number | string => {
    try {
      return openSync(file, 'r')
    } catch (err) {
      return `cannot enter network namespace ${netns}: ${(err as Error).message}`
    }
  }
  const own = opened('/proc/thread-self/ns/net')
  if (typeof own === 'string') return own
  const target = opened(`/run/netns/${netns}`)
  if (typeof target === 'string') {
    closeSync(own)
    return target
  }
  try {
    if (setns(target, CLONE_NEWNET) !== 0) return `cannot enter network namespace ${netns}`
    try {
      return open()
    } finally {
      // Failing to come back would leave the process's main thread in the wrong namespace.
      if (setns(own, CLONE_NEWNET) !== 0) throw new Error('cannot leave network namespace')
    }
  } finally {
    closeSync(own)
    closeSync(target)
  }
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
/** MACs already read, by their 48-bit value: a sweep reads the same few thousand every time. */
const macs = new Map<number, Mac>()
const MAC_CACHE = 16_384

/**
 * The MAC in buf[at, at + 6) in its canonical form (`aa:bb:…`). Kept by value, so a device read
 * at every sweep costs one lookup, not a new string (and its hashing in every map it goes into).
 */
export function macAt(buf: Buffer, at: number): Mac {
  // By bytes: readUIntBE(at, 6) took most of this function's time.
  const value =
    ((buf[at]! << 8) | buf[at + 1]!) * 2 ** 32 +
    (((buf[at + 2]! << 24) | (buf[at + 3]! << 16) | (buf[at + 4]! << 8) | buf[at + 5]!) >>> 0)
  let mac = macs.get(value)
  if (mac === undefined) {
    if (macs.size >= MAC_CACHE) macs.clear()
    mac =
      `${HEX[buf[at]!]}:${HEX[buf[at + 1]!]}:${HEX[buf[at + 2]!]}:${HEX[buf[at + 3]!]}:${HEX[buf[at + 4]!]}:${HEX[buf[at + 5]!]}` as Mac
    macs.set(value, mac)
  }
  return mac
}

// netlink.h: the header's length, the messages and request flags every family shares.
export const NLMSG_HDRLEN = 16
export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3
export const NLM_F_REQUEST = 0x1
export const NLM_F_ACK = 0x4
export const NLM_F_REPLACE = 0x100
export const NLM_F_CREATE = 0x400
export const NLM_F_DUMP = 0x300
const RTM_NEWLINK = 16
const RTM_GETLINK = 18
const IFINFOMSG_LEN = 16
const IFLA_IFNAME = 3

/** One netlink answer in a buffer of answers: its sequence number and error (0: done). */
export interface NetlinkAck {
  seq: number
  error: number
}

// Bytes read by index, not Buffer's read methods: a dump's entries are a message each, so a
// header's reads are per entry, and their checks were most of reading a neighbour.
export const u16 = (buf: Buffer, at: number) => buf[at]! | (buf[at + 1]! << 8)
export const u32 = (buf: Buffer, at: number) =>
  (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0

/**
 * Calls `visit` for each whole message in buf[0, length): its type, flags and sequence number,
 * where its payload starts and where it ends. A cut message ends the walk, and so does `visit`
 * returning true.
 */
export function eachMessage(
  buf: Buffer,
  length: number,
  visit: (type: number, flags: number, seq: number, payload: number, end: number) => boolean | void,
): void {
  let off = 0
  while (off + NLMSG_HDRLEN <= length) {
    const len = u32(buf, off)
    if (len < NLMSG_HDRLEN || off + len > length) return
    if (
      visit(u16(buf, off + 4), u16(buf, off + 6), u32(buf, off + 8), off + NLMSG_HDRLEN, off + len)
    )
      return
    off += (len + 3) & ~3
  }
}

/** The errno an NLMSG_ERROR message carries (0: an acknowledgement); -1 when it is cut short. */
export const errnoOf = (buf: Buffer, payload: number, end: number) =>
  end - payload >= 4 ? buf.readInt32LE(payload) : -1

/** The acknowledgements and errors (NLMSG_ERROR messages) in what one recv returned. */
export function parseAcks(buf: Buffer, length: number): NetlinkAck[] {
  const acks: NetlinkAck[] = []
  eachMessage(buf, length, (type, _flags, seq, payload, end) => {
    if (type === NLMSG_ERROR && end - payload >= 4)
      acks.push({ seq, error: errnoOf(buf, payload, end) })
  })
  return acks
}

/**
 * The index in an RTM_GETLINK answer: the interface's index (> 0), or the kernel's error
 * (-19: no such interface), or -1 when the answer is not there.
 */
export function linkIndex(buf: Buffer, length: number, seq: number): number {
  let index = -1
  eachMessage(buf, length, (type, _flags, s, payload, end) => {
    if (s !== seq) return
    if (type === NLMSG_ERROR && end - payload >= 4) index = errnoOf(buf, payload, end)
    // ifinfomsg: family, pad, type (u16), then the index (s32).
    else if (type === RTM_NEWLINK && end - payload >= IFINFOMSG_LEN)
      index = buf.readInt32LE(payload + 4)
    else return
    return true
  })
  return index
}

/**
 * The index of interface `device` in the socket's network namespace (RTM_GETLINK, numbered
 * `seq`; `answers` takes the reply), or why it has none.
 */
export function interfaceIndex(
  socket: NetlinkSocket,
  device: string,
  seq: number,
  answers: Buffer,
): number | string {
  const name = Buffer.from(`${device}\0`, 'latin1')
  const attrLen = 4 + name.length
  const length = NLMSG_HDRLEN + IFINFOMSG_LEN + ((attrLen + 3) & ~3)
  const ask = Buffer.alloc(length)
  ask.writeUInt32LE(length, 0)
  ask.writeUInt16LE(RTM_GETLINK, 4)
  ask.writeUInt16LE(NLM_F_REQUEST, 6)
  ask.writeUInt32LE(seq, 8)
  const attr = NLMSG_HDRLEN + IFINFOMSG_LEN
  ask.writeUInt16LE(attrLen, attr)
  ask.writeUInt16LE(IFLA_IFNAME, attr + 2)
  name.copy(ask, attr + 4)
  if (!socket.send(ask, length)) return 'the interface lookup could not be sent'
  const n = socket.recv(answers)
  const found = n > 0 ? linkIndex(answers, n, seq) : -1
  if (found === -19) return `no interface ${device}`
  return found > 0 ? found : `cannot look up interface ${device} (${found})`
}
