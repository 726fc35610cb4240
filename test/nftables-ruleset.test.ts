import { netnsOf } from '../src/gate/netlink.js'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  briefly,
  checkRefusal,
  coalescedLines,
  createNftablesGate,
  createNftRunner,
  NFT_SESSION_HELPER,
  NFT_SESSION_PYTHON,
  nftSessionProgram,
  type NftRunner,
} from '../src/gate/nftables.js'
import {
  fillPlaceholders,
  gardenBatch,
  installBatch,
  letThroughCommand,
  parseSetJson,
  readTemplate,
  renderRuleset,
  replaceSetBatch,
  revokeCommand,
  timeoutProbeLines,
  timeoutProbeVerdict,
} from '../src/gate/nft-ruleset.js'
import { GateError } from '../src/errors.js'
import { BatchRefusedError, SessionEndedError } from '../src/gate/batch-session.js'
import type { Shaper } from '../src/gate/shaper.js'
import { readFileSync } from 'node:fs'
import { exampleRuleset, GATEWAY_DOC, rulesetBlock } from '../scripts/gateway-ruleset.js'
import type { Mac } from '../src/mac.js'
import { FakeClock } from './fakes/clock.js'

const MAC = '3a:11:22:33:44:55' as Mac
const params = {
  guestInterface: 'br-guest',
  portalPort: 8080,
  portalPorts: [8080, 8443],
  uplinkInterface: 'eth0',
}

