import { describe, expect, it } from 'vitest'
import {
  createCounterWatch,
  createKernelPresence,
  parseNeighbourActivity,
  readNeighbourJson,
  scanNeighbourActivity,
} from '../src/visits/kernel-presence.js'
import type { Mac } from '../src/mac.js'

const NOW = Date.parse('2026-03-02T15:00:00Z')

const NEIGH = JSON.stringify([
  {
    dst: '10.20.0.15',
    dev: 'br-guest',
    lladdr: '3A:11:22:33:44:55',
    used: 3,
    confirmed: 2,
    updated: 2,
    probes: 0,
    state: ['REACHABLE'],
  },
  {
    dst: '10.20.0.16',
    dev: 'br-guest',
    lladdr: '3a:11:22:33:44:66',
    used: 100,
    confirmed: 400,
    updated: 90,
    probes: 0,
    state: ['STALE'],
  },
  {
    dst: '10.20.0.17',
    dev: 'br-guest',
    lladdr: '3a:11:22:33:44:77',
    used: 5,
    confirmed: 40,
    updated: 5,
    probes: 0,
    state: ['DELAY'],
  },
  {
    dst: '10.20.0.18',
    dev: 'br-guest',
    lladdr: '3a:11:22:33:44:88',
    used: 5,
    confirmed: 600,
    updated: 1,
    probes: 3,
    state: ['FAILED'],
  },
  {
    dst: '10.20.0.19',
    dev: 'br-guest',
    used: 5,
    confirmed: 5,
    updated: 5,
    probes: 3,
    state: ['INCOMPLETE'],
  },
  {
    dst: 'fe80::1',
    dev: 'br-guest',
    lladdr: '3a:11:22:33:44:55',
    used: 1,
    confirmed: 1,
    updated: 1,
    probes: 0,
    state: ['REACHABLE'],
  },
  {
    dst: '10.20.0.1',
    dev: 'br-guest',
    lladdr: '02:00:00:00:00:01',
    used: 1,
    confirmed: 1,
    updated: 1,
    state: ['PERMANENT'],
  },
])

