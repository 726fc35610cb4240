import { describe, expect, it } from 'vitest'
import {
  linkIndex,
  parseNeighbourDump,
  type NeighbourActivity,
} from '../src/gate/neighbour-dump.js'

// rtnetlink messages as the kernel writes them (little-endian host): header, ndmsg, attributes.
const attr = (type: number, payload: Buffer) => {
  const head = Buffer.alloc(4)
  head.writeUInt16LE(4 + payload.length, 0)
  head.writeUInt16LE(type, 2)
  return Buffer.concat([head, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)])
}
const message = (type: number, seq: number, body: Buffer) => {
  const head = Buffer.alloc(16)
  head.writeUInt32LE(16 + body.length, 0)
  head.writeUInt16LE(type, 4)
  head.writeUInt16LE(0x2, 6)
  head.writeUInt32LE(seq, 8)
  return Buffer.concat([head, body])
}
/** One RTM_NEWNEIGH: interface, NUD state, MAC (hex), confirmed (clock ticks, 100 a second). */
const entry = (seq: number, ifindex: number, state: number, mac: string | null, ticks: number) => {
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
const done = (seq: number) => message(3, seq, Buffer.alloc(4))
const REACHABLE = 0x02
const STALE = 0x04
const NOW = 1_800_000_000_000

describe('the neighbour table read from a netlink dump', () => {
  it('keeps usable entries of the interface asked for, each with when it was last confirmed', () => {
    const into: NeighbourActivity = { lladdrs: [], ats: [] }
    const first = Buffer.concat([
      entry(7, 4, REACHABLE, '020000000005', 150),
      entry(7, 4, STALE, '020000000006', 6000),
      entry(7, 9, REACHABLE, '020000000007', 1), // another interface
      entry(7, 4, 0x20, '020000000008', 1), // FAILED
      entry(7, 4, 0x80, '020000000009', 1), // PERMANENT
      entry(7, 4, 0x01 | 0x04, '02000000000a', 1), // INCOMPLETE
      entry(7, 4, 0x00, '02000000000b', 1), // no state
      entry(7, 4, REACHABLE, null, 1), // no link-layer address
      entry(6, 4, REACHABLE, '02000000000c', 1), // another request's
    ])
    expect(parseNeighbourDump(first, first.length, 7, 4, NOW, into)).toEqual({ done: false })
    const second = Buffer.concat([entry(7, 4, 0x10, '02000000000d', 0), done(7)])
    expect(parseNeighbourDump(second, second.length, 7, 4, NOW, into)).toEqual({
      done: true,
      error: 0,
    })
    expect(into).toEqual({
      lladdrs: ['020000000005', '020000000006', '02000000000d'],
      ats: [NOW - 1_500, NOW - 60_000, NOW],
    })
    // Every interface when none is asked for.
    const all: NeighbourActivity = { lladdrs: [], ats: [] }
    parseNeighbourDump(first, first.length, 7, null, NOW, all)
    expect(all.lladdrs).toEqual(['020000000005', '020000000006', '020000000007'])
  })

  it('ends at an error and never reads past a cut message', () => {
    const err = Buffer.alloc(36)
    err.writeUInt32LE(36, 0)
    err.writeUInt16LE(2, 4)
    err.writeUInt32LE(3, 8)
    err.writeInt32LE(-1, 16)
    expect(parseNeighbourDump(err, err.length, 3, null, NOW, { lladdrs: [], ats: [] })).toEqual({
      done: true,
      error: -1,
    })
    const whole = entry(3, 4, REACHABLE, '020000000005', 1)
    const into: NeighbourActivity = { lladdrs: [], ats: [] }
    expect(parseNeighbourDump(whole, whole.length - 4, 3, null, NOW, into)).toEqual({
      done: false,
    })
    expect(into.lladdrs).toEqual([])
  })

  it("reads an interface's index from the answer to its lookup, or the kernel's error", () => {
    const info = Buffer.alloc(16)
    info.writeInt32LE(12, 4)
    const link = Buffer.concat([
      message(16, 5, Buffer.concat([info, attr(3, Buffer.from('br-guest\0'))])),
    ])
    expect(linkIndex(link, link.length, 5)).toBe(12)
    expect(linkIndex(link, link.length, 6)).toBe(-1)
    const missing = Buffer.alloc(36)
    missing.writeUInt32LE(36, 0)
    missing.writeUInt16LE(2, 4)
    missing.writeUInt32LE(5, 8)
    missing.writeInt32LE(-19, 16)
    expect(linkIndex(missing, missing.length, 5)).toBe(-19)
  })
})
