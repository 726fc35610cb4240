import { parseMac } from '../mac.js'

/**
 * A login's firewall change as the kernel takes it: element adds and deletes, one element each,
 * read back from the text lines the gate builds (letThroughCommand, revokeCommand and the tiers'
 * classify and notice lines). src/gate/nft-library.ts sends them to the kernel as netlink
 * messages built by libnftnl, without nft's parser and cache: ~25 µs a change against ~140 µs
 * through `nft_run_cmd_from_buffer` (bench gate). A line of any other shape returns null and goes
 * through libnftables as before.
 */
export interface ElementOp {
  verb: 'add' | 'delete'
  /** NFPROTO_*: inet 1, ip 2, ip6 10, netdev 5. */
  family: number
  table: string
  set: string
  /** The MAC's six bytes as 12 hex digits (written into the message's buffer, no copy made here). */
  key: string
  /** `timeout Ns`, in milliseconds. */
  timeoutMs?: number
  /** A map element's classid (`: 1:1a2`), as the kernel keeps it: major << 16 | minor. */
  classid?: number
}

const FAMILIES: Record<string, number> = { inet: 1, ip: 2, ip6: 10, netdev: 5 }

const STATEMENT =
  /^(add|delete) element (inet|ip|ip6|netdev) ([A-Za-z0-9_]{1,64}) ([A-Za-z0-9_]{1,64}) \{ ((?:[0-9a-f]{2}:){5}[0-9a-f]{2})(?: timeout (\d{1,10})s)?(?: : ([0-9a-f]{1,4}):([0-9a-f]{1,4}))? \}$/

/** At most this many statements in one line go straight to the kernel (a login's change has ≤ 8). */
const MAX_OPS = 16

/** The line's element changes, or null when it is anything else. */
export function parseElementCommand(command: string): ElementOp[] | null {
  const statements = command.split('; ')
  if (statements.length > MAX_OPS) return null
  const ops: ElementOp[] = []
  for (const s of statements) {
    const m = STATEMENT.exec(s)
    if (!m) return null
    const [, verb, family, table, set, mac, timeout, major, minor] = m
    if (parseMac(mac!) !== mac) return null
    const op: ElementOp = {
      verb: verb as 'add' | 'delete',
      family: FAMILIES[family!]!,
      table: table!,
      set: set!,
      key: mac!.replaceAll(':', ''),
    }
    if (timeout !== undefined) {
      if (verb !== 'add') return null
      op.timeoutMs = Number(timeout) * 1000
    }
    if (major !== undefined) op.classid = ((parseInt(major, 16) << 16) | parseInt(minor!, 16)) >>> 0
    ops.push(op)
  }
  return ops
}

/** One netlink answer in a buffer of answers: its sequence number and error (0: done). */
export interface NetlinkAck {
  seq: number
  error: number
}

const NLMSG_ERROR = 2
const NLMSG_HDRLEN = 16

/** The acknowledgements and errors (NLMSG_ERROR messages) in what one recv returned. */
export function parseAcks(buf: Buffer, length: number): NetlinkAck[] {
  const acks: NetlinkAck[] = []
  let off = 0
  while (off + NLMSG_HDRLEN <= length) {
    const len = buf.readUInt32LE(off)
    if (len < NLMSG_HDRLEN || off + len > length) break
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4)
      acks.push({ seq: buf.readUInt32LE(off + 8), error: buf.readInt32LE(off + NLMSG_HDRLEN) })
    off += (len + 3) & ~3
  }
  return acks
}
