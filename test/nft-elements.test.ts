import { parseAcks } from '../src/gate/netlink.js'
import { describe, expect, it } from 'vitest'
import {
  parseElementCommand,
  parseElementDump,
  type DumpedElement,
} from '../src/gate/nft-elements.js'
import {
  classElementsOf,
  classifyCommand,
  noticeCommand,
  unclassifyCommand,
} from '../src/gate/nft-rates.js'
import { letThroughCommand, revokeCommand, setElementsOf } from '../src/gate/nft-ruleset.js'
import type { Mac } from '../src/mac.js'
import { done, errorMessage, setElement, setElements } from './fakes/netlink.js'

const MAC = '3a:11:22:33:44:55' as Mac
const KEY = '3a1122334455'

describe('a login’s firewall change read back as element changes', () => {
  it('reads every line the gate builds for a login, a revoke and the tiers', () => {
    const now = 1_000_000
    expect(parseElementCommand(letThroughCommand(MAC, now + 3_600_000, now, 'update'))).toEqual([
      {
        verb: 'add',
        family: 1,
        table: 'branchgate',
        set: 'allowed',
        key: KEY,
        timeoutMs: 3_600_000,
      },
    ])
    // Before Linux 6.10: add, delete, add.
    expect(
      parseElementCommand(letThroughCommand(MAC, now + 60_000, now, 'replace'))?.map((o) => [
        o.verb,
        o.timeoutMs,
      ]),
    ).toEqual([
      ['add', undefined],
      ['delete', undefined],
      ['add', 60_000],
    ])
    expect(parseElementCommand(revokeCommand(MAC))?.map((o) => o.verb)).toEqual(['add', 'delete'])
    const classify = parseElementCommand(classifyCommand(MAC, 0x1a2))!
    expect(classify.map((o) => [o.family, o.table, o.set, o.classid])).toEqual([
      [5, 'branchgate', 'down', 0x101a2],
      [1, 'branchgate', 'up', 0x101a2],
    ])
    expect(parseElementCommand(unclassifyCommand(MAC, 0x10))).toHaveLength(6)
    expect(parseElementCommand(noticeCommand(MAC, true))).toHaveLength(1)
    // A login with its class: the two joined as the gate joins them.
    expect(
      parseElementCommand(
        `${letThroughCommand(MAC, now + 1000, now, 'update')}; ${classifyCommand(MAC, 0x10)}`,
      ),
    ).toHaveLength(3)
  })

  it('leaves every other line to nft: lists, several elements, tables, sets, malformed MACs', () => {
    for (const line of [
      'list tables',
      'add table inet branchgate',
      'add element inet branchgate allowed { 3a:11:22:33:44:55, 3a:11:22:33:44:56 }',
      'add element inet branchgate allowed { 3A:11:22:33:44:55 }',
      'add element inet branchgate allowed { 3a:11:22:33:44 }',
      'delete element inet branchgate allowed { 3a:11:22:33:44:55 timeout 10s }',
      'add element inet branchgate garden4 { 192.0.2.1 }',
      'add element bridge branchgate allowed { 3a:11:22:33:44:55 }',
      `${revokeCommand(MAC)}; flush set inet branchgate allowed`,
      Array.from({ length: 17 }, () => noticeCommand(MAC, true)).join('; '),
      '',
    ])
      expect(parseElementCommand(line), line).toBeNull()
  })
})

describe('netlink answers', () => {
  /** An NLMSG_ERROR message: its header, the error, and the request's header. */
  const ack = (seq: number, error: number) => {
    const b = Buffer.alloc(36)
    b.writeUInt32LE(36, 0)
    b.writeUInt16LE(2, 4)
    b.writeUInt32LE(seq, 8)
    b.writeInt32LE(error, 16)
    return b
  }
  it('reads each acknowledgement and error with its sequence number, and stops at a cut message', () => {
    const other = Buffer.alloc(20)
    other.writeUInt32LE(20, 0)
    other.writeUInt16LE(0x10, 4) // not an answer: skipped
    const all = Buffer.concat([ack(7, 0), other, ack(8, -2), ack(9, 0)])
    expect(parseAcks(all, all.length)).toEqual([
      { seq: 7, error: 0 },
      { seq: 8, error: -2 },
      { seq: 9, error: 0 },
    ])
    expect(parseAcks(all, all.length - 10)).toEqual([
      { seq: 7, error: 0 },
      { seq: 8, error: -2 },
    ])
    const bad = ack(1, 0)
    bad.writeUInt32LE(4, 0) // shorter than a header
    expect(parseAcks(bad, bad.length)).toEqual([])
  })
})

