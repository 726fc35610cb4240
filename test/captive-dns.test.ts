import { describe, expect, it } from 'vitest'
import {
  gardenDomain,
  hasNftset,
  interfaceAddresses,
  readCaptiveDnsTemplate,
  renderCaptiveDns,
  startCaptiveResolver,
  type StartProcess,
} from '../src/gate/captive-dns.js'

const settings = (text: string) =>
  text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))

describe('the captive resolver’s dnsmasq file', () => {
  const base = {
    guestInterface: 'br-guest',
    port: 5300,
    gatewayAddresses: ['192.168.77.1', 'fd00:77::1'],
    gardenHosts: ['notice.bank.example', '*.sms-links.example', 'NOTICE.bank.example.'],
    nftset: true,
  }
  const text = renderCaptiveDns(readCaptiveDnsTemplate(), base)

  it('answers every name itself with the gateway’s addresses and forwards nothing else', () => {
    expect(settings(text)).toEqual([
      'port=5300',
      'interface=br-guest',
      'bind-dynamic',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'address=/#/192.168.77.1',
      'address=/#/fd00:77::1',
      'local=/#/',
      'edns-packet-max=512',
      // Only the walled garden's names go on, to the branch's resolver on the gateway, and
      // their answers into the firewall's garden sets.
      'cache-size=0',
      'server=/notice.bank.example/192.168.77.1',
      'server=/sms-links.example/192.168.77.1',
      'nftset=/notice.bank.example/sms-links.example/4#inet#branchgate#garden_dns4,6#inet#branchgate#garden_dns6',
    ])
  })

  it('leaves the sets out for a dnsmasq built without nftset', () => {
    const old = renderCaptiveDns(readCaptiveDnsTemplate(), { ...base, nftset: false })
    expect(settings(old).some((l) => l.startsWith('nftset='))).toBe(false)
    expect(hasNftset('Compile time options: IPv6 GNU-getopt DBus ipset nftset auth')).toBe(true)
    expect(hasNftset('Compile time options: IPv6 GNU-getopt DBus ipset no-nftset auth')).toBe(false)
  })

  it('has no DHCP and no upstream server of its own', () => {
    expect(text).not.toMatch(/^dhcp-/m)
    expect(
      settings(text).filter((l) => l.startsWith('server=') && !l.startsWith('server=/')),
    ).toEqual([])
    const none = renderCaptiveDns(readCaptiveDnsTemplate(), { ...base, gardenHosts: [] })
    expect(settings(none).some((l) => l.startsWith('server='))).toBe(false)
  })

  it('refuses values that could add a line to the file', () => {
    expect(() => gardenDomain('bank.example\nserver=8.8.8.8')).toThrow(/not a host name/)
    expect(() => renderCaptiveDns(readCaptiveDnsTemplate(), { ...base, port: 53 })).toThrow(/port/)
    expect(() =>
      renderCaptiveDns(readCaptiveDnsTemplate(), { ...base, guestInterface: 'eth0\nx' }),
    ).toThrow(/interface/)
    expect(() =>
      renderCaptiveDns(readCaptiveDnsTemplate(), { ...base, gatewayAddresses: [] }),
    ).toThrow(/no address/)
  })

  it('reads the guest interface’s global addresses from ip -j addr, leaving out link-local ones', () => {
    const json = JSON.stringify([
      {
        ifname: 'br-guest',
        addr_info: [
          { family: 'inet', local: '192.168.77.1', prefixlen: 24, scope: 'global' },
          { family: 'inet6', local: 'fd00:77::1', prefixlen: 64, scope: 'global' },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
          { family: 'inet6', local: 'fd00:77::2', scope: 'global', tentative: true },
        ],
      },
    ])
    expect(interfaceAddresses(json)).toEqual(['192.168.77.1', 'fd00:77::1'])
    expect(interfaceAddresses('not json')).toEqual([])
  })
})

/** A fake dnsmasq: records each start, says "started", and exits when the test says so. */
function fakeStarts() {
  const runs: Array<{ args: string[]; exit: (why: string) => void; killed: boolean }> = []
  const start: StartProcess = (_file, args, output) => {
    const listeners: Array<(code: number | null, why: string) => void> = []
    const run = {
      args,
      killed: false,
      exit: (why: string) => listeners.forEach((l) => l(1, why)),
    }
    runs.push(run)
    queueMicrotask(() => output('dnsmasq[42]: started, version 2.90 cachesize 150'))
    return { onExit: (l) => listeners.push(l), kill: () => (run.killed = true) }
  }
  return { runs, start }
}

