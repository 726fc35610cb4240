import { describe, expect, it } from 'vitest'
import { BatchRefusedError, type BatchSession } from '../src/gate/batch-session.js'
import {
  deviceLines,
  deviceRemoveLines,
  setupLines,
  teardownLines,
  type ShapingParams,
} from '../src/gate/shaping.js'
import { createTcRunner } from '../src/gate/tc.js'
import {
  parseTcLine,
  tcMessage,
  ticksPerMicrosecond,
  TC_MESSAGE_MAX,
  xmitTicks,
  type TcChange,
  type TcNetlink,
} from '../src/gate/tc-netlink.js'

const params: ShapingParams = {
  guestInterface: 'guest0',
  uplinkInterface: 'up0',
  totalDownKbps: 20_000,
  totalUpKbps: null,
}
/** This kernel's /proc/net/psched (and every kernel's since 2.6.22). */
const PSCHED = '000003e8 00000040 000f4240 3b9aca00\n'

describe('reading back the lines of one device', () => {
  it('takes each line shaping.ts writes for a device, with its numbers', () => {
    const lines = deviceLines(params, 'fq_codel', 0x1a2, { downKbps: 5000, upKbps: null })
    expect(lines.map(parseTcLine)).toEqual([
      {
        kind: 'class',
        dev: 'guest0',
        parent: 0x10001,
        classid: 0x101a2,
        rate: 8000, // 64 kbit/s
        ceil: 625_000, // 5000 kbit/s
        burst: 6250,
        cburst: 6250,
        quantum: 1514,
      },
      {
        kind: 'fq_codel',
        dev: 'guest0',
        parent: 0x101a2,
        handle: 0x1a20000,
        flows: 64,
        limit: 1000,
      },
      {
        kind: 'class',
        dev: 'up0',
        parent: 0x10001,
        classid: 0x101a2,
        rate: 8000,
        ceil: 1_250_000_000, // no total up: 10 Gbit/s
        burst: 12_500_000,
        cburst: 12_500_000,
        quantum: 1514,
      },
      { kind: 'fq_codel', dev: 'up0', parent: 0x101a2, handle: 0x1a20000, flows: 64, limit: 1000 },
    ])
    expect(parseTcLine(deviceLines(params, 'pfifo', 0x10, null)[1]!)).toEqual({
      kind: 'pfifo',
      dev: 'guest0',
      parent: 0x10010,
      handle: 0x100000,
      limit: 165,
    })
    expect(deviceRemoveLines(params, 0xfff).map(parseTcLine)).toEqual([
      { kind: 'class del', dev: 'guest0', classid: 0x10fff },
      { kind: 'class del', dev: 'up0', classid: 0x10fff },
    ])
  })

  it('leaves every other line to tc', () => {
    // A leaf queue's line is read whatever its class: the default class's too (the fq_codel
    // probe at start), a line that is the same message either way.
    expect(parseTcLine(setupLines(params, 'fq_codel')[3]!)).toMatchObject({
      kind: 'fq_codel',
      parent: 0x10002,
      handle: 0x20000,
    })
    for (const line of [
      ...setupLines(params, 'fq_codel').filter((l) => !/ handle 2: /.test(l)),
      ...teardownLines(params),
      'class replace dev guest0 parent 1:1 classid 1:10 htb rate 64kbit ceil 100kbit',
      'class replace dev guest0 parent 1:1 classid 1:10 htb rate 64kbit ceil 40000000kbit burst 1600 cburst 1600 quantum 1514',
      'class replace dev guest0 parent 1:1 classid 1:10 htb rate 0kbit ceil 100kbit burst 1600 cburst 1600 quantum 1514',
      'class del dev guest0 classid 1:10; qdisc del dev guest0 root',
      'qdisc replace dev guest0 parent 1:10 handle 10: sfq',
      'class show dev guest0',
    ])
      expect(parseTcLine(line), line).toBeNull()
  })
})

describe("tc's arithmetic", () => {
  it('reads the scheduler clock as tc does', () => {
    expect(ticksPerMicrosecond(PSCHED)).toBe(15.625)
    // A kernel that says microsecond ticks and a microsecond clock.
    expect(ticksPerMicrosecond('00000001 00000001 000f4240 00000064')).toBe(1)
    expect(ticksPerMicrosecond('')).toBe(15.625)
  })

  it('truncates the time and then the ticks, as tc_calc_xmittime does', () => {
    // 6,250 bytes at 8,000 B/s: 781,250 µs, 12,207,031.25 ticks.
    expect(xmitTicks(8000, 6250, 15.625)).toBe(12_207_031)
    // 1,600 bytes at 1.25 GB/s: 1.28 µs, truncated to 1 µs before the ticks.
    expect(xmitTicks(1_250_000_000, 1600, 15.625)).toBe(15)
  })
})