describe('the nftables ruleset', () => {
  const text = renderRuleset(readTemplate(), params)

  it('owns one table, inet branchgate, with the let-through set of MACs with timeouts (counted in the map up)', () => {
    expect(text.match(/^table /gm)).toEqual(['table '])
    expect(text).toContain('table inet branchgate {')
    // No per-element counters in the set: two per-CPU allocations each, a quarter of a rebuild.
    expect(text).toMatch(/set allowed \{\s+type ether_addr\s+flags timeout\s+\}/)
    expect(text).toMatch(/map up \{\s+type ether_addr : classid\s+counter\s+\}/)
  })

  it('before login: DHCP and DNS to the gateway, HTTP to the portal, HTTPS reset, the rest dropped', () => {
    expect(text).toContain('iifname != "br-guest" return')
    expect(text).toContain('udp sport 68 udp dport 67 accept')
    expect(text).toContain('udp sport 546 udp dport 547 accept')
    expect(text).toContain('meta l4proto { tcp, udp } th dport 53 accept')
    expect(text).toContain('tcp dport { 8080, 8443 } accept')
    expect(text).toContain('tcp dport 80 redirect to :8080')
    const fromGuest = text.slice(text.indexOf('chain from_guest'))
    expect(fromGuest).toMatch(
      /ether saddr @allowed accept\s+(#.*\s+)*ip daddr @garden4 tcp dport \{ 80, 443 \} accept\s+ip6 daddr @garden6 tcp dport \{ 80, 443 \} accept\s+ip daddr @garden_dns4 tcp dport \{ 80, 443 \} accept\s+ip6 daddr @garden_dns6 tcp dport \{ 80, 443 \} accept\s+(#.*\s+)*tcp dport 443 reject with tcp reset\s+drop/,
    )
  })

  it("switches a guest's DNS to the gateway to the captive resolver until it is let through, packet by packet", () => {
    const chain = text.slice(
      text.indexOf('chain prelogin_dns {'),
      text.indexOf('chain captive_dns {'),
    )
    // Before connection tracking, so no conntrack entry can keep an old decision alive.
    expect(chain).toMatch(
      /type filter hook prerouting priority raw; policy accept;\s+iifname != "br-guest" return\s+meta l4proto \{ tcp, udp \} th dport 53 fib daddr type local ether saddr != @allowed jump captive_dns\s+\}/,
    )
    const captive = text.slice(text.indexOf('chain captive_dns {'))
    expect(captive).toMatch(
      /update @prelogin_dns_meter \{ ether saddr limit rate over 20\/second burst 100 packets \} counter drop\s+udp dport 53 udp dport set 5300 notrack\s+tcp dport 53 tcp dport set 5300 notrack/,
    )
    expect(text).toContain('oifname "br-guest" meta l4proto { tcp, udp } th sport 5300 notrack')
    expect(text).toContain('oifname "br-guest" udp sport 5300 udp sport set 53')
    expect(text).toContain('oifname "br-guest" tcp sport 5300 tcp sport set 53')
    expect(text).toContain('meta l4proto { tcp, udp } th dport 5300 accept')
  })

  it('limits what a guest not let through may send the gateway, per device, as configured', () => {
    const limited = renderRuleset(readTemplate(), {
      ...params,
      captiveDnsPort: 5400,
      preLogin: { dnsPerSecond: 5, dnsBurst: 7, icmpPerSecond: 2, icmpBurst: 3 },
    })
    expect(limited).toContain(
      'update @prelogin_dns_meter { ether saddr limit rate over 5/second burst 7 packets } counter drop',
    )
    expect(limited).toContain('udp dport 53 udp dport set 5400 notrack')
    const input = limited.slice(limited.indexOf('chain guest_input'))
    // Ahead of the established shortcut, which would pass a ping's later echoes unmetered.
    expect(input).toMatch(
      /ether saddr != @allowed meta l4proto \{ icmp, ipv6-icmp \} jump prelogin_icmp\s+ct state established,related accept/,
    )
    expect(limited).toMatch(
      /chain prelogin_icmp \{\s+update @prelogin_icmp_meter \{ ether saddr limit rate over 2\/second burst 3 packets \} counter drop\s+accept/,
    )
    expect(() => renderRuleset(readTemplate(), { ...params, captiveDnsPort: 8080 })).toThrow(
      /port 8080 is taken/,
    )
    expect(() =>
      renderRuleset(readTemplate(), {
        ...params,
        preLogin: { dnsPerSecond: 0, dnsBurst: 1, icmpPerSecond: 1, icmpBurst: 1 },
      }),
    ).toThrow(/not a rate/)
  })

  it('takes no router advertisement or redirect from a guest, and resets any other TCP port of the gateway', () => {
    const input = text.slice(text.indexOf('chain guest_input'), text.indexOf('chain prelogin_icmp'))
    expect(input).toMatch(
      /iifname != "br-guest" return\s+(#.*\s+)*icmpv6 type \{ nd-router-advert, nd-redirect \} counter drop/,
    )
    expect(input).toMatch(/meta l4proto tcp reject with tcp reset\s+drop\s+\}/)
  })

  it('never forwards from one guest to another, logged in or not', () => {
    const fromGuest = text.slice(text.indexOf('chain from_guest'))
    expect(fromGuest).toMatch(
      /chain from_guest \{\s+(#.*\s+)*oifname "br-guest" drop\s+(#.*\s+)*meta priority set ether saddr map @up\s+ether saddr @allowed accept/,
    )
  })

  it('has one forward chain, so a forwarded packet meets one hook there (issue 16: what forwarding costs)', () => {
    expect(text.match(/type filter hook forward/g)).toEqual(['type filter hook forward'])
    // The tiers' upload class is set in it (issue 17), before the let-through verdict.
    const fromGuest = text.slice(text.indexOf('chain from_guest'))
    expect(fromGuest.indexOf('meta priority set ether saddr map @up')).toBeLessThan(
      fromGuest.indexOf('ether saddr @allowed accept'),
    )
  })

  it('lets the walled garden and let-through devices skip the HTTP redirect', () => {
    expect(text).toMatch(
      /ether saddr @allowed return\s+ip daddr @garden4 return\s+ip6 daddr @garden6 return\s+ip daddr @garden_dns4 return\s+ip6 daddr @garden_dns6 return\s+tcp dport 80 redirect/,
    )
  })

  it('puts the walled garden’s names in sets the captive resolver fills, each address kept a day', () => {
    expect(text).toMatch(/set garden_dns4 \{\s+type ipv4_addr\s+flags timeout\s+timeout 1d\s+\}/)
    expect(text).toMatch(/set garden_dns6 \{\s+type ipv6_addr\s+flags timeout\s+timeout 1d\s+\}/)
  })

  it('masquerades IPv6 like IPv4 unless the prefix is routed to the gateway', () => {
    const routed = renderRuleset(readTemplate(), { ...params, ipv6Uplink: 'routed' })
    expect(routed).toContain('meta nfproto ipv4 iifname "br-guest" oifname "eth0" masquerade')
    expect(text).toMatch(/\t\tiifname "br-guest" oifname "eth0" masquerade/)
  })

  it('is shown in docs/gateway.md as it is generated for the example config (node --import tsx scripts/gateway-ruleset.ts)', () => {
    const shown = rulesetBlock(readFileSync(GATEWAY_DOC, 'utf8'))
    expect(shown).not.toBeNull()
    expect(shown).toBe(exampleRuleset())
  })

  it('masquerades guests on the uplink only when one is configured', () => {
    expect(text).toContain('iifname "br-guest" oifname "eth0" masquerade')
    expect(renderRuleset(readTemplate(), { ...params, uplinkInterface: null })).not.toContain(
      'masquerade',
    )
  })

  it('refuses interface names and ports that could smuggle nft syntax', () => {
    expect(() =>
      renderRuleset(readTemplate(), { ...params, guestInterface: 'x" accept; #' }),
    ).toThrow(/interface name/)
    expect(() => renderRuleset(readTemplate(), { ...params, portalPort: 0 })).toThrow(/port/)
    expect(() => fillPlaceholders('{{nope}}', {})).toThrow(/nope/)
  })

  it('lets a MAC through with a fresh timeout, whether or not it was there, in one line', () => {
    const now = 1_000_000
    expect(letThroughCommand(MAC, now + 3_600_000, now)).toBe(
      'add element inet branchgate allowed { 3a:11:22:33:44:55 }; delete element inet branchgate allowed { 3a:11:22:33:44:55 }; ' +
        'add element inet branchgate allowed { 3a:11:22:33:44:55 timeout 3600s }',
    )
    expect(letThroughCommand(MAC, now + 1, now)).toMatch(/timeout 1s }$/)
    // Where the kernel re-sets a present element's timeout in place (probed at start): one add.
    expect(letThroughCommand(MAC, now + 3_600_000, now, 'update')).toBe(
      'add element inet branchgate allowed { 3a:11:22:33:44:55 timeout 3600s }',
    )
    expect(revokeCommand(MAC)).toBe(
      'add element inet branchgate allowed { 3a:11:22:33:44:55 }; delete element inet branchgate allowed { 3a:11:22:33:44:55 }',
    )
  })

  it('never lets a malformed MAC reach nft', () => {
    for (const bad of [
      '3a:11:22:33:44:5',
      '3A:11:22:33:44:55',
      '3a:11:22:33:44:55 }; flush ruleset',
      'ff:ff:ff:ff:ff:ff',
    ]) {
      expect(() => letThroughCommand(bad as Mac, 2, 1), bad).toThrow(/malformed MAC/)
      expect(() => revokeCommand(bad as Mac), bad).toThrow(/malformed MAC/)
    }
  })

  it('replaces the table and the set in one batch at start, dropping expired entries', () => {
    const now = 5_000_000
    const batch = installBatch(
      text,
      [
        { mac: MAC, until: now + 60_000 },
        { mac: '3a:11:22:33:44:66' as Mac, until: now - 1 },
      ],
      ['203.0.113.0/24', '2001:db8::/32'],
      now,
    )
    const lines = batch.split('\n')
    expect(lines.slice(0, 3)).toEqual([
      'table inet branchgate',
      'delete table inet branchgate',
      "# branchgate's firewall: the table `inet branchgate` and nothing outside it.",
    ])
    expect(batch).toContain('add element inet branchgate garden4 { 203.0.113.0/24 }')
    expect(batch).toContain('add element inet branchgate garden6 { 2001:db8::/32 }')
    expect(batch).toContain('add element inet branchgate allowed { 3a:11:22:33:44:55 timeout 60s }')
    expect(batch).not.toContain('3a:11:22:33:44:66')
    expect(replaceSetBatch([], now)).toBe('flush set inet branchgate allowed\n')
    expect(gardenBatch(['198.51.100.7'])).toBe(
      'flush set inet branchgate garden4\nflush set inet branchgate garden6\nadd element inet branchgate garden4 { 198.51.100.7 }\n',
    )
  })

  it('reads MACs and time left from nft -j list set', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        {
          set: {
            family: 'inet',
            name: 'allowed',
            elem: [
              {
                elem: {
                  val: '3a:11:22:33:44:55',
                  timeout: 3600,
                  expires: 3599,
                  counter: { packets: 12, bytes: 3400 },
                },
              },
              { elem: { val: 'not-a-mac', expires: 1 } },
            ],
          },
        },
      ],
    })
    expect(parseSetJson(json)).toEqual([{ mac: MAC, expiresSeconds: 3599 }])
    expect(parseSetJson('{"nftables":[{"set":{"name":"allowed"}}]}')).toEqual([])
  })

  it("probes at start whether the kernel's add re-sets a present element's timeout, both ways", () => {
    const [first, second] = timeoutProbeLines()
    expect(first).toMatch(/^table inet branchgate_probe; delete table inet branchgate_probe; /)
    expect(first).toContain('02:00:00:00:00:01 timeout 100s, 02:00:00:00:00:02 timeout 1000s')
    expect(second).toBe(
      'add element inet branchgate_probe s { 02:00:00:00:00:01 timeout 1000s, 02:00:00:00:00:02 timeout 100s }',
    )
    expect(timeoutProbeVerdict(probeAnswer(998, 99))).toBe('update')
    // Before Linux 6.10 the second add leaves both timeouts as they were.
    expect(timeoutProbeVerdict(probeAnswer(99, 998))).toBe('replace')
    // Only one way, or an answer without the elements: the command that works everywhere.
    expect(timeoutProbeVerdict(probeAnswer(998, 998))).toBe('replace')
    expect(timeoutProbeVerdict('{"nftables":[]}')).toBe('replace')
  })
})

