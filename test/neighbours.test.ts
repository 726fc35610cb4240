import { describe, expect, it } from 'vitest'
import {
  createDirectNeighbours,
  createKernelNeighbours,
  createNeighbourWatch,
  parseMonitorLine,
  parseIpNeighJson,
  parseProcArp,
  plainIp,
  isGuestAddress,
  withLoopbackDemoMac,
} from '../src/gate/neighbours.js'
import type { NeighbourFeedHandlers } from '../src/gate/neighbour-monitor.js'
import { parseMac, type Mac } from '../src/mac.js'
import { until } from './net-helpers.js'

const IP_NEIGH = JSON.stringify([
  { dst: '10.20.0.15', dev: 'br-guest', lladdr: '3A:11:22:33:44:55', state: ['REACHABLE'] },
  { dst: '10.20.0.16', dev: 'br-guest', state: ['FAILED'] },
  { dst: '10.20.0.17', dev: 'br-guest', lladdr: '3a:11:22:33:44:57', state: ['INCOMPLETE'] },
])
const PROC_ARP = `IP address       HW type     Flags       HW address            Mask     Device
10.20.0.15       0x1         0x2         3a:11:22:33:44:55     *        br-guest
10.20.0.18       0x1         0x0         00:00:00:00:00:00     *        br-guest
`

describe('MAC addresses', () => {
  it('reads the usual spellings into one canonical form', () => {
    expect(parseMac('3A-11-22-33-44-55')).toBe('3a:11:22:33:44:55')
    expect(parseMac('3a1122334455')).toBe('3a:11:22:33:44:55')
  })
  it('refuses text, broadcast, multicast and mixed separators', () => {
    for (const bad of [
      '',
      'hello',
      'ff:ff:ff:ff:ff:ff',
      '01:00:5e:00:00:01',
      '00:00:00:00:00:00',
      '3a:11-22:33:44:55',
      '3a:11:22:33:44:55; rm -rf /',
    ]) {
      expect(parseMac(bad)).toBeNull()
    }
  })
})

