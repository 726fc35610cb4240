import { endianness } from 'node:os'
import { parseMac, type Mac } from '../mac.js'
import { eachMessage, errnoOf, macAt, NLMSG_DONE, NLMSG_ERROR } from './netlink.js'

const LITTLE_ENDIAN = endianness() === 'LE'

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

export const FAMILIES: Record<string, number> = { inet: 1, ip: 2, ip6: 10, netdev: 5 }

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

/**
 * One element of a set or map as a netlink dump gives it (NFT_MSG_NEWSETELEM): what the gate
 * reads back of `allowed`, `up` and `down`.
 */
export interface DumpedElement {
  /** The key: a MAC (an element whose key is not six bytes is not read). */
  mac: Mac
  /** A map element's data (a classid, in host order as nft sends it), when it has one. */
  data?: number
  /** Milliseconds until the element times out, when it has a timeout. */
  expiresMs?: number
  /** The element's counter, when it has one. */
  bytes?: number
  packets?: number
}

/** Where a dump stands after one recv's messages. */
export type DumpStep = { done: false } | { done: true; error: number; interrupted: boolean }

const NFT_MSG_NEWSETELEM_OF = (10 << 8) | 12
const NLM_F_DUMP_INTR = 0x10
const NLA_TYPE_MASK = 0x3fff
// nf_tables.h: the list's elements; an element's key, data, expiration and expressions; a
// data's value; an expression's name and data; a counter's bytes and packets.
const NFTA_SET_ELEM_LIST_ELEMENTS = 3
const NFTA_LIST_ELEM = 1
const NFTA_SET_ELEM_KEY = 1
const NFTA_SET_ELEM_DATA = 2
const NFTA_SET_ELEM_EXPIRATION = 5
const NFTA_SET_ELEM_EXPR = 7
const NFTA_SET_ELEM_EXPRESSIONS = 11
const NFTA_DATA_VALUE = 1
const NFTA_EXPR_NAME = 1
const NFTA_EXPR_DATA = 2
const NFTA_COUNTER_BYTES = 1
const NFTA_COUNTER_PACKETS = 2

/** A u64 in network order, as a Number (a counter stays exact below 2^53). */
const u32be = (buf: Buffer, at: number) =>
  ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0
const u64be = (buf: Buffer, at: number) => u32be(buf, at) * 2 ** 32 + u32be(buf, at + 4)

// Attributes are walked with plain loops, no callback per attribute: a sweep reads every
// let-through device's element (5,000 in the bench), each with five to nine attributes.
// Bytes read by index, not Buffer's read methods (their checks were a third of the reading).
const attrLen = (buf: Buffer, off: number) => buf[off]! | (buf[off + 1]! << 8)
const attrType = (buf: Buffer, off: number) =>
  (buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK
const nextAttr = (len: number) => (len + 3) & ~3

/** Where the NFTA_DATA_VALUE inside a NFTA_DATA_* nest starts; its end in `valueEnd`. */
let valueEnd = 0
function dataValue(buf: Buffer, start: number, end: number): number {
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(buf, off)
    if (len < 4 || off + len > end) return -1
    if (attrType(buf, off) === NFTA_DATA_VALUE) {
      valueEnd = off + len
      return off + 4
    }
    off += nextAttr(len)
  }
  return -1
}

/** Whether buf[start, end) is the expression name "counter" (with its NUL). */
function isCounter(buf: Buffer, start: number, end: number): boolean {
  if (end - start !== COUNTER.length) return false
  for (let i = 0; i < COUNTER.length; i++) if (buf[start + i] !== COUNTER[i]) return false
  return true
}
const COUNTER = Buffer.from('counter\0', 'latin1')

/** A counter expression's figures into `el` (any other expression is left alone). */
function readExpression(buf: Buffer, start: number, end: number, el: DumpedElement): void {
  let counter = false
  let dataStart = -1
  let dataEnd = -1
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(buf, off)
    if (len < 4 || off + len > end) return
    const type = attrType(buf, off)
    if (type === NFTA_EXPR_NAME) counter = isCounter(buf, off + 4, off + len)
    else if (type === NFTA_EXPR_DATA) {
      dataStart = off + 4
      dataEnd = off + len
    }
    off += nextAttr(len)
  }
  if (!counter || dataStart < 0) return
  for (let off = dataStart; off + 4 <= dataEnd;) {
    const len = attrLen(buf, off)
    if (len < 4 || off + len > dataEnd) return
    if (len === 12) {
      const type = attrType(buf, off)
      if (type === NFTA_COUNTER_BYTES) el.bytes = u64be(buf, off + 4)
      else if (type === NFTA_COUNTER_PACKETS) el.packets = u64be(buf, off + 4)
    }
    off += nextAttr(len)
  }
}