/** `nft -j list set inet branchgate_probe s` with the seconds left of its two elements. */
function probeAnswer(longer: number, shorter: number): string {
  const elem = (val: string, expires: number) => ({ elem: { val, timeout: 1000, expires } })
  return JSON.stringify({
    nftables: [
      {
        set: {
          family: 'inet',
          name: 's',
          table: 'branchgate_probe',
          elem: [elem('02:00:00:00:00:01', longer), elem('02:00:00:00:00:02', shorter)],
        },
      },
    ],
  })
}

/** An nft that fails a given number of times, then works; records every line. */
function flakyRunner(
  failures: number,
  answers: { probe?: string; up?: string; refuse?: RegExp } = {},
): NftRunner & { lines: string[]; batches: string[] } {
  let left = failures
  const lines: string[] = []
  const batches: string[] = []
  const maybeFail = (c = '') => {
    if (answers.refuse?.test(c)) throw new Error(`Error: Operation not supported\n${c}\n^^^`)
    if (left-- > 0)
      throw new Error('Error: Could not process rule: Cannot allocate memory\nadd element ...\n^^^')
  }
  return {
    lines,
    batches,
    async line(c) {
      lines.push(c)
      maybeFail(c)
    },
    async batch(t) {
      batches.push(t)
      maybeFail()
    },
    async listSetJson(which) {
      return (which?.set === 's' && answers.probe) || '{"nftables":[]}'
    },
    async listMapJson(which) {
      return (which === 'up' && answers.up) || '{"nftables":[]}'
    },
    close() {},
  }
}

