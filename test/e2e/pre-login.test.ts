import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestNetwork,
  e2eSkipReason,
  GATEWAY_IP,
  INTERNET_IP,
  OUTSIDE_IP,
  PUBLIC_URL,
  ROOT,
  run,
  TEST_ZONE,
  type Client,
  type TestNetwork,
} from './netns.js'

const skip = e2eSkipReason({ ping: 'iputils-ping' })
if (skip) console.warn(`skipping the pre-login end-to-end test: ${skip}`)

const GARDEN_NAME = `notice.garden.${TEST_ZONE}`
const GARDEN_ADDRESS = '10.99.2.3'
/** Names nobody has: only a resolver that forwards them could make the zone's server see them. */
const randomNames = (n: number, label: string) =>
  Array.from({ length: n }, () => `${randomBytes(8).toString('hex')}.${label}.${TEST_ZONE}`)
const UDP_PORTS = [53, 123, 443, 500, 853, 1194, 4500, 51820]
const TCP_PORTS = [22, 53, 443, 853, 1194, 3128, 8080]

/**
 * Nothing gets out before login (issue 19), with real stacks: the internet namespace runs an
 * authoritative DNS server for TEST_ZONE that logs every query it receives. A phone that is not
 * let through asks for random names through the gateway, and the server hears none of them; the
 * walled garden's name and the probes resolve; after login the same phone's queries reach the
 * server, after revoke they stop. A second phone tries every other way out, and nothing arrives.
 */
