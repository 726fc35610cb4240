import { describe, expect, it } from 'vitest'
import {
  addressBytes,
  findNeighbour,
  linkIndex,
  parseNeighbourDump,
  type NeighbourActivity,
} from '../src/gate/neighbour-dump.js'
import type { Mac } from '../src/mac.js'
import { attr, done, errorMessage, message, neighbour } from './fakes/netlink.js'

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
