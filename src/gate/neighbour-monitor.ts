import { read } from 'node:fs'
import { endianness } from 'node:os'
import type { Mac } from '../mac.js'
import {
  neighbourDumpRequest,
  parseNeighbourMessages,
  type NeighbourEvent,
  type NeighbourMessages,
} from './neighbour-dump.js'
import { loadKoffi } from '../ffi.js'
import { inNamespace, NETLINK_ROUTE, openNetlinkSocket } from './netlink.js'

/**
 * The neighbour table's changes and whole tables, for the neighbour watch (src/gate/neighbours.ts):
 * its one source of what the kernel knows. Two kinds: `ip monitor neigh` with `ip -j neigh show`
 * (neighbours.ts), or a netlink socket of the service's own (below).
 */
export interface NeighbourFeedHandlers {
  /** An entry added, changed or gone, in the kernel's order. */
  change(e: NeighbourEvent): void
  /**
   * The whole table a refresh asked for (usable entries, IP → MAC), or why it could not be read.
   * The changes that came while it was read follow it.
   */
  table(entries: Map<string, Mac> | { failed: string }): void
  /**
   * Changes were lost (the kernel had no room for them): the table held is not to be trusted
   * until the next one, which the feed asks for itself.
   */
  lost(why: string): void
  /** The feed stopped by itself: why. */
  end(why: string): void
}

export interface NeighbourFeed {
  /** Asks for the whole table (`table` answers); a table being read already answers. */
  refresh(): void
  stop(): void
}

export type StartNeighbourFeed = (on: NeighbourFeedHandlers) => NeighbourFeed

/** The part of a netlink socket the feed uses (src/gate/netlink.ts). */
export interface MonitorSocket {
  readonly fd: number
  send(buf: Buffer, length: number): boolean
  /** A read without waiting: its length, 0 when nothing waits, or a negative errno. */
  take(into: Buffer): number
  close(): void
}

/** One read of `fd` that waits, off the event loop: Node's fs.read, in libuv's thread pool. */
export type ReadFd = (
  fd: number,
  into: Buffer,
  done: (err: NodeJS.ErrnoException | null, length: number) => void,
) => void

const readInPool: ReadFd = (fd, into, done) => read(fd, into, 0, into.length, null, done)

const ENOBUFS = 105
/** A dump's messages are up to 32 KB (the kernel sizes them to the reader's buffer). */
const BUFFER_BYTES = 64 * 1024
/**
 * Room for a burst of changes while the event loop is busy: a thousand phones' arrivals are
 * a few thousand messages of ~80 bytes, each taking a few hundred bytes of the socket's buffer.
 */
const RECEIVE_BUFFER_BYTES = 4 << 20
/** How long a waiting read gives up after, so that a stop is never left hanging. */
const READ_TIMEOUT_MS = 5000

/**
 * The feed on a NETLINK_ROUTE socket joined to the neighbour group (RTMGRP_NEIGH), in the
 * service's own process (issue 20): the kernel's messages, read as bytes, where `ip monitor
 * neigh` printed them as text for a line parser, and a table dump on the same socket where `ip -j
 * neigh show` was a process every few minutes.
 *
 * libuv cannot wait on a netlink socket, so one read(2) at a time waits in its thread pool
 * (fs.read, which reads any descriptor); when it returns, whatever else is waiting is taken
 * without waiting, and the next read is asked. One of the pool's four threads is kept.
 *
 * Changes and a dump's answer share the socket, so they come in the kernel's order: the changes
 * before the dump's first entry are older than what it reports, and are handed on at once; those
 * after it wait for its end and follow the table. Lost changes (ENOBUFS) are said, and a new
 * table asked for.
 */
