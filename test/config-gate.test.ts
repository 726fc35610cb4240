import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { createWalledGarden } from '../src/gate/walled-garden.js'

function problemsOf(gate: unknown): string[] {
  try {
    loadConfig(JSON.stringify({ gate }))
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('the nftables gate configuration', () => {
  it('needs only the guest interface; everything else has a default', () => {
    const c = loadConfig('{"gate":{"backend":"nftables","guestInterface":"enp2s0"}}')
    expect(c.gate).toEqual({
      backend: 'nftables',
      guestInterface: 'enp2s0',
      uplinkInterface: null,
      portalPort: null,
      walledGarden: { hosts: [], cidrs: [], refreshMinutes: 30 },
      captiveDns: { port: 5300, dnsmasqPath: 'dnsmasq' },
      preLogin: { dnsPerSecond: 20, dnsBurst: 100, icmpPerSecond: 10, icmpBurst: 20 },
      ipv6: null,
      attempts: 3,
      nftPath: 'nft',
      nftSession: 'auto',
      dnsmasqConfFile: '/etc/dnsmasq.d/branchgate.conf',
      // Issue 17: per-device rates and the daily allowance, off by default.
      tcPath: 'tc',
      rate: { downKbps: null, upKbps: null, totalDownKbps: null, totalUpKbps: null },
      quota: { dailyMB: null, floorKbps: 256 },
    })
  })

  it('names each wrong key and what it must be', () => {
    expect(problemsOf({ backend: 'iptables' })).toEqual([
      'gate.backend: must be one of dry-run, nftables, got "iptables"',
    ])
    expect(problemsOf({ backend: 'nftables' })).toEqual([
      'gate.guestInterface is required (expected string, received undefined)',
    ])
    expect(problemsOf({ backend: 'nftables', guestInterface: 'eth0"; flush ruleset' })[0]).toMatch(
      /^gate\.guestInterface must be an interface name/,
    )
    expect(
      problemsOf({
        backend: 'nftables',
        guestInterface: 'eth0',
        walledGarden: { cidrs: ['10.0.0.0/33'], hosts: ['a b'] },
      }),
    ).toEqual([
      'gate.walledGarden.hosts.0 must be host names such as www.example.com or *.example.com, got "a b"',
      'gate.walledGarden.cidrs.0 must be IP addresses or CIDRs such as 203.0.113.0/24, got "10.0.0.0/33"',
    ])
    expect(
      problemsOf({
        backend: 'nftables',
        guestInterface: 'eth0',
        walledGarden: { refreshMinutes: 0 },
      }),
    ).toEqual(['gate.walledGarden.refreshMinutes must be between 1 and 1440, got 0'])
    expect(
      problemsOf({
        backend: 'nftables',
        guestInterface: 'eth0',
        captiveDns: { port: 53 },
        preLogin: { dnsPerSecond: 0 },
      }),
    ).toEqual([
      'gate.captiveDns.port must be between 1024 and 65535, got 53',
      'gate.preLogin.dnsPerSecond must be between 1 and 10000, got 0',
    ])
    expect(
      problemsOf({
        backend: 'nftables',
        guestInterface: 'eth0',
        walledGarden: { hosts: ['*.bank.example', 'a.*.example'] },
        ipv6: { prefix: 'fd42:77::/48', uplink: 'nat66' },
      }),
    ).toEqual([
      'gate.walledGarden.hosts.1 must be host names such as www.example.com or *.example.com, got "a.*.example"',
      'gate.ipv6.prefix must be an IPv6 /64 such as fd42:77::/64, got "fd42:77::/48"',
      'gate.ipv6.uplink must be "nat" or "routed", got "nat66"',
    ])
    const c = loadConfig(
      JSON.stringify({
        gate: { backend: 'nftables', guestInterface: 'eth0', ipv6: { prefix: 'fd42:77::/64' } },
      }),
    )
    expect(c.gate.backend === 'nftables' && c.gate.ipv6).toEqual({
      prefix: 'fd42:77::/64',
      uplink: 'nat',
    })
  })
})

describe('the walled garden', () => {
  it('adds what each host resolves to, and keeps the last addresses when DNS fails', async () => {
    let dnsUp = true
    const logs: string[] = []
    const garden = createWalledGarden({
      hosts: ['privacy.example.com'],
      cidrs: ['203.0.113.0/24'],
      resolve: async (h) => {
        if (!dnsUp) throw new Error('ESERVFAIL')
        return h === 'privacy.example.com' ? ['198.51.100.7', '2001:db8::7'] : []
      },
      log: (l) => logs.push(l),
    })
    expect(await garden.addresses()).toEqual(['203.0.113.0/24', '198.51.100.7', '2001:db8::7'])
    dnsUp = false
    expect(await garden.addresses()).toEqual(['203.0.113.0/24', '198.51.100.7', '2001:db8::7'])
    expect(logs).toEqual([
      'walled garden: cannot resolve privacy.example.com (ESERVFAIL); keeping 2 address(es)',
    ])
  })
})