describe('running the captive resolver', () => {
  it('writes its file, starts dnsmasq in the foreground with it, and logs its lines', async () => {
    const { runs, start } = fakeStarts()
    const written: string[] = []
    const log: string[] = []
    const r = startCaptiveResolver({
      dnsmasqPath: '/usr/sbin/dnsmasq',
      confFile: '/var/lib/branchgate/captive-dns.conf',
      guestInterface: 'br-guest',
      render: (a) => `address=/#/${a[0]}`,
      addresses: async () => ['192.168.77.1'],
      log: (l) => log.push(l),
      start,
      write: async (file, text) => void written.push(`${file}: ${text}`),
      pause: async () => {},
    })
    await r.started
    expect(written).toEqual(['/var/lib/branchgate/captive-dns.conf: address=/#/192.168.77.1'])
    expect(runs[0]!.args).toEqual([
      '--keep-in-foreground',
      '--conf-file=/var/lib/branchgate/captive-dns.conf',
      '--pid-file=',
      '--log-facility=-',
    ])
    expect(log).toEqual(['captive dns: started, version 2.90 cachesize 150'])
    r.stop()
    expect(runs[0]!.killed).toBe(true)
  })

  it('starts it again when it ends, and waits when the guest interface has no address yet', async () => {
    const { runs, start } = fakeStarts()
    const log: string[] = []
    const pauses: number[] = []
    let addresses: string[] = []
    let resumed: () => void = () => {}
    const r = startCaptiveResolver({
      dnsmasqPath: 'dnsmasq',
      confFile: '/tmp/x.conf',
      guestInterface: 'br-guest',
      render: (a) => {
        if (a.length === 0) throw new Error('br-guest has no address to answer with')
        return 'x'
      },
      addresses: async () => addresses,
      log: (l) => log.push(l),
      start,
      write: async () => {},
      pause: async (ms) => {
        pauses.push(ms)
        await new Promise<void>((res) => (resumed = res))
      },
    })
    await r.started
    expect(runs).toHaveLength(0)
    expect(log).toEqual([
      'captive dns: cannot be set up: br-guest has no address to answer with; starting it again in 1 s',
    ])
    addresses = ['192.168.77.1']
    resumed()
    await new Promise((res) => setTimeout(res, 0))
    expect(runs).toHaveLength(1)
    runs[0]!.exit('exit 2')
    expect(log.at(-1)).toBe('captive dns: dnsmasq ended (exit 2); starting it again in 2 s')
    resumed()
    await new Promise((res) => setTimeout(res, 0))
    expect(runs).toHaveLength(2)
    expect(pauses).toEqual([1000, 2000])
    r.stop()
    runs[1]!.exit('signal SIGTERM')
    expect(runs).toHaveLength(2)
    expect(log.at(-1)).not.toContain('starting it again')
  })

  it('a restart (live reload) renders the new config and starts dnsmasq afresh, with no pause and no double start', async () => {
    const { runs, start } = fakeStarts()
    const written: string[] = []
    const log: string[] = []
    const pauses: number[] = []
    let garden = 'a.example'
    let resumed: () => void = () => {}
    let addresses: string[] = []
    const r = startCaptiveResolver({
      dnsmasqPath: 'dnsmasq',
      confFile: '/tmp/x.conf',
      guestInterface: 'br-guest',
      render: (a) => {
        if (a.length === 0) throw new Error('no address')
        return `server=/${garden}/`
      },
      addresses: async () => addresses,
      log: (l) => log.push(l),
      start,
      write: async (_f, text) => void written.push(text),
      pause: async (ms) => {
        pauses.push(ms)
        await new Promise<void>((res) => (resumed = res))
      },
    })
    await r.started
    // Between tries (no address yet): a restart starts at once, the planned retry stands down.
    addresses = ['192.168.77.1']
    await r.restart()
    expect(runs).toHaveLength(1)
    resumed()
    await new Promise((res) => setTimeout(res, 0))
    expect(runs).toHaveLength(1)
    // Running: the old process is ended and a new one started with the new garden at once.
    garden = 'b.example'
    runs[0]!.killed = false
    const restarted = r.restart()
    expect(runs[0]!.killed).toBe(true)
    runs[0]!.exit('signal SIGTERM')
    await restarted
    expect(runs).toHaveLength(2)
    expect(written.at(-1)).toBe('server=/b.example/')
    expect(pauses).toEqual([1000])
    expect(log.filter((l) => l.includes('starting it again'))).toHaveLength(1)
    r.stop()
  })
})
