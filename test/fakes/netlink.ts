/**
 * Netlink messages as the kernel writes them (a little-endian host), for the readers of
 * src/gate/nft-elements.ts and src/gate/neighbour-dump.ts: unit tests and the visits bench's
 * fixtures. Attributes: length, type (nests flagged NLA_F_NESTED), the payload padded to four.
 */

export const attr = (type: number, payload: Buffer, nested = false): Buffer => {
  const head = Buffer.alloc(4)
  head.writeUInt16LE(4 + payload.length, 0)
  head.writeUInt16LE(type | (nested ? 0x8000 : 0), 2)
  return Buffer.concat([head, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)])
}

export const nest = (type: number, ...parts: Buffer[]): Buffer =>
  attr(type, Buffer.concat(parts), true)

export const u64be = (n: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

/** A message: header (length, type, flags, sequence number, port 0), then `body`. */
export const message = (type: number, seq: number, body: Buffer, flags = 0x2): Buffer => {
  const head = Buffer.alloc(16)
  head.writeUInt32LE(16 + body.length, 0)
  head.writeUInt16LE(type, 4)
  head.writeUInt16LE(flags, 6)
  head.writeUInt32LE(seq, 8)
  return Buffer.concat([head, body])
}

/** NLMSG_DONE, the end of a dump. */
export const done = (seq: number): Buffer => message(3, seq, Buffer.alloc(4))

/** NLMSG_ERROR with `errno` (positive: ENOENT 2, ENODEV 19, …). */
export const errorMessage = (seq: number, errno: number): Buffer => {
  const b = Buffer.alloc(36)
  b.writeUInt32LE(36, 0)
  b.writeUInt16LE(2, 4)
  b.writeUInt32LE(seq, 8)
  b.writeInt32LE(-errno, 16)
  return b
}

/** A counter expression's name and data. */
const counter = (bytes: number, packets: number) =>
  Buffer.concat([
    attr(1, Buffer.from('counter\0')),
    nest(2, attr(1, u64be(bytes)), attr(2, u64be(packets)), attr(3, Buffer.alloc(0))),
  ])

/** One set element: key, then data (a classid), expiration and a counter, when given. */
export function setElement(
  key: string,
  o: { data?: number; expiresMs?: number; counter?: [number, number]; list?: boolean } = {},
): Buffer {
  const data = Buffer.alloc(4)
  if (o.data !== undefined) data.writeUInt32LE(o.data)
  return nest(
    1,
    nest(1, attr(1, Buffer.from(key, 'hex'))),
    ...(o.data === undefined ? [] : [nest(2, attr(1, data))]),
    attr(3, Buffer.from([0, 0, 0, 0])), // flags
    ...(o.expiresMs === undefined ? [] : [attr(4, u64be(3_600_000)), attr(5, u64be(o.expiresMs))]),
    ...(o.counter === undefined
      ? []
      : o.list
        ? // Two expressions or more come as a list; a non-counter one is left alone.
          [
            nest(
              11,
              nest(1, attr(1, Buffer.from('limit\0')), nest(2, attr(1, u64be(5)))),
              nest(1, counter(...o.counter)),
            ),
          ]
        : [nest(7, counter(...o.counter))]),
  )
}

/** NFT_MSG_NEWSETELEM of inet branchgate `set` with these elements. */
export function setElements(seq: number, set: string, ...elements: Buffer[]): Buffer {
  const nfgen = Buffer.from([1, 0, 0, 0]) // family inet
  return message(
    (10 << 8) | 12,
    seq,
    Buffer.concat([
      nfgen,
      attr(1, Buffer.from('branchgate\0')),
      attr(2, Buffer.from(`${set}\0`)),
      nest(3, ...elements),
    ]),
  )
}

/** One RTM_NEWNEIGH: interface, NUD state, MAC (hex; null: none), confirmed (clock ticks). */
export function neighbour(
  seq: number,
  ifindex: number,
  state: number,
  mac: string | null,
  ticks: number,
): Buffer {
  const nd = Buffer.alloc(12)
  nd.writeUInt8(2, 0) // AF_INET
  nd.writeInt32LE(ifindex, 4)
  nd.writeUInt16LE(state, 8)
  const cache = Buffer.alloc(16)
  cache.writeUInt32LE(ticks, 0)
  cache.writeUInt32LE(5, 4)
  cache.writeUInt32LE(ticks + 1, 8)
  return message(
    28,
    seq,
    Buffer.concat([
      nd,
      attr(1, Buffer.from([10, 9, 0, 2])),
      ...(mac === null ? [] : [attr(2, Buffer.from(mac, 'hex'))]),
      attr(3, cache),
    ]),
  )
}

/**
 * An RTM_NEWNEIGH (or RTM_DELNEIGH) of address `dst` (text: IPv4 or IPv6, or a bridge's entry
 * without one when null) as the kernel announces a change (seq 0) or answers a dump.
 */
export function neighbourMessage(o: {
  seq?: number
  deleted?: boolean
  dst: string | null
  mac?: string | null
  state?: number
}): Buffer {
  const family = o.dst === null ? 7 : o.dst.includes(':') ? 10 : 2
  const nd = Buffer.alloc(12)
  nd.writeUInt8(family, 0)
  nd.writeInt32LE(4, 4)
  nd.writeUInt16LE(o.state ?? 0x02, 8)
  const dst =
    o.dst === null
      ? []
      : family === 2
        ? [attr(1, Buffer.from(o.dst.split('.').map(Number)))]
        : [attr(1, v6Bytes(o.dst))]
  return message(
    o.deleted ? 29 : 28,
    o.seq ?? 0,
    Buffer.concat([
      nd,
      ...dst,
      ...(o.mac === null || o.mac === undefined ? [] : [attr(2, Buffer.from(o.mac, 'hex'))]),
    ]),
    o.seq ? 0x2 : 0,
  )
}

/** An IPv6 address's 16 bytes from its full or `::` text (no embedded IPv4). */
export function v6Bytes(text: string): Buffer {
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail === undefined ? [] : tail ? tail.split(':') : []
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

/**
 * Messages as a dump's reads return them: as many whole messages as fit in `size` bytes each
 * (the kernel's are up to 32 KB).
 */
export function reads(messages: readonly Buffer[], size = 32 * 1024): Buffer[] {
  const out: Buffer[] = []
  let cur: Buffer[] = []
  let len = 0
  for (const m of messages) {
    if (len + m.length > size && cur.length) {
      out.push(Buffer.concat(cur))
      cur = []
      len = 0
    }
    cur.push(m)
    len += m.length
  }
  if (cur.length) out.push(Buffer.concat(cur))
  return out
}
