import { linkIndex } from '../src/gate/netlink.js'
import { describe, expect, it } from 'vitest'
import {
  addressBytes,
  addressText,
  findNeighbour,
  neighbourDumpRequest,
  parseNeighbourDump,
  parseNeighbourMessages,
  type NeighbourActivity,
  type NeighbourEvent,
} from '../src/gate/neighbour-dump.js'
import type { Mac } from '../src/mac.js'
import {
  attr,
  done,
  errorMessage,
  message,
  neighbour,
  neighbourMessage,
  v6Bytes,
} from './fakes/netlink.js'

const entry = neighbour
const REACHABLE = 0x02
const STALE = 0x04
const NOW = 1_800_000_000_000

describe('the neighbour table read from a netlink dump', () => {
  it('keeps usable entries of the interface asked for, each with when it was last confirmed', () => {
    const into: NeighbourActivity = { macs: [], ats: [] }
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
      macs: ['02:00:00:00:00:05', '02:00:00:00:00:06', '02:00:00:00:00:0d'],
      ats: [NOW - 1_500, NOW - 60_000, NOW],
    })
    // Every interface when none is asked for.
    const all: NeighbourActivity = { macs: [], ats: [] }
    parseNeighbourDump(first, first.length, 7, null, NOW, all)
    expect(all.macs).toEqual(['02:00:00:00:00:05', '02:00:00:00:00:06', '02:00:00:00:00:07'])
  })

  it('ends at an error and never reads past a cut message', () => {
    const err = errorMessage(3, 1)
    expect(parseNeighbourDump(err, err.length, 3, null, NOW, { macs: [], ats: [] })).toEqual({
      done: true,
      error: -1,
    })
    const whole = entry(3, 4, REACHABLE, '020000000005', 1)
    const into: NeighbourActivity = { macs: [], ats: [] }
    expect(parseNeighbourDump(whole, whole.length - 4, 3, null, NOW, into)).toEqual({
      done: false,
    })
    expect(into.macs).toEqual([])
  })

  it("reads an interface's index from the answer to its lookup, or the kernel's error", () => {
    const info = Buffer.alloc(16)
    info.writeInt32LE(12, 4)
    const link = Buffer.concat([
      message(16, 5, Buffer.concat([info, attr(3, Buffer.from('br-guest\0'))])),
    ])
    expect(linkIndex(link, link.length, 5)).toBe(12)
    expect(linkIndex(link, link.length, 6)).toBe(-1)
    const missing = errorMessage(5, 19)
    expect(linkIndex(missing, missing.length, 5)).toBe(-19)
  })

  it('finds the entry of one address, in any usable state but FAILED, INCOMPLETE or NOARP', () => {
    // neighbour() writes 10.9.0.2 as every entry's address.
    const dst = addressBytes('10.9.0.2')!
    const find = (...messages: Buffer[]) => {
      const found = { mac: null as Mac | null }
      const all = Buffer.concat([...messages, done(4)])
      expect(findNeighbour(all, all.length, 4, dst, found)).toEqual({ done: true, error: 0 })
      return found.mac
    }
    expect(find(neighbour(4, 2, 0x80, '020000000005', 0))).toBe('02:00:00:00:00:05') // PERMANENT
    expect(find(neighbour(4, 2, 0x04, '020000000006', 0))).toBe('02:00:00:00:00:06') // STALE
    expect(find(neighbour(4, 2, 0x20, '020000000007', 0))).toBeNull() // FAILED
    expect(find(neighbour(4, 2, 0x01, null, 0))).toBeNull() // INCOMPLETE, no address yet
    expect(find(neighbour(3, 2, 0x02, '020000000008', 0))).toBeNull() // another request's
    const other = { mac: null as Mac | null }
    const elsewhere = neighbour(4, 2, 0x02, '020000000009', 0)
    findNeighbour(elsewhere, elsewhere.length, 4, addressBytes('10.9.0.3')!, other)
    expect(other.mac).toBeNull()
  })

  it("reads an address's bytes as the kernel keeps them", () => {
    expect(addressBytes('10.9.0.2')).toEqual(Buffer.from([10, 9, 0, 2]))
    expect(addressBytes('fd00::1')!.toString('hex')).toBe('fd000000000000000000000000000001')
    expect(addressBytes('2001:db8:0:1::a:b')!.toString('hex')).toBe(
      '20010db80000000100000000000a000b',
    )
    expect(addressBytes('::ffff:10.9.0.2')!.toString('hex')).toBe(
      '00000000000000000000ffff0a090002',
    )
    expect(addressBytes('fe80::1%eth0')!.toString('hex')).toBe('fe800000000000000000000000000001')
    expect(addressBytes('1:2:3:4:5:6:7:8')!.toString('hex')).toBe(
      '00010002000300040005000600070008',
    )
    expect(addressBytes('::')!.toString('hex')).toBe('0'.repeat(32))
    expect(addressBytes('not an address')).toBeNull()
  })
})