describe('neighbour table', () => {
  it('finds the MAC of a reachable neighbour in ip -j neigh output', () => {
    expect(parseIpNeighJson(IP_NEIGH, '10.20.0.15')).toBe('3a:11:22:33:44:55')
  })
  it('ignores failed and incomplete entries, and garbage', () => {
    expect(parseIpNeighJson(IP_NEIGH, '10.20.0.16')).toBeNull()
    expect(parseIpNeighJson(IP_NEIGH, '10.20.0.17')).toBeNull()
    expect(parseIpNeighJson('not json', '10.20.0.15')).toBeNull()
  })
  it('reads complete /proc/net/arp entries only', () => {
    expect(parseProcArp(PROC_ARP, '10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(parseProcArp(PROC_ARP, '10.20.0.18')).toBeNull()
  })
  it('strips the IPv4-mapped prefix Node reports on dual-stack sockets', () => {
    expect(plainIp('::ffff:10.20.0.15')).toBe('10.20.0.15')
    expect(plainIp('fe80::1')).toBe('fe80::1')
  })
  it('asks ip first, with the address as a separate argument, and falls back to /proc/net/arp', async () => {
    const calls: string[][] = []
    const table = createKernelNeighbours(
      async (file, args) => {
        calls.push([file, ...args])
        throw new Error('ip: command not found')
      },
      async () => PROC_ARP,
    )
    expect(await table.macFor('::ffff:10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(calls).toEqual([['ip', '-j', 'neigh', 'show', 'to', '10.20.0.15']])
  })
  it('never runs a command for something that is not an IP address', async () => {
    let ran = false
    const table = createKernelNeighbours(
      async () => {
        ran = true
        return '[]'
      },
      async () => PROC_ARP,
    )
    expect(await table.macFor('10.0.0.1; reboot')).toBeNull()
    expect(ran).toBe(false)
  })
  it('finds an IPv6 guest in the neighbour table, and never a link-local, multicast or unspecified source', async () => {
    const calls: string[][] = []
    const rows = JSON.stringify([
      {
        dst: 'fd42:77::8a1c:2ff:fe33:4455',
        dev: 'br-guest',
        lladdr: '3a:11:22:33:44:55',
        state: ['REACHABLE'],
      },
      // The branch router on the uplink has the same link-local address as a guest might claim.
      { dst: 'fe80::1', dev: 'enp1s0', lladdr: '00:11:22:33:44:01', state: ['REACHABLE'] },
    ])
    const table = createKernelNeighbours(
      async (file, args) => {
        calls.push([file, ...args])
        return rows
      },
      async () => PROC_ARP,
    )
    expect(await table.macFor('fd42:77::8a1c:2ff:fe33:4455')).toBe('3a:11:22:33:44:55')
    for (const source of [
      'fe80::1',
      'fe80::8a1c:2ff:fe33:4455',
      'ff02::1',
      '::',
      '::1',
      '169.254.3.4',
      '224.0.0.251',
      '255.255.255.255',
      '0.0.0.0',
    ])
      expect(await table.macFor(source), source).toBeNull()
    expect(calls).toEqual([['ip', '-j', 'neigh', 'show', 'to', 'fd42:77::8a1c:2ff:fe33:4455']])
    expect(isGuestAddress('10.99.1.20')).toBe(true)
    expect(isGuestAddress('2001:db8::20')).toBe(true)
  })
  it('gives loopback clients the demo MAC only through the demo wrapper', async () => {
    const demo = parseMac('02:aa:bb:cc:dd:ee') as Mac
    const kernel = createKernelNeighbours(
      async () => '[]',
      async () => PROC_ARP,
    )
    expect(await kernel.macFor('127.0.0.1')).toBeNull()
    const wrapped = withLoopbackDemoMac(kernel, demo)
    expect(await wrapped.macFor('127.0.0.1')).toBe(demo)
    expect(await wrapped.macFor('::1')).toBe(demo)
    expect(await wrapped.macFor('10.20.0.15')).toBe('3a:11:22:33:44:55')
    // Known without a lookup: the demo's loopback MAC; the per-request kernel table knows nothing.
    expect(wrapped.known?.('::ffff:127.0.0.1')).toBe(demo)
    expect(wrapped.known?.('10.20.0.15')).toBeUndefined()
    expect(kernel.known).toBeUndefined()
  })
})

/** A hand-driven `ip monitor neigh`: the test writes its lines and ends it. */
class FakeMonitor {
  starts = 0
  stops = 0
  private onLine: ((l: string) => void) | null = null
  private onEnd: ((why: string) => void) | null = null
  readonly start = (onLine: (l: string) => void, onEnd: (why: string) => void) => {
    this.starts++
    this.onLine = onLine
    this.onEnd = onEnd
    return { stop: () => void this.stops++ }
  }
  line(l: string) {
    this.onLine?.(l)
  }
  end(why = 'exit 1') {
    const e = this.onEnd
    this.onLine = this.onEnd = null
    e?.(why)
  }
}

/** A hand-driven feed (the service's netlink one is test/neighbour-monitor.test.ts's). */
class FakeFeed {
  on: NeighbourFeedHandlers | null = null
  refreshes = 0
  stops = 0
  readonly start = (on: NeighbourFeedHandlers) => {
    this.on = on
    return { refresh: () => void this.refreshes++, stop: () => void this.stops++ }
  }
}

/** A kernel the direct lookups ask, counting the questions. */
function countingKernel(answers: Record<string, string>) {
  const asked: string[] = []
  return {
    asked,
    table: {
      async macFor(ip: string) {
        asked.push(ip)
        return (answers[ip] ? parseMac(answers[ip]!) : null) as Mac | null
      },
    },
  }
}

describe('the neighbour watch (one ip monitor, no process per request)', () => {
  it('reads the lines of ip monitor neigh: added, changed, deleted, failed', () => {
    expect(parseMonitorLine('10.99.1.20 dev guest lladdr 02:99:00:00:00:01 REACHABLE ')).toEqual({
      ip: '10.99.1.20',
      mac: '02:99:00:00:00:01',
      gone: false,
    })
    expect(parseMonitorLine('fe80::1 dev guest lladdr 02:22:22:22:22:22 router STALE')).toEqual({
      ip: 'fe80::1',
      mac: '02:22:22:22:22:22',
      gone: false,
    })
    expect(parseMonitorLine('Deleted 10.99.1.20 dev guest lladdr 02:99:00:00:00:01 STALE')).toEqual(
      { ip: '10.99.1.20', mac: '02:99:00:00:00:01', gone: true },
    )
    expect(parseMonitorLine('10.99.1.21 dev guest FAILED')).toEqual({
      ip: '10.99.1.21',
      mac: null,
      gone: true,
    })
    expect(parseMonitorLine('10.99.1.22 dev guest lladdr 02:99:00:00:00:02 INCOMPLETE')?.gone).toBe(
      true,
    )
    expect(parseMonitorLine('miss 10.99.1.23 dev guest  ')).toBeNull()
    expect(parseMonitorLine('')).toBeNull()
    expect(parseMonitorLine('garbage; rm -rf /')).toBeNull()
  })

  it('answers from its table once the monitor runs, without asking the kernel per request', async () => {
    const monitor = new FakeMonitor()
    const kernel = countingKernel({})
    const watch = createNeighbourWatch({
      monitor: monitor.start,
      dump: async () => IP_NEIGH,
      direct: kernel.table,
      settleMs: 0,
    })
    await until(() => watch.state().live)
    expect(watch.state()).toMatchObject({ live: true, entries: 1 })
    for (let i = 0; i < 100; i++)
      expect(await watch.macFor('::ffff:10.20.0.15')).toBe('3a:11:22:33:44:55')
    monitor.line('10.20.0.40 dev br-guest lladdr 3a:00:00:00:00:40 REACHABLE')
    expect(await watch.macFor('10.20.0.40')).toBe('3a:00:00:00:00:40')
    expect(kernel.asked).toEqual([])
    watch.close()
  })

  it('asks the kernel directly for a device it has not heard of yet, and never answers a MAC the kernel replaced', async () => {
    const monitor = new FakeMonitor()
    const kernel = countingKernel({ '10.20.0.50': '3a:00:00:00:00:50' })
    const watch = createNeighbourWatch({
      monitor: monitor.start,
      dump: async () => IP_NEIGH,
      direct: kernel.table,
      settleMs: 0,
    })
    await until(() => watch.state().live)
    // A new phone whose first request beats the monitor's line: asked, not refused.
    expect(await watch.macFor('10.20.0.50')).toBe('3a:00:00:00:00:50')
    expect(kernel.asked).toEqual(['10.20.0.50'])
    // The address moves to another phone: the kernel's line replaces the old MAC.
    monitor.line('10.20.0.15 dev br-guest lladdr 3a:99:99:99:99:99 STALE')
    expect(await watch.macFor('10.20.0.15')).toBe('3a:99:99:99:99:99')
    expect(watch.known('::ffff:10.20.0.15')).toBe('3a:99:99:99:99:99')
    // Deleted or failed entries are forgotten: the next question goes to the kernel.
    monitor.line('Deleted 10.20.0.15 dev br-guest lladdr 3a:99:99:99:99:99 STALE')
    expect(watch.known('10.20.0.15')).toBeUndefined()
    expect(await watch.macFor('10.20.0.15')).toBeNull()
    monitor.line('10.20.0.40 dev br-guest lladdr 3a:00:00:00:00:40 REACHABLE')
    monitor.line('10.20.0.40 dev br-guest FAILED')
    expect(await watch.macFor('10.20.0.40')).toBeNull()
    expect(kernel.asked).toEqual(['10.20.0.50', '10.20.0.15', '10.20.0.40'])
    watch.close()
  })

  it('applies the lines that arrive while it reads the whole table after the table, in order', async () => {
    const monitor = new FakeMonitor()
    let release: ((text: string) => void) | null = null
    const watch = createNeighbourWatch({
      monitor: monitor.start,
      dump: () => new Promise<string>((r) => (release = r)),
      direct: countingKernel({}).table,
      settleMs: 0,
    })
    await until(() => release !== null)
    monitor.line('10.20.0.15 dev br-guest lladdr 3a:00:00:00:00:01 REACHABLE')
    monitor.line('10.20.0.15 dev br-guest lladdr 3a:00:00:00:00:02 REACHABLE')
    release!(IP_NEIGH) // taken before the second line: says 3a:11:22:33:44:55
    await until(() => watch.state().live)
    expect(await watch.macFor('10.20.0.15')).toBe('3a:00:00:00:00:02')
    watch.close()
  })

  it('asks the kernel per request while the monitor is down, says so once, and starts it again', async () => {
    const monitor = new FakeMonitor()
    const kernel = countingKernel({ '10.20.0.15': '3a:11:22:33:44:55' })
    const lines: string[] = []
    const watch = createNeighbourWatch({
      monitor: monitor.start,
      dump: async () => IP_NEIGH,
      direct: kernel.table,
      log: (l) => lines.push(l),
      settleMs: 0,
      restartMs: 1,
    })
    await until(() => watch.state().live)
    expect(watch.known('10.20.0.15')).toBe('3a:11:22:33:44:55')
    monitor.end('ip monitor ended (SIGKILL)')
    expect(watch.state().live).toBe(false)
    // Nothing is known without asking while the monitor is down.
    expect(watch.known('10.20.0.15')).toBeUndefined()
    expect(await watch.macFor('10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(kernel.asked).toEqual(['10.20.0.15'])
    expect(lines).toEqual([
      'neighbours: ip monitor ended (SIGKILL); asking the kernel per request until it runs again',
    ])
    await until(() => watch.state().live)
    expect(monitor.starts).toBe(2)
    expect(await watch.macFor('10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(kernel.asked).toEqual(['10.20.0.15'])
    watch.close()
    expect(monitor.stops).toBe(1)
  })

  it('asks the kernel per request once its feed lost changes, until the next table comes', async () => {
    const feed = new FakeFeed()
    const kernel = countingKernel({ '10.20.0.15': '3a:00:00:00:00:02' })
    const lines: string[] = []
    const watch = createNeighbourWatch({
      feed: feed.start,
      direct: kernel.table,
      log: (l) => lines.push(l),
      settleMs: 0,
    })
    await until(() => feed.refreshes === 1)
    feed.on!.table(new Map([['10.20.0.15', '3a:00:00:00:00:01' as Mac]]))
    expect(watch.known('10.20.0.15')).toBe('3a:00:00:00:00:01')
    // The address moved, but the change was among those lost: the old MAC is never answered.
    feed.on!.lost('the kernel dropped changes (the socket had no room)')
    feed.on!.lost('the kernel dropped changes (the socket had no room)')
    expect(watch.known('10.20.0.15')).toBeUndefined()
    expect(await watch.macFor('10.20.0.15')).toBe('3a:00:00:00:00:02')
    expect(lines).toEqual([
      'neighbours: the kernel dropped changes (the socket had no room); asking the kernel per request until the table is read again',
    ])
    feed.on!.table(new Map([['10.20.0.15', '3a:00:00:00:00:02' as Mac]]))
    expect(watch.known('10.20.0.15')).toBe('3a:00:00:00:00:02')
    expect(kernel.asked).toEqual(['10.20.0.15'])
    watch.close()
    expect(feed.stops).toBe(1)
  })

  it('starts its feed again when the first table cannot be read, and keeps the table it has at a later failure', async () => {
    const feed = new FakeFeed()
    const lines: string[] = []
    const watch = createNeighbourWatch({
      feed: feed.start,
      direct: countingKernel({}).table,
      log: (l) => lines.push(l),
      settleMs: 0,
      restartMs: 1,
    })
    await until(() => feed.refreshes === 1)
    feed.on!.table({ failed: 'the kernel refused the table (errno 16)' })
    expect(feed.stops).toBe(1)
    await until(() => feed.refreshes === 2)
    feed.on!.table(new Map([['10.20.0.15', '3a:00:00:00:00:01' as Mac]]))
    expect(watch.state()).toMatchObject({ live: true, entries: 1 })
    feed.on!.table({ failed: 'the table request could not be sent' })
    expect(watch.known('10.20.0.15')).toBe('3a:00:00:00:00:01')
    expect(lines).toEqual([
      'neighbours: cannot read the neighbour table: the kernel refused the table (errno 16)',
      'neighbours: the monitor runs but the table cannot be read; asking the kernel per request until it runs again',
      'neighbours: cannot read the neighbour table: the table request could not be sent',
    ])
    watch.close()
  })

  it('applies the lines that came while ip could not give the table, once it failed', async () => {
    const monitor = new FakeMonitor()
    let fail: ((err: Error) => void) | null = null
    let dumps = 0
    const watch = createNeighbourWatch({
      monitor: monitor.start,
      dump: () => {
        dumps++
        return dumps === 1
          ? Promise.resolve(IP_NEIGH)
          : new Promise<string>((_, reject) => (fail = reject))
      },
      direct: countingKernel({}).table,
      settleMs: 0,
      resyncMs: 5,
    })
    await until(() => fail !== null)
    monitor.line('10.20.0.15 dev br-guest lladdr 3a:00:00:00:00:02 REACHABLE')
    expect(watch.known('10.20.0.15')).toBe('3a:11:22:33:44:55')
    fail!(new Error('ip exited 1'))
    await until(() => watch.known('10.20.0.15') === '3a:00:00:00:00:02')
    watch.close()
  })

  it('reads IPv4 from /proc/net/arp without a process, and runs ip only for IPv6', async () => {
    const calls: string[][] = []
    const direct = createDirectNeighbours(
      async (file, args) => {
        calls.push([file, ...args])
        return JSON.stringify([{ dst: 'fd00::5', lladdr: '3a:00:00:00:00:05', state: ['STALE'] }])
      },
      async () => PROC_ARP,
    )
    expect(await direct.macFor('10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(await direct.macFor('10.20.0.18')).toBeNull()
    expect(calls).toEqual([])
    expect(await direct.macFor('fd00::5')).toBe('3a:00:00:00:00:05')
    expect(calls).toEqual([['ip', '-j', 'neigh', 'show', 'to', 'fd00::5']])
    expect(await direct.macFor('not an address')).toBeNull()
    expect(calls.length).toBe(1)
  })

  it("asks the kernel's table on netlink first, for both families, and the other ways only when it cannot be read", async () => {
    const calls: string[] = []
    const asked: string[] = []
    let answer: Mac | null | { failed: string } = '3a:00:00:00:00:07' as Mac
    const direct = createDirectNeighbours(
      async (_file, args) => {
        calls.push(args.at(-1)!)
        return JSON.stringify([{ dst: 'fd00::5', lladdr: '3a:00:00:00:00:05', state: ['STALE'] }])
      },
      async () => {
        calls.push('arp')
        return PROC_ARP
      },
      () => (ip) => {
        asked.push(ip)
        return answer
      },
    )
    expect(await direct.macFor('::ffff:10.20.0.15')).toBe('3a:00:00:00:00:07')
    expect(await direct.macFor('fd00::5')).toBe('3a:00:00:00:00:07')
    // The kernel knows no entry: that is the answer, not a reason to ask again.
    answer = null
    expect(await direct.macFor('fd00::5')).toBeNull()
    expect(calls).toEqual([])
    // A table that cannot be read: /proc/net/arp or ip answers.
    answer = { failed: 'the neighbour lookup stopped without its end' }
    expect(await direct.macFor('10.20.0.15')).toBe('3a:11:22:33:44:55')
    expect(await direct.macFor('fd00::5')).toBe('3a:00:00:00:00:05')
    expect(calls).toEqual(['arp', 'fd00::5'])
    expect(asked).toEqual(['10.20.0.15', 'fd00::5', 'fd00::5', '10.20.0.15', 'fd00::5'])
    expect(await direct.macFor('not an address')).toBeNull()
    // A link-local source is nobody's device, with or without its zone: never asked, even of
    // a table that has it.
    answer = '3a:00:00:00:00:07' as Mac
    expect(await direct.macFor('fe80::5')).toBeNull()
    expect(await direct.macFor('fe80::5%guest')).toBeNull()
    expect(await direct.macFor('127.0.0.1')).toBeNull()
    expect(asked).toHaveLength(5)
  })
})