describe.skipIf(skip !== null)('before login, nothing gets out', () => {
  let n: TestNetwork
  let c1: Client
  let c2: Client
  let dns: Awaited<ReturnType<TestNetwork['startInternetDns']>>

  beforeAll(async () => {
    n = await createTestNetwork({ clients: 2 })
    c1 = n.clients[0]!
    c2 = n.clients[1]!
    await n.startInternet()
    dns = await n.startInternetDns({
      'captive.apple.com': INTERNET_IP,
      'connectivitycheck.gstatic.com': INTERNET_IP,
      [GARDEN_NAME]: GARDEN_ADDRESS,
    })
    // The branch's resolver (the gateway's dnsmasq) asks the internet's server.
    await n.startDnsmasq([`server=${INTERNET_IP}`])
    const config = n.defaultConfig()
    await n.startBranchgate({
      ...config,
      gate: { ...(config.gate as object), walledGarden: { hosts: [GARDEN_NAME] } },
    })
    await n.dhcp(c1)
    await n.dhcp(c2)
    await n.watch(n.net, 'outside', `ip daddr ${OUTSIDE_IP}`)
    await n.watch(n.net, 'garden_not_web', `ip daddr ${GARDEN_ADDRESS} tcp dport != { 80, 443 }`)
    await n.watch(n.net, 'garden_udp', `ip daddr ${GARDEN_ADDRESS} meta l4proto udp`)
  })
  afterAll(async () => {
    await n?.cleanup()
  })

  const heard = (names: string[]) => dns.queries().filter((q) => names.includes(q))

  /** Packets a rule of the branchgate table has counted (the first rule with a counter in the chain). */
  async function ruleCounter(chain: string): Promise<number> {
    const doc = JSON.parse(
      (await n.nft(['-j', 'list', 'chain', 'inet', 'branchgate', chain])).stdout,
    ) as { nftables: Array<{ rule?: { expr: Array<Record<string, any>> } }> }
    for (const item of doc.nftables) {
      const counter = item.rule?.expr.find((e) => e.counter)?.counter
      if (counter) return counter.packets as number
    }
    throw new Error(`no counter in chain ${chain}`)
  }

  it('answers a phone that is not let through itself: random names never reach the zone’s server, over UDP or TCP, whatever the type', async () => {
    const names = randomNames(40, 'tunnel')
    const server = GATEWAY_IP
    // What DNS tunnels carry their data in (TXT, NULL...): nothing comes back but an empty answer.
    const types = ['TXT', 'NULL', 'MX', 'CNAME', 'SRV', 'AAAA']
    const [a, any, tcp, ...others] = await n.dns(c1, [
      { server, names: names.slice(0, 10) },
      { server, type: 'ANY', names: names.slice(10, 12) },
      { server, proto: 'tcp', names: names.slice(12, 22) },
      ...types.map((type, i) => ({ server, type, names: names.slice(22 + i * 3, 25 + i * 3) })),
    ])
    for (const r of [...a, ...tcp])
      expect(r).toMatchObject({ rcode: 'NOERROR', answers: [GATEWAY_IP] })
    for (const [i, r] of others.entries())
      for (const x of r) expect(x, types[i]).toMatchObject({ rcode: 'NOERROR', answers: [] })
    for (const r of [...a, ...any]) expect(r.size).toBeLessThanOrEqual(512)
    expect(heard(names)).toEqual([])
  })

  it('resolves the walled garden’s name and the probes; the probes land on the splash page and HTTPS is reset at once', async () => {
    const [garden] = await n.dns(c1, { server: GATEWAY_IP, names: [GARDEN_NAME] })
    expect(garden).toMatchObject({ rcode: 'NOERROR', answers: [GARDEN_ADDRESS] })
    const [apple, android, portal] = await n.dns(c1, {
      server: GATEWAY_IP,
      names: ['captive.apple.com', 'connectivitycheck.gstatic.com', 'portal.branch.lan'],
    })
    for (const r of [apple, android, portal]) expect(r.answers).toEqual([GATEWAY_IP])
    for (const [host, path] of [
      ['captive.apple.com', '/hotspot-detect.html'],
      ['connectivitycheck.gstatic.com', '/generate_204'],
    ]) {
      const r = await n.curl(c1, [
        ...['--max-time', '10', '--resolve', `${host}:80:${apple!.answers[0]}`],
        ...['-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `http://${host}${path}`],
      ])
      expect(r.stdout, host).toBe(`302 ${PUBLIC_URL}/`)
    }
    // The gateway's own port 443 answers with a reset, not silence: the phone gives up at once.
    const https = await n.curl(c1, [
      ...['--max-time', '10', '--resolve', `captive.apple.com:443:${GATEWAY_IP}`],
      'https://captive.apple.com/',
    ])
    expect(https.code).toBe(7)
  })

  it('switches the phone’s DNS the moment it is let through and revoked, even on one source port', async () => {
    const sourcePort = 40053
    const [before] = randomNames(1, 'before')
    expect(
      (await n.dns(c1, { server: GATEWAY_IP, sourcePort, names: [before!] }))[0].answers,
    ).toEqual([GATEWAY_IP])

    expect((await n.cli(['allow', c1.mac])).code).toBe(0)
    const during = randomNames(3, 'during')
    const after = await n.dns(c1, { server: GATEWAY_IP, sourcePort, names: during })
    // The zone's own answer: the name does not exist. It came from the server, which heard it.
    for (const r of after) expect(r).toMatchObject({ rcode: 'NXDOMAIN', answers: [] })
    expect(heard(during)).toEqual(during)

    expect((await n.cli(['revoke', c1.mac])).code).toBe(0)
    const revoked = randomNames(3, 'revoked')
    for (const r of await n.dns(c1, { server: GATEWAY_IP, sourcePort, names: revoked }))
      expect(r).toMatchObject({ rcode: 'NOERROR', answers: [GATEWAY_IP] })
    expect(heard([before!, ...revoked])).toEqual([])
  })

  it('limits DNS and ICMP to the gateway per device before login, in the kernel', async () => {
    const dropped = await ruleCounter('captive_dns')
    const flood = await n.dns(c2, { server: GATEWAY_IP, flood: 400, timeoutMs: 1000 })
    expect(flood.answered).toBeLessThan(400)
    expect(await ruleCounter('captive_dns')).toBeGreaterThan(dropped)
    expect(dns.queries().some((q) => q.startsWith('flood-'))).toBe(false)

    const icmpDropped = await ruleCounter('prelogin_icmp')
    const ping = await n.exec(c2.ns, 'ping', [
      '-n',
      '-q',
      '-c',
      '100',
      '-i',
      '0.002',
      '-W',
      '1',
      GATEWAY_IP,
    ])
    const received = Number(/(\d+) received/.exec(ping.stdout)?.[1])
    expect(received).toBeLessThan(100)
    expect(await ruleCounter('prelogin_icmp')).toBeGreaterThan(icmpDropped)
  })

  async function everyWayOut(c: Client, label: string) {
    const names = randomNames(2, label)
    const [direct, overTcp] = await n.dns(c, [
      { server: OUTSIDE_IP, names: names.slice(0, 1), timeoutMs: 1000 },
      { server: OUTSIDE_IP, proto: 'tcp', names: names.slice(1), timeoutMs: 1000 },
    ])
    const knock = await n.knock(c, { host: OUTSIDE_IP, udp: UDP_PORTS, tcp: TCP_PORTS })
    const gardenKnock = await n.knock(c, { host: GARDEN_ADDRESS, udp: [53, 443], tcp: [53, 853] })
    const ping = await n.exec(c.ns, 'ping', ['-n', '-q', '-c', '2', '-W', '1', OUTSIDE_IP])
    // DNS over HTTPS and over TLS to an outside resolver.
    const doh = await n.curl(c, ['--max-time', '5', '-k', `https://${OUTSIDE_IP}/dns-query`])
    return { names, direct, overTcp, knock, gardenKnock, ping, doh }
  }

  it('lets a second phone get nothing out: UDP and TCP on many ports, ping, DNS, DNS over TLS or HTTPS to an outside resolver', async () => {
    const outside = await n.arrivals(n.net, 'outside')
    const r = await everyWayOut(c2, 'direct')
    expect(r.direct[0]).toMatchObject({ rcode: 'TIMEOUT' })
    expect(r.overTcp[0]).toMatchObject({ rcode: 'TIMEOUT' })
    expect(r.ping.stdout).toContain(' 0 received')
    // HTTPS (and so DoH) gets the gateway's reset; every other TCP port, silence.
    expect(r.doh.code).toBe(7)
    expect(r.knock.tcp['443']).toBe('refused')
    expect(r.knock.tcp['853']).toBe('timeout')
    expect(await n.arrivals(n.net, 'outside')).toBe(outside)
    // The walled garden is web pages only: no DNS or other UDP through a gardened address.
    expect(await n.arrivals(n.net, 'garden_udp')).toBe(0)
    expect(await n.arrivals(n.net, 'garden_not_web')).toBe(0)
    expect(heard(r.names)).toEqual([])

    // The same tries from the same phone once it is let through do arrive: the counting works.
    expect((await n.cli(['allow', c2.mac])).code).toBe(0)
    const open = await everyWayOut(c2, 'allowed')
    expect(open.direct[0]).toMatchObject({ rcode: 'NXDOMAIN' })
    expect(open.ping.stdout).toContain(' 2 received')
    expect(await n.arrivals(n.net, 'outside')).toBeGreaterThan(outside + UDP_PORTS.length)
    expect(heard(open.names)).toEqual(open.names)
    expect((await n.cli(['revoke', c2.mac])).code).toBe(0)
  })

  it('forwards nothing from one guest to another, logged in or not', async () => {
    const target = c1.address!
    await n.watch(c1.ns, 'from_c2', `ip saddr ${c2.address}`)
    // Through the gateway, as a phone would be sent by a router that does not isolate guests.
    await n.exec(c2.ns, 'ip', ['route', 'add', `${target}/32`, 'via', GATEWAY_IP])
    const tryAll = async () => {
      await n.knock(c2, { host: target, udp: [53, 5353], tcp: [22, 8080] })
      await n.exec(c2.ns, 'ping', ['-n', '-q', '-c', '2', '-W', '1', target])
    }
    await tryAll()
    expect((await n.cli(['allow', c2.mac])).code).toBe(0)
    await tryAll()
    expect((await n.cli(['revoke', c2.mac])).code).toBe(0)
    expect(await n.arrivals(c1.ns, 'from_c2')).toBe(0)
  })

  it('keeps a guest’s DHCP server from the other guests', async () => {
    // A rogue DHCP server on the second phone, for the gateway's own network.
    const log = `${n.tmp}/rogue-dhcp.log`
    await n.exec(c2.ns, 'ip', ['addr', 'add', '10.99.1.5/24', 'dev', 'eth0'])
    n.spawnIn(c2.ns, 'dnsmasq', [
      ...['--keep-in-foreground', '--user=root', '--port=0', '--no-resolv', '--no-hosts'],
      ...['--interface=eth0', '--dhcp-range=10.99.1.5,10.99.1.9,1h', '--dhcp-option=3,10.99.1.5'],
      ...['--dhcp-authoritative', '--no-ping', '--log-dhcp', `--log-facility=${log}`],
      ...[`--pid-file=${n.tmp}/rogue.pid`, `--dhcp-leasefile=${n.tmp}/rogue.leases`],
    ])
    const lease = await n.exec(
      c1.ns,
      process.execPath,
      ['--import', 'tsx', `${ROOT}/test/e2e/dhcp-client.ts`, c1.mac],
      30_000,
    )
    expect(JSON.parse(lease.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      router: GATEWAY_IP,
      dns: GATEWAY_IP,
    })
    const rogue = (await run('cat', [log])).stdout
    expect(rogue).toContain('DHCP, IP range 10.99.1.5 -- 10.99.1.9')
    expect(rogue).not.toMatch(/DHCPDISCOVER|DHCPREQUEST/)
  })

  it('doctor finds the captive resolver, and that it resolves no outside name', async () => {
    const r = await n.cli(['doctor'])
    expect(r.stdout).toMatch(
      new RegExp(
        `ok {4}captive resolver: answers on ${GATEWAY_IP.replaceAll('.', '\\.')}:5300; an outside name \\(branchgate-doctor-[0-9a-f]+\\.example\\.com\\) gets the portal's address, nothing is forwarded`,
      ),
    )
  })
})