describe('the nftables gate', () => {
  const make = (runner: NftRunner, logs: string[] = []) =>
    createNftablesGate({
      runner,
      clock: new FakeClock(),
      log: (l) => logs.push(l),
      ruleset: renderRuleset(readTemplate(), params),
      attempts: 3,
      pause: async () => {},
    })

  it('retries a failing change, then succeeds', async () => {
    const runner = flakyRunner(2)
    const logs: string[] = []
    await make(runner, logs).letThrough(MAC, new FakeClock().now() + 60_000)
    expect(runner.lines).toHaveLength(3)
    expect(logs).toEqual([
      'gate: let 3a:11:22:33:44:55 through failed (try 1 of 3), retrying: Could not process rule: Cannot allocate memory',
      'gate: let 3a:11:22:33:44:55 through failed (try 2 of 3), retrying: Could not process rule: Cannot allocate memory',
    ])
  })

  it('reports a change that keeps failing as a GateError, logged, never silent', async () => {
    const logs: string[] = []
    const err = await make(flakyRunner(99), logs)
      .revoke(MAC)
      .catch((e) => e)
    expect(err).toBeInstanceOf(GateError)
    expect(logs.at(-1)).toBe(
      'gate: revoke 3a:11:22:33:44:55 failed after 3 tries: Could not process rule: Cannot allocate memory',
    )
  })

  it('installs the table with the first rebuild, then only replaces the set', async () => {
    const runner = flakyRunner(0)
    const gate = make(runner)
    await gate.replaceAll([{ mac: MAC, until: new FakeClock().now() + 1000 }])
    await gate.replaceAll([])
    expect(runner.batches[0]).toMatch(/^table inet branchgate\ndelete table inet branchgate\n/)
    expect(runner.batches[1]).toBe(
      'flush set inet branchgate allowed\nflush set inet branchgate notice\n',
    )
  })

  it("lets a device through with one add where the start-up probe finds the kernel re-sets a present element's timeout, else with add, delete, add", async () => {
    const until = new FakeClock().now() + 60_000
    const cases = [
      {
        probe: probeAnswer(998, 99),
        line: 'add element inet branchgate allowed { 3a:11:22:33:44:55 timeout 60s }',
        log: /re-sets a let-through device's timeout in place: one add per login$/,
      },
      {
        probe: probeAnswer(99, 998),
        line: letThroughCommand(MAC, until, new FakeClock().now(), 'replace'),
        log: /keeps a let-through device's old timeout on add \(before Linux 6\.10\)/,
      },
    ]
    for (const c of cases) {
      const runner = flakyRunner(0, { probe: c.probe })
      const logs: string[] = []
      const gate = make(runner, logs)
      await gate.replaceAll([])
      await gate.replaceAll([]) // probed once
      await gate.letThrough(MAC, until)
      expect(runner.lines).toEqual([
        ...timeoutProbeLines(),
        'delete table inet branchgate_probe',
        c.line,
      ])
      expect(logs).toHaveLength(1)
      expect(logs[0]).toMatch(c.log)
    }
  })

  it('keeps add, delete, add when the probe is refused, and in a one-shot command that never probes', async () => {
    const until = new FakeClock().now() + 60_000
    const replace = letThroughCommand(MAC, until, new FakeClock().now(), 'replace')
    const refused = flakyRunner(0, { probe: probeAnswer(998, 99), refuse: /branchgate_probe/ })
    const logs: string[] = []
    const gate = make(refused, logs)
    await gate.replaceAll([])
    await gate.letThrough(MAC, until)
    expect(refused.lines.at(-1)).toBe(replace)
    expect(logs).toEqual([
      'gate: cannot probe how this kernel re-sets timeouts, so each login adds, deletes and adds: Operation not supported',
    ])
    const command = flakyRunner(0, { probe: probeAnswer(998, 99) })
    await make(command).letThrough(MAC, until)
    expect(command.lines).toEqual([replace])
  })

  it('reads presence counters from the map up (what each device sent), and none without rates', async () => {
    const up = JSON.stringify({
      nftables: [
        {
          map: {
            name: 'up',
            elem: [
              [{ elem: { val: MAC, counter: { packets: 7, bytes: 900 } } }, '1:1a2'],
              [{ elem: { val: 'nope', counter: { packets: 1, bytes: 1 } } }, '1:1a3'],
            ],
          },
        },
      ],
    })
    const shaper: Shaper = {
      install: async () => new Map(),
      apply: async () => 0x1a2,
      remove: async () => null,
      minorOf: () => null,
      learn: () => {},
      teardown: async () => {},
    }
    const withRates = createNftablesGate({
      runner: flakyRunner(0, { up }),
      clock: new FakeClock(),
      log: () => {},
      ruleset: renderRuleset(readTemplate(), params),
      attempts: 1,
      rates: { shaper, ruleset: 'table netdev branchgate {\n}' },
    })
    expect([...(await withRates.counters())]).toEqual([[MAC, { packets: 7, bytes: 900 }]])
    expect((await make(flakyRunner(0, { up })).counters()).size).toBe(0)

    // Read straight from the kernel when the runner can (the library in this process), the
    // JSON listing when it cannot (null).
    const asked: string[] = []
    const dumping = (answer: 'dump' | null): NftRunner => ({
      ...flakyRunner(0, { up }),
      async elements(which) {
        asked.push(which)
        return answer && [{ mac: '3a:11:22:33:44:66' as Mac, data: 0x10010, bytes: 5, packets: 1 }]
      },
    })
    const gateOf = (runner: NftRunner) =>
      createNftablesGate({
        runner,
        clock: new FakeClock(),
        log: () => {},
        ruleset: renderRuleset(readTemplate(), params),
        attempts: 1,
        rates: { shaper, ruleset: 'table netdev branchgate {\n}' },
      })
    expect([...(await gateOf(dumping('dump')).counters())]).toEqual([
      ['3a:11:22:33:44:66', { packets: 1, bytes: 5 }],
    ])
    expect([...(await gateOf(dumping(null)).counters())]).toEqual([
      [MAC, { packets: 7, bytes: 900 }],
    ])
    expect((await gateOf(dumping('dump')).list()).map((e) => e.mac)).toEqual(['3a:11:22:33:44:66'])
    expect(asked).toEqual(['up', 'up', 'allowed'])
  })

  it('fails at once, not at a timeout, when nft cannot be run', async () => {
    // The rejection carries spawn's ENOENT: it comes from the failed start, not from a timer.
    const runner = createNftRunner(['/nonexistent/nft'], { session: 'nft' })
    await expect(runner.line('list tables')).rejects.toThrow(
      /cannot run \/nonexistent\/nft: spawn \/nonexistent\/nft ENOENT/,
    )
    await expect(runner.batch('list tables\n')).rejects.toThrow(/ENOENT/)
    runner.close()
  })

  it("chooses libnftables for the session when the helper's check passes, else nft -i, and says which", async () => {
    const checked: string[][] = []
    const check = (answer: string | null) => async (argv: readonly string[]) => {
      checked.push([...argv])
      return answer
    }
    const ns = ['ip', 'netns', 'exec', 'ns1', 'nft']
    const lib = await nftSessionProgram(ns, 'auto', check(null))
    // The helper runs where nft would: after the same prefix, with Debian's python3.
    expect(lib.argv).toEqual([
      ...['ip', 'netns', 'exec', 'ns1', NFT_SESSION_PYTHON, NFT_SESSION_HELPER],
      ...['--else', 'nft'],
    ])
    expect(checked).toEqual([[...lib.argv.slice(0, -2), '--check']])
    expect(lib.which).toBe('libnftables (python3-nftables)')
    const fallback = await nftSessionProgram(['nft'], 'auto', check("No module named 'nftables'"))
    expect(fallback).toEqual({
      argv: ['nft', '-i'],
      which: "nft -i (libnftables cannot be used: No module named 'nftables')",
      way: 'nft',
    })
    expect(lib.way).toBe('helper')
    checked.length = 0
    const forced = await nftSessionProgram(['/usr/sbin/nft'], 'nft', check(null))
    expect(forced.argv).toEqual(['/usr/sbin/nft', '-i'])
    expect(checked).toEqual([]) // nothing is tried when the config says nft
    // The helper ships beside the code, and the check runs the real thing (a missing
    // interpreter is a reason, not a crash).
    expect(existsSync(NFT_SESSION_HELPER)).toBe(true)
  })

  it("says why the helper's check refused once, in its own words", () => {
    // The service's log line and doctor's both add "libnftables cannot be used".
    expect(
      checkRefusal("libnftables cannot be used: No module named 'nftables'\nmore\n", 'exit 3'),
    ).toBe("No module named 'nftables'")
    expect(checkRefusal('', 'spawn /usr/bin/python3 ENOENT')).toBe('spawn /usr/bin/python3 ENOENT')
  })

  it('starts no session program until a line is run, and logs the one it chose', async () => {
    const logs: string[] = []
    let opened = 0
    const runner = createNftRunner(['/nonexistent/nft'], {
      log: (l) => logs.push(l),
      check: async () => 'spawn /usr/bin/python3 ENOENT',
      library: () => {
        opened++
        return 'libnftables.so.1 cannot be loaded: not found'
      },
    })
    expect(logs).toEqual([])
    expect(opened).toBe(0)
    expect(runner.way!()).toBeNull() // nothing chosen before the first line
    await expect(runner.line('list tables')).rejects.toThrow(/cannot run \/nonexistent\/nft/)
    expect(runner.way!()).toBe('nft')
    expect(logs).toEqual([
      "gate: nft session: nft -i (libnftables cannot be used: spawn /usr/bin/python3 ENOENT) (in the service's process: libnftables.so.1 cannot be loaded: not found)",
    ])
    expect(opened).toBe(1)
    runner.close()
  })

  /** A library that records what it ran and refuses the lines `refuse` says. */
  function fakeLibrary(refuse: (line: string) => string | null = () => null) {
    const ran: string[] = []
    const opened: Array<string | null> = []
    let closed = 0
    const open = ({ netns }: { netns: string | null }) => {
      opened.push(netns)
      return {
        run(line: string) {
          ran.push(line)
          return refuse(line)
        },
        close: () => void closed++,
      }
    }
    return { ran, opened, open, closed: () => closed }
  }

  it("runs each line in the service's process when libnftables loads: no program, nft's own error for a refused line", async () => {
    const logs: string[] = []
    const lib = fakeLibrary((l) =>
      l.startsWith('bad') ? 'Error: syntax error, unexpected junk\nbad line\n^^^' : null,
    )
    const runner = createNftRunner(['/nonexistent/nft'], {
      log: (l) => logs.push(l),
      check: async () => {
        throw new Error('the helper is not checked')
      },
      library: lib.open,
    })
    await runner.line('add element inet branchgate allowed { 02:00:00:00:00:01 }')
    const refused = await runner.line('bad line').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(BatchRefusedError)
    expect((refused as Error).message).toBe('Error: syntax error, unexpected junk\nbad line\n^^^')
    // The session goes on after a refused line; the gate's messages read the same words.
    await runner.line('add element inet branchgate allowed { 02:00:00:00:00:02 }')
    expect(lib.ran).toEqual([
      'add element inet branchgate allowed { 02:00:00:00:00:01 }',
      'bad line',
      'add element inet branchgate allowed { 02:00:00:00:00:02 }',
    ])
    expect(lib.opened).toEqual([null]) // once, in the process's own network namespace
    expect(runner.way!()).toBe('in-process')
    expect(logs).toEqual(["gate: nft session: libnftables (in the service's process)"])
    runner.close()
    expect(lib.closed()).toBe(1)
  })

  it('opens the library inside the namespace of `ip netns exec NAME nft`, and never through another prefix or when the config says otherwise', async () => {
    expect(netnsOf(['nft'])).toBeNull()
    expect(netnsOf(['/usr/sbin/nft'])).toBeNull()
    expect(netnsOf(['ip', 'netns', 'exec', 'bg1', 'nft'])).toBe('bg1')
    expect(netnsOf(['sudo', 'nft'])).toBeUndefined()
    expect(netnsOf(['ip', 'netns', 'exec', 'bg1', 'env', 'nft'])).toBeUndefined()

    const inNs = fakeLibrary()
    const runner = createNftRunner(['ip', 'netns', 'exec', 'bg1', 'nft'], { library: inNs.open })
    await runner.line('list tables')
    expect(inNs.opened).toEqual(['bg1'])
    runner.close()

    for (const [argv, session] of [
      [['sudo', '/nonexistent/nft'], 'auto'],
      [['/nonexistent/nft'], 'helper'],
      [['/nonexistent/nft'], 'nft'],
    ] as const) {
      const logs: string[] = []
      const lib = fakeLibrary()
      const other = createNftRunner(argv, {
        session,
        log: (l) => logs.push(l),
        check: async () => 'no helper here',
        library: lib.open,
      })
      await expect(other.line('list tables')).rejects.toThrow(/cannot run/)
      expect(lib.opened).toEqual([])
      expect(logs[0]).toMatch(/^gate: nft session: nft -i/)
      if (argv[0] === 'sudo')
        expect(logs[0]).toContain("(in the service's process: the nft command runs through sudo)")
      other.close()
    }
  })

  it("reads the gate's set and maps straight from the kernel: through a reader of its own before any line, through the library after, and through nft when neither can", async () => {
    const logs: string[] = []
    const read: string[] = []
    const answer = (who: string) => (family: number, table: string, set: string) => {
      read.push(`${who} ${family} ${table} ${set}`)
      return who === 'broken'
        ? 'the element dump stopped without its end'
        : [{ mac: '3a:11:22:33:44:55' as Mac, data: 0x10010 }]
    }
    const lib = fakeLibrary()
    const readers: Array<string | null> = []
    let readerClosed = 0
    const runner = createNftRunner(['ip', 'netns', 'exec', 'bg1', 'nft'], {
      log: (l) => logs.push(l),
      library: (o) => {
        const opened = lib.open(o)
        return typeof opened === 'string' ? opened : { ...opened, elements: answer('library') }
      },
      reader: ({ netns }) => {
        readers.push(netns)
        return { elements: answer('reader'), close: () => void readerClosed++ }
      },
    })
    // A one-shot command that only reads: no library loaded, nothing logged.
    expect(await runner.elements!('allowed')).toEqual([{ mac: '3a:11:22:33:44:55', data: 0x10010 }])
    expect(await runner.elements!('down')).toHaveLength(1)
    expect(readers).toEqual(['bg1'])
    expect(lib.opened).toEqual([])
    expect(logs).toEqual([])
    await runner.line('list tables')
    expect(await runner.elements!('up')).toHaveLength(1)
    expect(read).toEqual([
      'reader 1 branchgate allowed',
      'reader 5 branchgate down',
      'library 1 branchgate up',
    ])
    expect(logs).toEqual(["gate: nft session: libnftables (in the service's process)"])
    runner.close()
    expect(readerClosed).toBe(1)
    logs.length = 0

    // A dump that fails: nft answers, and the log says why once.
    const failing = createNftRunner(['nft'], {
      log: (l) => logs.push(l),
      reader: () => ({ elements: answer('broken'), close: () => {} }),
    })
    expect(await failing.elements!('up')).toBeNull()
    expect(await failing.elements!('up')).toBeNull()
    expect(logs).toEqual([
      'gate: cannot read up straight from the kernel (the element dump stopped without its end): nft -j answers',
    ])
    failing.close()
    expect(await failing.elements!('up')).toBeNull() // closed: nothing opened again
    // A set that is not there (no service running): nft says so in its own words, not the log.
    const missing = createNftRunner(['nft'], {
      log: (l) => logs.push(l),
      reader: () => ({
        elements: () => 'the kernel refused the element dump (errno 2)',
        close: () => {},
      }),
    })
    expect(await missing.elements!('allowed')).toBeNull()
    expect(logs).toHaveLength(1)
    missing.close()
    // Another prefix than `ip netns exec`, or a session chosen in the config: nft only.
    for (const [argv, session] of [
      [['sudo', 'nft'], 'auto'],
      [['nft'], 'helper'],
    ] as const) {
      const other = createNftRunner(argv, {
        session,
        reader: () => {
          throw new Error('not opened')
        },
      })
      expect(await other.elements!('allowed')).toBeNull()
      other.close()
    }
  })

  it('explains a missing table', () => {
    expect(
      briefly('Error: No such file or directory\nadd element inet branchgate allowed { }\n   ^^^'),
    ).toContain('is branchgate serve running?')
  })
})