describe('the messages', () => {
  const perUs = ticksPerMicrosecond(PSCHED)
  /** The attributes in buf[start, end) by type (the last of each). */
  const attrs = (buf: Buffer, start: number, end: number) => {
    const out = new Map<number, Buffer>()
    for (let off = start; off + 4 <= end;) {
      const len = buf.readUInt16LE(off)
      out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len))
      off += (len + 3) & ~3
    }
    return out
  }

  it('writes an HTB class as tc sends it', () => {
    const buf = Buffer.alloc(TC_MESSAGE_MAX)
    const change = parseTcLine(
      'class replace dev guest0 parent 1:1 classid 1:10 htb rate 64kbit ceil 5000kbit burst 6250 cburst 6250 quantum 1514',
    )!
    const n = tcMessage(change, 7, 42, buf, 0, perUs)
    expect(buf.readUInt32LE(0)).toBe(n)
    expect(n % 4).toBe(0)
    expect(buf.readUInt16LE(4)).toBe(40) // RTM_NEWTCLASS
    expect(buf.readUInt16LE(6)).toBe(0x1 | 0x4 | 0x400) // REQUEST | ACK | CREATE
    expect(buf.readUInt32LE(8)).toBe(42)
    // tcmsg: family 0, ifindex, handle, parent, info.
    expect(buf[16]).toBe(0)
    expect(buf.readInt32LE(20)).toBe(7)
    expect(buf.readUInt32LE(24)).toBe(0x10010)
    expect(buf.readUInt32LE(28)).toBe(0x10001)
    const top = attrs(buf, 36, n)
    expect(top.get(1)!.toString('latin1')).toBe('htb\0')
    const options = top.get(2)!
    const opts = attrs(options, 0, options.length)
    const opt = opts.get(1)!
    expect(opt.length).toBe(44)
    // rate: cell_log 3, Ethernet, cell_align -1, 8,000 B/s; ceil 625,000 B/s.
    expect([opt[0], opt[1], opt.readInt16LE(4), opt.readUInt32LE(8)]).toEqual([3, 1, -1, 8000])
    expect(opt.readUInt32LE(20)).toBe(625_000)
    expect(opt.readUInt32LE(24)).toBe(xmitTicks(8000, 6250, perUs))
    expect(opt.readUInt32LE(28)).toBe(xmitTicks(625_000, 6250, perUs))
    expect(opt.readUInt32LE(32)).toBe(1514)
    // No rate tables: the kernel reads them only when the link layer is not named.
    expect([...opts.keys()]).toEqual([1])
    expect(n).toBe(96)
  })

  it('writes the leaf queues and a removal', () => {
    const buf = Buffer.alloc(TC_MESSAGE_MAX)
    const fq = tcMessage(
      parseTcLine('qdisc replace dev up0 parent 1:10 handle 10: fq_codel flows 64 limit 1000')!,
      3,
      1,
      buf,
      0,
      perUs,
    )
    expect(buf.readUInt16LE(4)).toBe(36) // RTM_NEWQDISC
    expect(buf.readUInt16LE(6)).toBe(0x1 | 0x4 | 0x400 | 0x100) // … CREATE | REPLACE
    expect(buf.readUInt32LE(24)).toBe(0x100000)
    expect(buf.readUInt32LE(28)).toBe(0x10010)
    let top = attrs(buf, 36, fq)
    expect(top.get(1)!.toString('latin1')).toBe('fq_codel\0')
    const o = attrs(top.get(2)!, 0, top.get(2)!.length)
    expect([o.get(2)!.readUInt32LE(0), o.get(5)!.readUInt32LE(0)]).toEqual([1000, 64])
    expect(buf.readUInt16LE(36 + 16 + 2)).toBe(2) // TCA_OPTIONS, without NLA_F_NESTED, as tc

    const fifo = tcMessage(
      parseTcLine('qdisc replace dev up0 parent 1:10 handle 10: pfifo limit 165')!,
      3,
      2,
      buf,
      0,
      perUs,
    )
    top = attrs(buf, 36, fifo)
    expect(top.get(1)!.toString('latin1')).toBe('pfifo\0')
    expect(top.get(2)!.readUInt32LE(0)).toBe(165) // struct tc_fifo_qopt, not nested

    const del = tcMessage(parseTcLine('class del dev up0 classid 1:10')!, 3, 3, buf, 0, perUs)
    expect(del).toBe(36)
    expect(buf.readUInt16LE(4)).toBe(41) // RTM_DELTCLASS
    expect(buf.readUInt16LE(6)).toBe(0x1 | 0x4)
    expect(buf.readUInt32LE(24)).toBe(0x10010)
  })
})

