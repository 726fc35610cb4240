import { describe, expect, it } from 'vitest'
import {
  netlinkNeighbourFeed,
  type MonitorSocket,
  type NeighbourFeedHandlers,
} from '../src/gate/neighbour-monitor.js'
import type { NeighbourEvent } from '../src/gate/neighbour-dump.js'
import { done, errorMessage, neighbourMessage } from './fakes/netlink.js'

/**
 * A hand-driven socket: the test gives the waiting read its bytes (or an error), and queues what
 * the reads without waiting find after it.
 */
class FakeSocket implements MonitorSocket {
  readonly fd = 42
  sent: Buffer[] = []
  queued: Array<Buffer | number> = []
  closed = false
  waiting: ((err: NodeJS.ErrnoException | null, n: number) => void) | null = null
  into: Buffer | null = null
  reads = 0

  send(buf: Buffer, length: number) {
    this.sent.push(Buffer.from(buf.subarray(0, length)))
    return true
  }
  take(into: Buffer) {
    const next = this.queued.shift()
    if (next === undefined) return 0
    if (typeof next === 'number') return next
    next.copy(into)
    return next.length
  }
  close() {
    this.closed = true
  }
  read = (
    fd: number,
    into: Buffer,
    done: (err: NodeJS.ErrnoException | null, n: number) => void,
  ) => {
    expect(fd).toBe(42)
    expect(this.waiting).toBeNull()
    this.reads++
    this.into = into
    this.waiting = done
  }
  /** The waiting read returns these bytes (then the queued ones are taken). */
  give(...messages: Buffer[]) {
    const buf = Buffer.concat(messages)
    buf.copy(this.into!)
    this.answer(null, buf.length)
  }
  fail(code: string) {
    this.answer(Object.assign(new Error(code), { code }), 0)
  }
  private answer(err: NodeJS.ErrnoException | null, n: number) {
    const w = this.waiting!
    this.waiting = null
    w(err, n)
  }
  /** The sequence number of the last dump request sent. */
  get dumpSeq() {
    return this.sent.at(-1)!.readUInt32LE(8)
  }
}

function started() {
  const socket = new FakeSocket()
  const seen: Array<[string, unknown]> = []
  const on: NeighbourFeedHandlers = {
    change: (e: NeighbourEvent) => seen.push(['change', `${e.ip} ${e.gone ? 'gone' : e.mac}`]),
    table: (t) => seen.push(['table', t instanceof Map ? Object.fromEntries(t) : t]),
    lost: (why) => seen.push(['lost', why]),
    end: (why) => seen.push(['end', why]),
  }
  const feed = netlinkNeighbourFeed({ open: () => socket, read: socket.read })(on)
  return { socket, seen, feed }
}

const change = (ip: string, mac: string) => neighbourMessage({ dst: ip, mac })
const entry = (seq: number, ip: string, mac: string) => neighbourMessage({ seq, dst: ip, mac })