describe('kernel presence', () => {
  it('reads each usable neighbour entry as the last time the kernel confirmed the device', () => {
    const seen = parseNeighbourActivity(NEIGH, NOW)
    expect(Object.fromEntries(seen)).toEqual({
      '3a:11:22:33:44:55': NOW - 1_000, // the freshest of its IPv4 and IPv6 entries
      '3a:11:22:33:44:66': NOW - 400_000,
      '3a:11:22:33:44:77': NOW - 40_000,
    })
  })

  it('counts a device seen only over IPv6, under its MAC, whichever address it used last', () => {
    const v6 = JSON.stringify([
      // The stable SLAAC address, confirmed a while ago, and a temporary (privacy) one just now.
      {
        dst: 'fd42:77::8a1c:2ff:fe33:4488',
        dev: 'br-guest',
        lladdr: '3a:11:22:33:44:88',
        confirmed: 50,
        state: ['STALE'],
      },
      {
        dst: 'fd42:77::5d2e:91a0:77c3:1b02',
        dev: 'br-guest',
        lladdr: '3a:11:22:33:44:88',
        confirmed: 4,
        state: ['REACHABLE'],
      },
      {
        dst: 'fe80::381d:22ff:fe33:4488',
        dev: 'br-guest',
        lladdr: '3a:11:22:33:44:88',
        confirmed: 9,
        state: ['REACHABLE'],
      },
    ])
    expect(parseNeighbourActivity(v6, NOW)).toEqual(new Map([['3a:11:22:33:44:88', NOW - 4000]]))
  })

  it('forgets the baseline of a device missing from a look of the counters', () => {
    const watch = createCounterWatch()
    const m = (bytes: number) => new Map([['3a:11:22:33:44:55' as Mac, { bytes }]])
    expect(watch.grown(m(100))).toEqual([])
    expect(watch.grown(new Map())).toEqual([])
    expect(watch.grown(m(200))).toEqual([]) // a baseline again, not growth
    expect(watch.grown(m(300))).toEqual(['3a:11:22:33:44:55'])
  })

  // `ip -j -s neigh` (iproute2 6.1) on a veth with one entry of each kind: no MAC (FAILED),
  // refcnt, a flag without a value (router, extern_learn), protocol, NOARP, PERMANENT, IPv6.
  const IP_OUTPUT =
    '[{"dst":"10.9.0.6","dev":"v0","used":0,"confirmed":60,"updated":0,"probes":0,"state":["FAILED"]},' +
    '{"dst":"10.9.0.2","dev":"v0","lladdr":"02:00:00:00:00:02","refcnt":1,"used":0,"confirmed":3,"updated":0,"probes":0,"state":["REACHABLE"]},' +
    '{"dst":"10.9.0.5","dev":"v0","lladdr":"02:00:00:00:00:05","router":null,"refcnt":1,"used":0,"confirmed":60,"updated":0,"probes":1,"state":["PROBE"]},' +
    '{"dst":"10.9.0.8","dev":"v0","lladdr":"02:00:00:00:00:08","extern_learn":null,"refcnt":1,"used":0,"confirmed":7,"updated":0,"probes":0,"state":["REACHABLE"]},' +
    '{"dst":"10.9.0.3","dev":"v0","lladdr":"02:00:00:00:00:03","used":0,"confirmed":60,"updated":0,"probes":0,"state":["STALE"]},' +
    '{"dst":"10.9.0.10","dev":"v0","lladdr":"02:00:00:00:00:0a","used":0,"confirmed":90,"updated":0,"probes":0,"state":["STALE"],"protocol":"5"},' +
    '{"dst":"10.9.0.4","dev":"v0","lladdr":"02:00:00:00:00:04","used":0,"confirmed":0,"updated":0,"probes":0,"state":["PERMANENT"]},' +
    '{"dst":"ff02::16","dev":"v0","lladdr":"33:33:00:00:00:16","used":0,"confirmed":60,"updated":0,"probes":0,"state":["NOARP"]},' +
    '{"dst":"fd00::9","dev":"v0","lladdr":"02:00:00:00:00:03","used":0,"confirmed":20,"updated":0,"probes":0,"state":["DELAY"]}]\n'

  it("reads ip's own output without JSON.parse, with the answer JSON.parse gives", () => {
    for (const text of [IP_OUTPUT, IP_OUTPUT.replaceAll(',"dev":"v0"', ''), NEIGH, '[]\n']) {
      expect(scanNeighbourActivity(text, NOW, { lladdrs: [], ats: [] })).toBe(true)
      expect(parseNeighbourActivity(text, NOW)).toEqual(readNeighbourJson(text, NOW))
    }
    expect(Object.fromEntries(parseNeighbourActivity(IP_OUTPUT, NOW))).toEqual({
      '02:00:00:00:00:02': NOW - 3_000,
      '02:00:00:00:00:05': NOW - 60_000,
      '02:00:00:00:00:08': NOW - 7_000,
      '02:00:00:00:00:03': NOW - 20_000, // the freshest of its two entries
      '02:00:00:00:00:0a': NOW - 90_000,
    })
  })

  it('reads any other text as JSON: another shape, escapes, spaces, a cut text', () => {
    const others = [
      // A key ip does not write, keys in another order, an escape, pretty-printed, cut short.
      IP_OUTPUT.replace('"probes":1,', '"probes":1,"nud":"x",'),
      IP_OUTPUT.replace('"dst":"10.9.0.2","dev":"v0"', '"dev":"v0","dst":"10.9.0.2"'),
      IP_OUTPUT.replace(
        '"dev":"v0","lladdr":"02:00:00:00:00:05"',
        '"dev":"v\\"0","lladdr":"02:00:00:00:00:05"',
      ),
      JSON.stringify(JSON.parse(IP_OUTPUT), null, 2),
      IP_OUTPUT.slice(0, 400),
      '[{"dst":"10.9.0.2","lladdr":"02:00:00:00:00:02","confirmed":01,"state":["REACHABLE"]}]',
    ]
    for (const text of others) {
      expect(scanNeighbourActivity(text, NOW, { lladdrs: [], ats: [] })).toBe(false)
      expect(parseNeighbourActivity(text, NOW)).toEqual(readNeighbourJson(text, NOW))
    }
    expect(parseNeighbourActivity(others[0]!, NOW).size).toBe(5)
    expect(parseNeighbourActivity(others[2]!, NOW).get('02:00:00:00:00:05' as Mac)).toBe(
      NOW - 60_000,
    )
    expect(parseNeighbourActivity(others[4]!, NOW).size).toBe(0) // not JSON: nobody
  })

  it('reads garbage as nobody', () => {
    expect(parseNeighbourActivity('not json', NOW).size).toBe(0)
    expect(parseNeighbourActivity('{}', NOW).size).toBe(0)
  })

  it('counts a device whose byte count grew since the last look, and resets when it went down', () => {
    const watch = createCounterWatch()
    const m = (bytes: number) => new Map([['3a:11:22:33:44:55' as Mac, { bytes }]])
    expect(watch.grown(m(100))).toEqual([]) // first look: baseline only
    expect(watch.grown(m(100))).toEqual([])
    expect(watch.grown(m(250))).toEqual(['3a:11:22:33:44:55'])
    expect(watch.grown(m(10))).toEqual([]) // re-added element
    expect(watch.grown(m(11))).toEqual(['3a:11:22:33:44:55'])
  })

  it('forgets at the next sample a device that left the table, and keeps the freshest of two signs', async () => {
    const tables = [
      IP_OUTPUT,
      // 02:…:02 is gone; 02:…:05 confirmed again; nothing else changed
      IP_OUTPUT.replace(/\{"dst":"10\.9\.0\.2"[^}]*\},/, '').replace(
        '"router":null,"refcnt":1,"used":0,"confirmed":60',
        '"router":null,"refcnt":1,"used":0,"confirmed":1',
      ),
    ]
    let bytes = 0
    const source = createKernelPresence({
      // 02:…:08 moved traffic since the last look (from the second look on): seen now
      gate: {
        counters: async () =>
          new Map([['02:00:00:00:00:08' as Mac, { packets: 1, bytes: (bytes += 10) }]]),
      },
      run: async () => tables.shift()!,
    })
    expect(Object.fromEntries(await source.sample(NOW))).toEqual(
      Object.fromEntries(readNeighbourJson(IP_OUTPUT, NOW)),
    )
    const later = NOW + 30_000
    expect(Object.fromEntries(await source.sample(later))).toEqual({
      '02:00:00:00:00:05': later - 1_000,
      '02:00:00:00:00:08': later,
      '02:00:00:00:00:03': later - 20_000,
      '02:00:00:00:00:0a': later - 90_000,
    })
  })

  it('reads the table from the dump in this process, and through ip while the dump cannot read it', async () => {
    const logs: string[] = []
    let broken = false
    const asked: Array<string | null> = []
    const dump = {
      read(device: string | null, now: number, into: { macs: Mac[]; ats: number[] }) {
        asked.push(device)
        if (broken) return 'the neighbour dump stopped without its end'
        into.macs.push('3a:11:22:33:44:55' as Mac)
        into.ats.push(now - 2_000)
        return null
      },
      closed: false,
      close() {
        this.closed = true
      },
    }
    let ipRuns = 0
    const source = createKernelPresence({
      gate: { counters: async () => new Map() },
      dump,
      run: async () => {
        ipRuns++
        return NEIGH
      },
      device: 'br-guest',
      log: (l) => logs.push(l),
    })
    expect(Object.fromEntries(await source.sample(NOW))).toEqual({
      '3a:11:22:33:44:55': NOW - 2_000,
    })
    expect(ipRuns).toBe(0)
    broken = true
    const fromIp = await source.sample(NOW)
    await source.sample(NOW)
    expect(Object.fromEntries(fromIp)).toEqual(Object.fromEntries(readNeighbourJson(NEIGH, NOW)))
    expect(ipRuns).toBe(2)
    expect(asked).toEqual(['br-guest', 'br-guest', 'br-guest'])
    // Said once, not at every sweep.
    expect(logs).toEqual([
      'presence: cannot dump the neighbour table (the neighbour dump stopped without its end): ip answers',
    ])
    source.close()
    expect(dump.closed).toBe(true)
  })

  it('combines the neighbour table and the counters, and still answers when one fails', async () => {
    let bytes = 0
    const gate = {
      counters: async () =>
        new Map([['3a:11:22:33:44:99' as Mac, { packets: 1, bytes: (bytes += 500) }]]),
    }
    const logs: string[] = []
    let fail = false
    const source = createKernelPresence({
      gate,
      run: async (file, args) => {
        expect([file, ...args]).toEqual(['ip', '-j', '-s', 'neigh', 'show', 'dev', 'br-guest'])
        if (fail) throw new Error('ip: not found')
        return NEIGH
      },
      device: 'br-guest',
      log: (l) => logs.push(l),
    })
    expect((await source.sample(NOW)).has('3a:11:22:33:44:99' as Mac)).toBe(false)
    fail = true
    const second = await source.sample(NOW + 30_000)
    expect(Object.fromEntries(second)).toEqual({ '3a:11:22:33:44:99': NOW + 30_000 })
    expect(logs.join('\n')).toMatch(/cannot read the neighbour table: ip: not found/)
  })
})