describe("the nft session's one-line changes", () => {
  /** A session that answers each batch when the test says, and records what it was given. */
  function fakeSession() {
    const batches: string[][] = []
    const answers: Array<(err?: Error) => void> = []
    const run = (lines: readonly string[]) =>
      new Promise<void>((resolve, reject) => {
        batches.push([...lines])
        answers.push((err) => (err ? reject(err) : resolve()))
      })
    const settled = () => new Promise((r) => setImmediate(r))
    return { batches, answers, run, settled }
  }

  it('sends the lines given while a batch is answered together in the next one, each answered', async () => {
    const s = fakeSession()
    const line = coalescedLines(s.run)
    const done: string[] = []
    const give = (l: string) => line(l).then(() => done.push(l))
    const first = give('a')
    await s.settled()
    const rest = ['b', 'c', 'd'].map(give)
    await s.settled()
    expect(s.batches).toEqual([['a']])
    s.answers[0]!()
    await first
    await s.settled()
    expect(s.batches).toEqual([['a'], ['b', 'c', 'd']])
    expect(done).toEqual(['a'])
    s.answers[1]!()
    await Promise.all(rest)
    expect(done).toEqual(['a', 'b', 'c', 'd'])
  })

  it('runs each line of a refused joint batch again alone: only the refused line fails', async () => {
    const s = fakeSession()
    const line = coalescedLines(s.run)
    const first = line('a')
    await s.settled()
    const b = line('b')
    const c = line('c').catch((e: Error) => e)
    s.answers[0]!()
    await first
    await s.settled()
    s.answers[1]!(new BatchRefusedError('Error: Could not process rule: c'))
    await s.settled()
    expect(s.batches.slice(2)).toEqual([['b']])
    s.answers[2]!()
    await b
    await s.settled()
    expect(s.batches.slice(3)).toEqual([['c']])
    s.answers[3]!(new BatchRefusedError('Error: Could not process rule: c'))
    expect(await c).toBeInstanceOf(BatchRefusedError)
  })

  it('fails every line of a joint batch when the session ended mid-batch (the gate tries again)', async () => {
    const s = fakeSession()
    const line = coalescedLines(s.run)
    const first = line('a')
    await s.settled()
    const b = line('b').catch((e: Error) => e)
    const c = line('c').catch((e: Error) => e)
    s.answers[0]!()
    await first
    await s.settled()
    s.answers[1]!(new SessionEndedError('nft session ended (SIGKILL)'))
    expect(await b).toBeInstanceOf(SessionEndedError)
    expect(await c).toBeInstanceOf(SessionEndedError)
    expect(s.batches).toEqual([['a'], ['b', 'c']])
  })
})