describe("an address's text from its bytes", () => {
  const text = (b: Buffer) => addressText(b, 0, b.length)

  it('writes IPv4 dotted, and IPv6 as Node writes a client address', () => {
    expect(text(Buffer.from([10, 98, 0, 7]))).toBe('10.98.0.7')
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'], // a lone zero stays
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // the first longest run
      ['2001:0db8:0001:0000:0000:0001:0000:0000', '2001:db8:1::1:0:0'],
      ['2001:0db8:0001:0001:0001:0001:0000:0000', '2001:db8:1:1:1:1::'],
      ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
      ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
      ['fe80:0000:0000:0000:00aa:bbff:fecc:dd00', 'fe80::aa:bbff:fecc:dd00'],
      ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2:3:4:5:6'],
    ]
    for (const [full, short] of cases) expect(text(v6Bytes(full))).toBe(short)
    // IPv4-mapped and -compatible: the last four bytes dotted, as inet_ntop writes them.
    expect(text(addressBytes('::ffff:10.98.0.7')!)).toBe('::ffff:10.98.0.7')
    expect(text(addressBytes('::10.98.0.7')!)).toBe('::10.98.0.7')
    expect(text(Buffer.alloc(5))).toBeNull()
  })

  it('agrees with the URL parser (RFC 5952) on 2,000 addresses, with and without zero runs', () => {
    // A fixed sequence (mulberry32), the same every run.
    let seed = 20
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
    }
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(16)
      // Some groups zero, in runs, as real addresses have them.
      for (let g = 0; g < 8; g++)
        if (next() >= 0.4) b.writeUInt16BE(Math.floor(next() * 0x10000), g * 2)
      // The URL parser has no dotted forms: those prefixes are the test above's.
      if (b.subarray(0, 10).every((x) => x === 0)) b[0] = 0x20
      const full = Array.from({ length: 8 }, (_, g) => b.readUInt16BE(g * 2).toString(16)).join(':')
      expect(text(b), full).toBe(new URL(`http://[${full}]/`).hostname.slice(1, -1))
      expect(addressBytes(text(b)!)).toEqual(b)
    }
  })
})

describe("the neighbour table's changes and dumps, read from one socket", () => {
  const read = (dumpSeq: number, ...messages: Buffer[]) => {
    const buf = Buffer.concat(messages)
    const seen: Array<[string, NeighbourEvent | null | number]> = []
    parseNeighbourMessages(buf, buf.length, dumpSeq, {
      change: (e) => seen.push(['change', e]),
      entry: (e) => seen.push(['entry', e]),
      end: (error) => seen.push(['end', error]),
    })
    return seen
  }

  it("hands on changes, a dump's entries and its end, in the order they came", () => {
    expect(
      read(
        9,
        neighbourMessage({ dst: '10.98.0.7', mac: '020000000007' }),
        neighbourMessage({ seq: 9, dst: '2001:db8::7', mac: '020000000008', state: 0x04 }),
        neighbourMessage({ seq: 9, dst: null, mac: '020000000009' }), // a bridge's entry
        neighbourMessage({ dst: '10.98.0.7', deleted: true }),
        neighbourMessage({ seq: 9, dst: '10.98.0.8', mac: '02000000000a', state: 0x20 }),
        done(9),
        neighbourMessage({ dst: '10.98.0.9', mac: '02000000000b', state: 0x80 }),
      ),
    ).toEqual([
      ['change', { ip: '10.98.0.7', mac: '02:00:00:00:00:07', gone: false }],
      ['entry', { ip: '2001:db8::7', mac: '02:00:00:00:00:08', gone: false }],
      ['entry', null],
      ['change', { ip: '10.98.0.7', mac: null, gone: true }],
      ['entry', { ip: '10.98.0.8', mac: null, gone: true }], // FAILED names no device
      ['end', 0],
      ['change', { ip: '10.98.0.9', mac: '02:00:00:00:00:0b', gone: false }], // PERMANENT does
    ])
  })

  it('says an entry without a MAC, INCOMPLETE or NOARP is gone, and skips other answers', () => {
    expect(
      read(
        3,
        neighbourMessage({ dst: '10.98.0.1', mac: null }),
        neighbourMessage({ dst: '10.98.0.2', mac: '020000000002', state: 0x01 }),
        neighbourMessage({ dst: '10.98.0.3', mac: '020000000003', state: 0x40 }),
        neighbourMessage({ dst: null, mac: '020000000004' }), // a bridge's change
        errorMessage(77, 0), // the acknowledgement of a no-op
        neighbourMessage({ seq: 4, dst: '10.98.0.5', mac: '020000000005' }), // another dump's
        errorMessage(3, 16),
      ),
    ).toEqual([
      ['change', { ip: '10.98.0.1', mac: null, gone: true }],
      ['change', { ip: '10.98.0.2', mac: null, gone: true }],
      ['change', { ip: '10.98.0.3', mac: null, gone: true }],
      ['end', -16],
    ])
  })

  it('stops at a cut message', () => {
    const whole = neighbourMessage({ dst: '10.98.0.1', mac: '020000000001' })
    const cut = neighbourMessage({ dst: '10.98.0.2', mac: '020000000002' }).subarray(0, 20)
    const buf = Buffer.concat([whole, cut])
    const seen: string[] = []
    parseNeighbourMessages(buf, buf.length, 1, {
      change: (e) => seen.push(e.ip),
      entry: () => seen.push('entry'),
      end: () => seen.push('end'),
    })
    expect(seen).toEqual(['10.98.0.1'])
  })

  it("asks for every family's table in a dump request", () => {
    const r = neighbourDumpRequest(12)
    expect([
      r.readUInt32LE(0),
      r.readUInt16LE(4),
      r.readUInt16LE(6),
      r.readUInt32LE(8),
      r[16],
    ]).toEqual([28, 30, 0x301, 12, 0])
  })
})