export function netlinkNeighbourFeed(deps: {
  open(): MonitorSocket | string
  read?: ReadFd
}): StartNeighbourFeed {
  const readFd = deps.read ?? readInPool
  return (on) => {
    const socket = deps.open()
    if (typeof socket === 'string') {
      const why = socket
      setImmediate(() => on.end(why))
      return { refresh() {}, stop() {} }
    }
    const buf = Buffer.alloc(BUFFER_BYTES)
    const request = neighbourDumpRequest(0)
    let seq = 0
    /** The dump being read (0: none), whether its first entry came, and what it holds. */
    let dumpSeq = 0
    let started = false
    let fresh = new Map<string, Mac>()
    let later: NeighbourEvent[] = []
    /** Changes were lost while a dump was read: its table may be out of date. */
    let again = false
    let stopping = false
    let ended = false
    let reading = false

    const finish = (why: string | null) => {
      if (ended) return
      ended = true
      socket.close()
      if (why !== null) on.end(why)
    }
    const messages: NeighbourMessages = {
      change(e) {
        if (dumpSeq !== 0 && started) later.push(e)
        else on.change(e)
      },
      entry(e) {
        started = true
        if (e && !e.gone) fresh.set(e.ip, e.mac!)
      },
      end(error) {
        const table = fresh
        const after = later
        dumpSeq = 0
        fresh = new Map()
        later = []
        if (again) {
          // Read partly before changes were lost: ask again, and hand the changes on now.
          again = false
          for (const e of after) on.change(e)
          ask()
          return
        }
        on.table(error === 0 ? table : { failed: `the kernel refused the table (errno ${-error})` })
        for (const e of after) on.change(e)
      },
    }
    /** A table dump; one being read already answers. */
    const ask = () => {
      if (ended || stopping || dumpSeq !== 0) return
      seq = seq >= 0x7fffffff ? 1 : seq + 1
      dumpSeq = seq
      started = false
      neighbourDumpRequest(dumpSeq, undefined, request)
      if (!socket.send(request, request.length)) {
        dumpSeq = 0
        on.table({ failed: 'the table request could not be sent' })
      }
    }
    const lose = () => {
      on.lost('the kernel dropped changes (the socket had no room)')
      if (dumpSeq !== 0) again = true
      else ask()
    }
    const handle = (length: number) => parseNeighbourMessages(buf, length, dumpSeq, messages)
    const next = () => {
      reading = true
      readFd(socket.fd, buf, (err, length) => {
        reading = false
        if (stopping) return finish(null)
        if (err) {
          if (err.code === 'EAGAIN' || err.code === 'EINTR') return next()
          if (err.code !== 'ENOBUFS')
            return finish(`cannot read the neighbour changes: ${err.message}`)
          lose()
          return next()
        }
        if (length > 0) handle(length)
        // Whatever else waits, now, on this thread: a burst costs one trip to the pool.
        for (;;) {
          const n = socket.take(buf)
          if (n === -ENOBUFS) {
            lose()
            continue
          }
          if (n < 0) return finish(`cannot read the neighbour changes (errno ${-n})`)
          if (n === 0) break
          handle(n)
        }
        next()
      })
    }
    next()
    return {
      refresh: ask,
      stop() {
        if (stopping || ended) return
        stopping = true
        if (!reading) return finish(null)
        // Wake the waiting read: the kernel acknowledges a no-op at once (NLMSG_NOOP, ACK asked).
        const noop = Buffer.alloc(16)
        noop.writeUInt32LE(16, 0)
        noop.writeUInt16LE(1, 4)
        noop.writeUInt16LE(0x1 | 0x4, 6)
        noop.writeUInt32LE(0x7fffffff, 8)
        socket.send(noop, noop.length)
      },
    }
  }
}

/** RTMGRP_NEIGH: the neighbour tables' changes (rtnetlink.h). */
const RTMGRP_NEIGH = 0x4

/** Why the netlink feed cannot be had here, or null when it can (a socket opened and closed). */
export function neighbourFeedRefusal(): string | null {
  const socket = openMonitorSocket({})
  if (typeof socket === 'string') return socket
  socket.close()
  return null
}

/** A socket joined to the neighbour changes, or why it cannot be opened. */
function openMonitorSocket(o: { netns?: string }): MonitorSocket | string {
  if (endianness() !== 'LE')
    return 'this machine is big-endian; the netlink reader reads little-endian'
  const k = loadKoffi()
  if (typeof k === 'string') return k
  const opened = () => openNetlinkSocket(k, NETLINK_ROUTE, RTMGRP_NEIGH)
  const socket = o.netns === undefined ? opened() : inNamespace(k, o.netns, opened)
  if (typeof socket === 'string') return socket
  socket.growReceiveBuffer(RECEIVE_BUFFER_BYTES)
  socket.setReceiveTimeout(READ_TIMEOUT_MS)
  return socket
}

/**
 * The netlink feed of this process's network namespace (or of `netns`, for tests), or why it
 * cannot be had here: the socket that tells is the one the feed's first start reads.
 */
export function openNeighbourFeed(
  o: { netns?: string; read?: ReadFd } = {},
): StartNeighbourFeed | string {
  const open = () => openMonitorSocket(o)
  // Opened here to tell whether it can be; the watch's first start takes it.
  let first: MonitorSocket | string | null = open()
  if (typeof first === 'string') return first
  return netlinkNeighbourFeed({
    open() {
      const socket = first ?? open()
      first = null
      return socket
    },
    read: o.read,
  })
}