function readElement(buf: Buffer, start: number, end: number, into: DumpedElement[]): void {
  // Every field at once, in one order: each element has the same shape whatever its attributes,
  // so the code that reads them stays monomorphic (fields added as found gave each kind of
  // element its own shape, and the sweep's first optimised code was thrown away on the next).
  const el: DumpedElement = {
    mac: '' as Mac,
    data: undefined,
    expiresMs: undefined,
    bytes: undefined,
    packets: undefined,
  }
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(buf, off)
    if (len < 4 || off + len > end) break
    const type = attrType(buf, off)
    const s = off + 4
    const e = off + len
    if (type === NFTA_SET_ELEM_KEY) {
      const v = dataValue(buf, s, e)
      if (v >= 0 && valueEnd - v === 6) el.mac = macAt(buf, v)
    } else if (type === NFTA_SET_ELEM_DATA) {
      const v = dataValue(buf, s, e)
      if (v >= 0 && valueEnd - v === 4)
        el.data = LITTLE_ENDIAN ? buf.readUInt32LE(v) : buf.readUInt32BE(v)
    } else if (type === NFTA_SET_ELEM_EXPIRATION && len === 12) el.expiresMs = u64be(buf, s)
    else if (type === NFTA_SET_ELEM_EXPR) readExpression(buf, s, e, el)
    else if (type === NFTA_SET_ELEM_EXPRESSIONS)
      for (let o2 = s; o2 + 4 <= e;) {
        const l2 = attrLen(buf, o2)
        if (l2 < 4 || o2 + l2 > e) break
        if (attrType(buf, o2) === NFTA_LIST_ELEM) readExpression(buf, o2 + 4, o2 + l2, el)
        o2 += nextAttr(l2)
      }
    off += nextAttr(len)
  }
  if (el.mac !== '') into.push(el)
}

/** The elements in a NEWSETELEM message's attributes, buf[start, end). */
function readElementList(buf: Buffer, start: number, end: number, into: DumpedElement[]): void {
  for (let off = start; off + 4 <= end;) {
    const len = attrLen(buf, off)
    if (len < 4 || off + len > end) return
    if (attrType(buf, off) === NFTA_SET_ELEM_LIST_ELEMENTS)
      for (let o2 = off + 4; o2 + 4 <= off + len;) {
        const l2 = attrLen(buf, o2)
        if (l2 < 4 || o2 + l2 > off + len) break
        if (attrType(buf, o2) === NFTA_LIST_ELEM) readElement(buf, o2 + 4, o2 + l2, into)
        o2 += nextAttr(l2)
      }
    off += nextAttr(len)
  }
}

/**
 * Reads what one recv of a set's element dump returned (`nft list set` asks the same): each
 * NEWSETELEM message's elements into `into`, for the request numbered `seq`. The dump is over
 * at NLMSG_DONE, or at an error (then nothing more comes); `interrupted` when the kernel says
 * the set changed while it was being read (the caller asks again).
 */
export function parseElementDump(
  buf: Buffer,
  length: number,
  seq: number,
  into: DumpedElement[],
): DumpStep {
  let interrupted = false
  let step: DumpStep = { done: false }
  eachMessage(buf, length, (type, flags, s, payload, end) => {
    if (s !== seq) return
    if (flags & NLM_F_DUMP_INTR) interrupted = true
    if (type === NLMSG_DONE) step = { done: true, error: 0, interrupted }
    else if (type === NLMSG_ERROR)
      step = { done: true, error: errnoOf(buf, payload, end), interrupted }
    else {
      // After the header, the 4-byte nfgenmsg, then the list's attributes.
      if (type === NFT_MSG_NEWSETELEM_OF) readElementList(buf, payload + 4, end, into)
      return
    }
    return true
  })
  return step
}
