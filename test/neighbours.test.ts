import { describe, expect, it } from 'vitest'
import {
  createKernelNeighbours,
  parseIpNeighJson,
  parseProcArp,
  plainIp,
  isGuestAddress,
  withLoopbackDemoMac,
} from '../src/gate/neighbours.js'
import { parseMac, type Mac } from '../src/mac.js'

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
  })
})