describe("the neighbour changes on the service's own netlink socket", () => {
  it('hands changes on as they come, and takes what else waits without another read', () => {
    const { socket, seen } = started()
    expect(socket.reads).toBe(1)
    socket.queued.push(change('10.98.0.2', '020000000002'))
    socket.give(change('10.98.0.1', '020000000001'))
    expect(seen).toEqual([
      ['change', '10.98.0.1 02:00:00:00:00:01'],
      ['change', '10.98.0.2 02:00:00:00:00:02'],
    ])
    // One read waits again.
    expect(socket.reads).toBe(2)
  })

  it("gives the whole table at a dump's end; changes after its first entry follow it", () => {
    const { socket, seen, feed } = started()
    feed.refresh()
    const seq = socket.dumpSeq
    expect(socket.sent[0]!.readUInt16LE(4)).toBe(30) // RTM_GETNEIGH
    feed.refresh() // one dump at a time: the one being read answers
    expect(socket.sent).toHaveLength(1)
    socket.give(
      change('10.98.0.5', '020000000005'), // before the dump's entries: older than them
      entry(seq, '10.98.0.5', '020000000006'),
      change('10.98.0.7', '020000000007'), // after: newer, waits for the table
    )
    expect(seen).toEqual([['change', '10.98.0.5 02:00:00:00:00:05']])
    socket.give(entry(seq, '10.98.0.7', '020000000077'), done(seq))
    expect(seen.slice(1)).toEqual([
      ['table', { '10.98.0.5': '02:00:00:00:00:06', '10.98.0.7': '02:00:00:00:00:77' }],
      ['change', '10.98.0.7 02:00:00:00:00:07'],
    ])
    feed.refresh()
    expect(socket.sent).toHaveLength(2)
    expect(socket.dumpSeq).not.toBe(seq)
  })

  it("says the kernel's refusal of a table, and still hands on the changes that came", () => {
    const { socket, seen, feed } = started()
    feed.refresh()
    const seq = socket.dumpSeq
    socket.give(entry(seq, '10.98.0.1', '020000000001'), change('10.98.0.2', '020000000002'))
    socket.give(errorMessage(seq, 16))
    expect(seen).toEqual([
      ['table', { failed: 'the kernel refused the table (errno 16)' }],
      ['change', '10.98.0.2 02:00:00:00:00:02'],
    ])
  })

  it('says when changes were lost and asks for a new table; one read partly before, again', () => {
    const { socket, seen, feed } = started()
    socket.fail('ENOBUFS')
    expect(seen).toEqual([['lost', 'the kernel dropped changes (the socket had no room)']])
    const first = socket.dumpSeq
    expect(socket.sent).toHaveLength(1)
    // Lost again while that table is read (found by a read without waiting): its table could be
    // out of date, so it is not given; another is asked for.
    socket.queued.push(-105)
    socket.give(entry(first, '10.98.0.1', '020000000001'))
    socket.give(done(first))
    expect(seen.filter(([k]) => k === 'table')).toEqual([])
    expect(socket.sent).toHaveLength(2)
    const second = socket.dumpSeq
    socket.give(entry(second, '10.98.0.1', '020000000001'), done(second))
    expect(seen.at(-1)).toEqual(['table', { '10.98.0.1': '02:00:00:00:00:01' }])
  })

  it('reads again after a timeout, and ends with the reason at any other error', () => {
    const { socket, seen } = started()
    socket.fail('EAGAIN')
    expect(socket.reads).toBe(2)
    expect(seen).toEqual([])
    socket.fail('EBADF')
    expect(seen).toEqual([['end', 'cannot read the neighbour changes: EBADF']])
    expect(socket.closed).toBe(true)
    expect(socket.reads).toBe(2)
  })

  it('wakes the waiting read to stop, and closes the socket only once it returned', () => {
    const { socket, seen, feed } = started()
    feed.stop()
    // A no-op with an acknowledgement asked: the kernel answers at once.
    const noop = socket.sent.at(-1)!
    expect([noop.readUInt16LE(4), noop.readUInt16LE(6)]).toEqual([1, 0x5])
    expect(socket.closed).toBe(false)
    socket.give(errorMessage(noop.readUInt32LE(8), 0))
    expect(socket.closed).toBe(true)
    expect(socket.reads).toBe(1)
    expect(seen).toEqual([])
    feed.refresh() // stopped: nothing asked
    expect(socket.sent).toHaveLength(1)
  })

  it('ends at once, with the reason, when its socket cannot be opened', async () => {
    const ends: string[] = []
    netlinkNeighbourFeed({ open: () => 'libmnl cannot be loaded', read: () => {} })({
      change() {},
      table() {},
      lost() {},
      end: (why) => ends.push(why),
    })
    await new Promise((r) => setImmediate(r))
    expect(ends).toEqual(['libmnl cannot be loaded'])
  })
})