describe('a set read back from a netlink dump', () => {
  const elements = (seq: number, ...els: Buffer[]) => setElements(seq, 'up', ...els)
  const element = setElement
  const error = errorMessage

  it('reads each element’s key, class, time left and counter, across reads, to the end', () => {
    const into: DumpedElement[] = []
    const first = Buffer.concat([
      elements(
        5,
        element('3a1122334455', { data: 0x101a2, counter: [2 ** 40 + 7, 3] }),
        element('3a1122334466', { data: 0x10010, counter: [900, 7], list: true }),
      ),
      // Another request's message in the same read: not this dump's.
      elements(4, element('3a11223344ff')),
    ])
    expect(parseElementDump(first, first.length, 5, into)).toEqual({ done: false })
    const second = Buffer.concat([
      elements(5, element('3a1122334477', { expiresMs: 59_999 })),
      done(5),
    ])
    expect(parseElementDump(second, second.length, 5, into)).toEqual({
      done: true,
      error: 0,
      interrupted: false,
    })
    expect(into).toEqual([
      { mac: '3a:11:22:33:44:55', data: 0x101a2, bytes: 2 ** 40 + 7, packets: 3 },
      { mac: '3a:11:22:33:44:66', data: 0x10010, bytes: 900, packets: 7 },
      { mac: '3a:11:22:33:44:77', expiresMs: 59_999 },
    ])
    expect(classElementsOf(into)).toEqual([
      { mac: '3a:11:22:33:44:55', minor: 0x1a2, bytes: 2 ** 40 + 7, packets: 3 },
      { mac: '3a:11:22:33:44:66', minor: 0x10, bytes: 900, packets: 7 },
    ])
    expect(setElementsOf(into)).toEqual([
      { mac: '3a:11:22:33:44:55', expiresSeconds: Number.POSITIVE_INFINITY },
      { mac: '3a:11:22:33:44:66', expiresSeconds: Number.POSITIVE_INFINITY },
      { mac: '3a:11:22:33:44:77', expiresSeconds: 59 },
    ])
  })

  it('ends at an error, says when the set changed while read, and skips what it cannot read', () => {
    const missing = error(9, 2)
    expect(parseElementDump(missing, missing.length, 9, [])).toEqual({
      done: true,
      error: -2,
      interrupted: false,
    })
    const into: DumpedElement[] = []
    const cut = Buffer.concat([elements(9, element('3a1122334455', { data: 0x101a2 })), done(9)])
    cut.writeUInt16LE(cut.readUInt16LE(6) | 0x10, 6) // NLM_F_DUMP_INTR on the first message
    expect(parseElementDump(cut, cut.length, 9, into)).toEqual({
      done: true,
      error: 0,
      interrupted: true,
    })
    // A message cut short is not read past its end.
    const whole = elements(9, element('3a1122334466', { data: 0x10011 }))
    const later: DumpedElement[] = []
    expect(parseElementDump(whole, whole.length - 8, 9, later)).toEqual({ done: false })
    expect(later).toEqual([])
    // A key that is not a MAC's six bytes is not read; another class tree's class, or no class,
    // is not a device's.
    const short: DumpedElement[] = []
    const odd = Buffer.concat([elements(9, element('3a11223344', { data: 0x101a2 })), done(9)])
    parseElementDump(odd, odd.length, 9, short)
    expect(short).toEqual([])
    expect(classElementsOf([{ mac: MAC, data: 0x201a2 }, { mac: MAC }])).toEqual([])
  })
})
