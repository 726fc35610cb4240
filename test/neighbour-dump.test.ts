import { describe, expect, it } from 'vitest'
import {
  linkIndex,
  parseNeighbourDump,
  type NeighbourActivity,
} from '../src/gate/neighbour-dump.js'
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
})