/** A tc session that records its batches; refuses those holding a line in `refuse`. */
class FakeSession implements BatchSession {
  batches: string[][] = []
  refuse = new Set<string>()
  async run(lines: readonly string[]) {
    this.batches.push([...lines])
    const bad = lines.filter((l) => this.refuse.has(l))
    if (bad.length) throw new BatchRefusedError(bad.map((l) => `Error: refused ${l}`).join('\n'))
  }
  async close() {}
}

/** A socket that records its batches, refusing the changes `refuse` picks. */
class FakeNetlink implements TcNetlink {
  batches: TcChange[][] = []
  refuse: (c: TcChange) => boolean = () => false
  broken: string | null = null
  closed = false
  apply(changes: readonly TcChange[]) {
    if (this.broken) return this.broken
    this.batches.push([...changes])
    return changes.flatMap((c, i) => (this.refuse(c) ? [i] : []))
  }
  close() {
    this.closed = true
  }
}

describe('the tc runner', () => {
  const make = (o: { netns?: boolean; netlink?: FakeNetlink | string } = {}) => {
    const session = new FakeSession()
    const netlink = o.netlink ?? new FakeNetlink()
    const logs: string[] = []
    const asked: Array<string | null> = []
    const runner = createTcRunner(
      o.netns === false ? ['sudo', 'tc'] : ['ip', 'netns', 'exec', 'bg1', 'tc'],
      ['ip'],
      {
        session,
        log: (l) => logs.push(l),
        netlink: ({ netns }) => {
          asked.push(netns)
          return netlink
        },
      },
    )
    return { runner, session, netlink, logs, asked }
  }
  const lines = deviceLines(params, 'pfifo', 0x20, { downKbps: 1000, upKbps: 1000 })

  it("sends a device's lines on the socket of tc's namespace, and every other line to tc", async () => {
    const { runner, session, netlink, logs, asked } = make()
    await runner.lines(setupLines(params, 'pfifo'))
    expect(asked).toEqual([]) // opened at the first device line only
    await runner.lines(lines)
    await runner.line(deviceRemoveLines(params, 0x20)[0]!)
    expect(asked).toEqual(['bg1'])
    expect(session.batches).toEqual([setupLines(params, 'pfifo')])
    expect((netlink as FakeNetlink).batches.map((b) => b.length)).toEqual([4, 1])
    expect(logs).toEqual([
      "gate: each device's tc classes on a netlink socket of the service's own",
    ])
    // A batch with any line of another kind goes to tc whole, in its order.
    await runner.lines([...lines, 'qdisc del dev guest0 root'])
    expect(session.batches.at(-1)).toEqual([...lines, 'qdisc del dev guest0 root'])
    runner.close()
    expect((netlink as FakeNetlink).closed).toBe(true)
  })

  it('gives tc the lines the kernel refused, and rejects with its words', async () => {
    const { runner, session, netlink } = make()
    const nl = netlink as FakeNetlink
    nl.refuse = (c) => c.kind === 'pfifo' && c.dev === 'up0'
    await runner.lines(lines)
    expect(session.batches).toEqual([[lines[3]]])
    session.refuse.add(lines[3]!)
    await expect(runner.lines(lines)).rejects.toThrow(`Error: refused ${lines[3]}`)
  })

  it('goes through tc when the socket cannot be had or fails, and says so once', async () => {
    const none = make({ netlink: 'libmnl cannot be loaded: gone' })
    await none.runner.lines(lines)
    await none.runner.lines(lines)
    expect(none.session.batches).toEqual([lines, lines])
    expect(none.logs).toEqual([
      "gate: each device's tc classes through tc -batch (in the service's process: libmnl cannot be loaded: gone)",
    ])

    const other = make({ netns: false })
    await other.runner.lines(lines)
    expect(other.asked).toEqual([])
    expect(other.logs[0]).toMatch(
      /through tc -batch \(in the service's process: tc runs through sudo\)/,
    )

    const broken = make()
    ;(broken.netlink as FakeNetlink).broken = 'the kernel did not answer every tc change'
    await broken.runner.lines(lines)
    await broken.runner.lines(lines)
    expect(broken.session.batches).toEqual([lines, lines])
    expect(broken.logs.filter((l) => /failed/.test(l))).toEqual([
      'gate: tc changes on the netlink socket failed (the kernel did not answer every tc change): tc makes them',
    ])
  })
})
