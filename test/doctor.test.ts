import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { diagnose, formatFindings, type DoctorProbes, type Finding } from '../src/cli/doctor.js'
import { loadConfig } from '../src/config.js'
import { readMigrations } from '../src/db/open.js'
import {
  LIBVIRT_DNSMASQ_CMDLINE,
  renderedDnsmasqConf,
  stagedDnsmasq,
  type StagedDnsmasq,
} from './fakes/dnsmasq-machine.js'
import { FAKE_CREDENTIALS, FakeProviders } from './fakes/sms-providers.js'

/** Everything doctor reads, from a staged dnsmasq plus `files`; real fetch for the providers. */
function probes(dnsmasq: StagedDnsmasq, files: Record<string, string> = {}): DoctorProbes {
  const all: Record<string, string> = {
    '/sys/class/net/br-guest/operstate': 'up\n',
    '/proc/sys/net/ipv4/ip_forward': '1\n',
    ...dnsmasq.files,
    ...files,
  }
  return {
    async run(file, args) {
      const staged = dnsmasq.run(file, args)
      if (staged) return staged
      if (args[0] === '--version') return { code: 0, stdout: 'nftables v1.0.6\n', stderr: '' }
      return { code: 0, stdout: '', stderr: '' }
    },
    async readFile(f) {
      const v = all[f]
      if (v === undefined) throw new Error(`ENOENT ${f}`)
      return v
    },
    mtimeMs: async (f) => {
      const v = dnsmasq.mtimes[f]
      if (v === undefined) throw new Error(`ENOENT ${f}`)
      return v
    },
    reach: async () => 405,
    fetch: (input, init) => fetch(input, init),
    openDb: () => ({
      version: Math.max(...readMigrations().map((m) => m.version)),
      quickCheck: 'ok',
    }),
    dns: dnsmasq.dns,
    nftLibrary: () => ({ elementsVia: null }),
    kernelReads: () => null,
    tcNetlink: () => null,
  }
}

const gateway = (extra: Record<string, unknown> = {}) =>
  loadConfig(
    JSON.stringify({
      gate: { backend: 'nftables', guestInterface: 'br-guest' },
      sms: { providers: [{ type: 'console' }] },
      ...extra,
    }),
  )

const finding = (findings: Finding[], check: string) => findings.find((f) => f.check === check)

describe("doctor and the presence sweep's reads (issue 20)", () => {
  it("says whether the sweep reads the kernel in the service's process, else why it goes through ip and nft", async () => {
    const staged = stagedDnsmasq()
    const asked: string[] = []
    const direct = probes(staged)
    direct.kernelReads = (iface) => {
      asked.push(iface)
      return null
    }
    expect(finding(await diagnose(gateway(), direct), 'presence')).toEqual({
      check: 'presence',
      ok: true,
      detail:
        "the neighbour table, its changes and the firewall's counters read in the service's process (netlink)",
    })
    expect(asked).toEqual(['br-guest'])
    const fallback = probes(staged)
    fallback.kernelReads = () => 'libmnl cannot be loaded: not found'
    expect(finding(await diagnose(gateway(), fallback), 'presence')).toEqual({
      check: 'presence',
      ok: true,
      detail:
        'the neighbour table through ip and the counters through nft -j: libmnl cannot be loaded: not found',
    })
  })
})

describe("doctor and the devices' tc classes (issue 20)", () => {
  it("says whether each device's classes go on the service's netlink socket, else why through tc", async () => {
    const staged = stagedDnsmasq()
    expect(finding(await diagnose(gateway(), probes(staged)), 'rates')).toEqual({
      check: 'rates',
      ok: true,
      detail:
        "each device's tc classes on a netlink socket of the service's own (the trees at start through tc)",
    })
    const fallback = probes(staged)
    fallback.tcNetlink = () => 'libmnl cannot be loaded: not found'
    expect(finding(await diagnose(gateway(), fallback), 'rates')).toEqual({
      check: 'rates',
      ok: true,
      detail: "each device's tc classes through tc -batch: libmnl cannot be loaded: not found",
    })
  })
})

describe("doctor and the gate's nft session (issue 20)", () => {
  it("says libnftables in the service's process when it loads, else through the helper, else nft -i with the reasons and the package", async () => {
    const staged = stagedDnsmasq()
    expect(finding(await diagnose(gateway(), probes(staged)), 'nft session')).toEqual({
      check: 'nft session',
      ok: true,
      detail:
        "libnftables (in the service's process); a login's element changes straight to the kernel (libnftnl)",
    })
    // libnftnl missing: libnftables does every change.
    const noNftnl = probes(staged)
    noNftnl.nftLibrary = () => ({ elementsVia: 'libnftnl cannot be loaded: not found' })
    expect(finding(await diagnose(gateway(), noNftnl), 'nft session')!.detail).toBe(
      "libnftables (in the service's process); element changes through it too: libnftnl cannot be loaded: not found",
    )
    const noKoffi = 'koffi cannot be loaded: Cannot find module'
    const helper = probes(staged)
    helper.nftLibrary = () => noKoffi
    expect(finding(await diagnose(gateway(), helper), 'nft session')!.detail).toBe(
      `libnftables (python3-nftables) (in the service's process: ${noKoffi})`,
    )
    // Asked for the helper, doctor neither loads the library nor mentions it.
    helper.nftLibrary = () => {
      throw new Error('not asked')
    }
    const asHelper = gateway({
      gate: { backend: 'nftables', guestInterface: 'br-guest', nftSession: 'helper' },
    })
    expect(finding(await diagnose(asHelper, helper), 'nft session')!.detail).toBe(
      'libnftables (python3-nftables)',
    )
    const without = probes(staged)
    without.nftLibrary = () => noKoffi
    const run = without.run
    without.run = async (file, args) =>
      args[1] === '--check'
        ? {
            code: 3,
            stdout: '',
            stderr: "libnftables cannot be used: No module named 'nftables'\n",
          }
        : run(file, args)
    expect(finding(await diagnose(gateway(), without), 'nft session')).toEqual({
      check: 'nft session',
      ok: true,
      detail: `nft -i, about twice the CPU per login: libnftables cannot be used (No module named 'nftables'); apt-get install python3-nftables (in the service's process: ${noKoffi})`,
    })
    const forced = gateway({
      gate: { backend: 'nftables', guestInterface: 'br-guest', nftSession: 'nft' },
    })
    expect(finding(await diagnose(forced, without), 'nft session')!.detail).toBe(
      'nft -i (gate.nftSession is "nft")',
    )
  })
})

describe('doctor and the captive resolver (the DNS of guests not let through)', () => {
  it('passes when an outside name gets the portal address there, so nothing is forwarded', async () => {
    const f = finding(await diagnose(gateway(), probes(stagedDnsmasq())), 'captive resolver')
    expect(f).toMatchObject({ ok: true })
    expect(f!.detail).toMatch(
      /^answers on 192\.168\.77\.1:5300; an outside name \(branchgate-doctor-[0-9a-f]{12}\.example\.com\) gets the portal's address, nothing is forwarded$/,
    )
  })

  it('fails loudly when the resolver on that port forwards outside names (the DNS tunnel)', async () => {
    const f = finding(
      await diagnose(gateway(), probes(stagedDnsmasq({ captive: 'forwards' }))),
      'captive resolver',
    )
    expect(f).toMatchObject({ ok: false })
    expect(f!.detail).toContain(
      'to 93.184.215.14: guests not let through can reach the internet through DNS',
    )
    expect(f!.fix).toContain("ss -lnup 'sport = :5300'")
  })

  it("says when nothing answers, or something that is not branchgate's", async () => {
    const down = finding(
      await diagnose(gateway(), probes(stagedDnsmasq({ captive: 'down' }))),
      'captive resolver',
    )
    expect(down).toMatchObject({ ok: false })
    expect(down!.detail).toBe(
      'no answer on 192.168.77.1:5300 (ECONNREFUSED): guests not let through get no DNS, and their phones may not open the login sheet',
    )
    expect(down!.fix).toContain('captive dns')
    const other = finding(
      await diagnose(gateway(), probes(stagedDnsmasq({ captive: 'nxdomain' }))),
      'captive resolver',
    )
    expect(other!.detail).toContain("that is not branchgate's captive resolver")
  })

  it('asks on the configured port', async () => {
    const config = gateway({
      gate: { backend: 'nftables', guestInterface: 'br-guest', captiveDns: { port: 5400 } },
    })
    const f = finding(
      await diagnose(config, probes(stagedDnsmasq({ captivePort: 5400 }))),
      'captive resolver',
    )
    expect(f).toMatchObject({ ok: true })
    expect(f!.detail).toContain('192.168.77.1:5400')
  })
})

describe('doctor and the walled garden’s names', () => {
  const withGarden = (hosts: string[]) =>
    gateway({ gate: { backend: 'nftables', guestInterface: 'br-guest', walledGarden: { hosts } } })

  it('shows what each name resolves to through the captive resolver, and that it answers', async () => {
    const findings = await diagnose(
      withGarden(['notice.bank.example', '*.links.example', 'gone.bank.example']),
      probes(
        stagedDnsmasq({
          garden: { 'notice.bank.example': ['203.0.113.7'], 'gone.bank.example': [] },
        }),
      ),
    )
    expect(finding(findings, 'walled garden notice.bank.example')).toEqual({
      check: 'walled garden notice.bank.example',
      ok: true,
      detail: '203.0.113.7; answers (HTTPS 405)',
    })
    expect(finding(findings, 'walled garden *.links.example')).toMatchObject({ ok: true })
    expect(finding(findings, 'walled garden *.links.example')!.detail).toMatch(/^a wildcard/)
    expect(finding(findings, 'walled garden gone.bank.example')).toMatchObject({
      ok: false,
      detail: 'does not resolve through the captive resolver: guests cannot open it before login',
    })
  })
})

describe('doctor and IPv6 guests (gate.ipv6)', () => {
  /** The staged machine, with the guest port's IPv6 addresses, IPv6 forwarding and routes given. */
  function machine(o: { v6?: string[]; forwarding?: string; defaultRoutes?: unknown[] }) {
    const base = probes(stagedDnsmasq(), {
      '/proc/sys/net/ipv6/conf/all/forwarding': o.forwarding ?? '1\n',
    })
    const run = base.run
    base.run = async (file, args) => {
      if (file === 'ip' && args.includes('route'))
        return { code: 0, stdout: JSON.stringify(o.defaultRoutes ?? []), stderr: '' }
      if (file === 'ip' && args.includes('br-guest')) {
        const addr_info = [
          { family: 'inet', local: '192.168.77.1', scope: 'global' },
          { family: 'inet6', local: 'fe80::1', scope: 'link' },
          ...(o.v6 ?? []).map((local) => ({ family: 'inet6', local, scope: 'global' })),
        ]
        return { code: 0, stdout: JSON.stringify([{ ifname: 'br-guest', addr_info }]), stderr: '' }
      }
      return run(file, args)
    }
    return base
  }
  const dual = (uplink: 'nat' | 'routed' = 'nat') =>
    gateway({
      gate: {
        backend: 'nftables',
        guestInterface: 'br-guest',
        uplinkInterface: 'wan0',
        ipv6: { prefix: 'fd42:77::/64', uplink },
      },
    })

  it('passes with the prefix on the guest port, forwarding on and a default route on the uplink (NAT66)', async () => {
    const f = finding(
      await diagnose(
        dual(),
        machine({ v6: ['fd42:77::1'], defaultRoutes: [{ dst: 'default', dev: 'wan0' }] }),
      ),
      'IPv6',
    )
    expect(f).toEqual({
      check: 'IPv6',
      ok: true,
      detail: 'fd42:77::1 on br-guest (fd42:77::/64), forwarding on, NAT66 on wan0',
    })
  })

  it('says what is missing: the prefix on the guest port, forwarding, the uplink’s default route', async () => {
    const noAddress = finding(await diagnose(dual(), machine({ v6: ['fd99::1'] })), 'IPv6')
    expect(noAddress).toMatchObject({ ok: false })
    expect(noAddress!.fix).toContain('ip -6 addr add fd42:77::1/64 dev br-guest')
    const off = finding(
      await diagnose(dual(), machine({ v6: ['fd42:77::1'], forwarding: '0\n' })),
      'IPv6',
    )
    expect(off!.detail).toBe('IPv6 forwarding is off: IPv6 guests cannot reach the internet')
    const noRoute = finding(
      await diagnose(dual(), machine({ v6: ['fd42:77::1'], defaultRoutes: [{ dev: 'br-guest' }] })),
      'IPv6',
    )
    expect(noRoute).toMatchObject({ ok: false })
    expect(noRoute!.detail).toContain('wan0 has no default IPv6 route')
    expect(noRoute!.fix).toContain('accept_ra is 2')
  })

  it('needs no route of its own when the prefix is routed to the gateway, and says nothing when IPv6 is off', async () => {
    const routed = finding(await diagnose(dual('routed'), machine({ v6: ['fd42:77::1'] })), 'IPv6')
    expect(routed).toMatchObject({ ok: true })
    expect(finding(await diagnose(gateway(), machine({})), 'IPv6')).toBeUndefined()
  })
})

describe("doctor and branchgate's dnsmasq", () => {
  it('finds the dnsmasq that loaded the guest file and serves the guest interface', async () => {
    const findings = await diagnose(gateway(), probes(stagedDnsmasq()))
    expect(finding(findings, 'dnsmasq config')).toEqual({
      check: 'dnsmasq config',
      ok: true,
      detail:
        '/etc/dnsmasq.d/branchgate.conf: DHCP on br-guest, option 114 http://localhost:8080/api/captive',
    })
    expect(finding(findings, 'dnsmasq')).toEqual({
      check: 'dnsmasq',
      ok: true,
      detail:
        'pid 812 has loaded /etc/dnsmasq.d/branchgate.conf and answers DHCP and DNS on br-guest (192.168.77.1)',
    })
  })

  it('does not count a dnsmasq that is not ours', async () => {
    const findings = await diagnose(
      gateway(),
      probes(stagedDnsmasq({ processes: { '4242': LIBVIRT_DNSMASQ_CMDLINE } })),
    )
    const f = finding(findings, 'dnsmasq')!
    expect(f.ok).toBe(false)
    expect(f.detail).toBe(
      'running, but no dnsmasq has loaded /etc/dnsmasq.d/branchgate.conf (pid 4242 reads ' +
        '/var/lib/libvirt/dnsmasq/default.conf): guests get no address or no option 114 from it',
    )
    expect(f.fix).toContain('-7 /etc/dnsmasq.d')
  })

  it('says what is wrong when option 114 does not point at publicUrl', async () => {
    const findings = await diagnose(
      gateway({ publicUrl: 'http://portal.branch.lan:8080' }),
      probes(stagedDnsmasq()),
    )
    const f = finding(findings, 'dnsmasq config')!
    expect(f.ok).toBe(false)
    expect(f.detail).toBe(
      'option 114 in /etc/dnsmasq.d/branchgate.conf is "http://localhost:8080/api/captive", ' +
        'but publicUrl puts the Captive Portal API at http://portal.branch.lan:8080/api/captive',
    )
    expect(f.fix).toBe(
      'set dhcp-option=br-guest,114,"http://portal.branch.lan:8080/api/captive" in ' +
        '/etc/dnsmasq.d/branchgate.conf (or correct publicUrl), then systemctl restart dnsmasq',
    )
  })

  it("accepts option 114 at the TLS listener's https:// address", async () => {
    const config = gateway({
      publicUrl: 'http://portal.branch.lan:8080',
      listen: { tls: { port: 8443, certFile: '/etc/b/c.pem', keyFile: '/etc/b/k.pem' } },
    })
    const dnsmasq = stagedDnsmasq({ captiveApiUrl: 'https://portal.branch.lan:8443/api/captive' })
    expect(finding(await diagnose(config, probes(dnsmasq)), 'dnsmasq config')?.ok).toBe(true)
  })

  it('says when the file serves another interface, or hands out no option 114', async () => {
    const other = stagedDnsmasq()
    other.files['/etc/dnsmasq.d/branchgate.conf'] = renderedDnsmasqConf({
      guest: 'eth9',
      gateway: '192.168.77.1',
      captiveApiUrl: 'http://localhost:8080/api/captive',
    })
    expect(finding(await diagnose(gateway(), probes(other)), 'dnsmasq config')).toMatchObject({
      ok: false,
      detail: '/etc/dnsmasq.d/branchgate.conf serves eth9, not the guest interface br-guest',
    })
    const none = stagedDnsmasq()
    none.files['/etc/dnsmasq.d/branchgate.conf'] = none.files[
      '/etc/dnsmasq.d/branchgate.conf'
    ]!.replace(/^dhcp-option=br-guest,114,.*$/m, '')
    expect(finding(await diagnose(gateway(), probes(none)), 'dnsmasq config')?.detail).toContain(
      'hands out no DHCP option 114 on br-guest',
    )
    const missing = stagedDnsmasq()
    delete missing.files['/etc/dnsmasq.d/branchgate.conf']
    expect(finding(await diagnose(gateway(), probes(missing)), 'dnsmasq config')?.fix).toContain(
      'deploy/install.sh',
    )
  })

  it('says when dnsmasq was not restarted after the file changed', async () => {
    const dnsmasq = stagedDnsmasq({ confChangedAt: (1_767_225_600 + 3600) * 1000 })
    expect(finding(await diagnose(gateway(), probes(dnsmasq)), 'dnsmasq')).toEqual({
      check: 'dnsmasq',
      ok: false,
      detail:
        'pid 812 started before /etc/dnsmasq.d/branchgate.conf was last changed: it serves the old settings',
      fix: 'systemctl restart dnsmasq',
    })
  })

  it('says when the dnsmasq that loaded it does not answer on the guest interface', async () => {
    const dnsmasq = stagedDnsmasq({
      sockets: 'UNCONN 0 0 127.0.0.1:53 0.0.0.0:* users:(("dnsmasq",pid=812,fd=6))',
    })
    const f = finding(await diagnose(gateway(), probes(dnsmasq)), 'dnsmasq')!
    expect(f.ok).toBe(false)
    expect(f.detail).toBe(
      'pid 812 has loaded /etc/dnsmasq.d/branchgate.conf, but answers no DHCP (udp 67) nor ' +
        'DNS (port 53 on 192.168.77.1) on br-guest',
    )
  })

  it('follows conf-dir in /etc/dnsmasq.conf, with its file patterns', async () => {
    const plain = { '900': ['/usr/sbin/dnsmasq', '--keep-in-foreground', ''].join('\0') }
    const sockets = [
      'UNCONN 0 0 0.0.0.0:67 0.0.0.0:* users:(("dnsmasq",pid=900,fd=4))',
      'UNCONN 0 0 0.0.0.0:53 0.0.0.0:* users:(("dnsmasq",pid=900,fd=5))',
    ].join('\n')
    const conf = (line: string) =>
      probes(stagedDnsmasq({ processes: plain, sockets }), {
        '/etc/dnsmasq.conf': `# main file\n${line}\n`,
      })
    const loaded = await diagnose(gateway(), conf('conf-dir=/etc/dnsmasq.d/,*.conf'))
    expect(finding(loaded, 'dnsmasq')?.ok).toBe(true)
    const other = await diagnose(gateway(), conf('conf-dir=/etc/dnsmasq.d/,*.dnsmasq'))
    expect(finding(other, 'dnsmasq')?.ok).toBe(false)
    const excluded = await diagnose(gateway(), conf('conf-dir=/etc/dnsmasq.d,.conf'))
    expect(finding(excluded, 'dnsmasq')?.ok).toBe(false)
  })
})

describe("doctor and the SMS providers' credentials", () => {
  const fake = new FakeProviders()
  beforeAll(() => fake.start())
  afterAll(() => fake.stop())
  beforeEach(() => fake.reset())

  const twilio = (extra: Record<string, unknown> = {}) => ({
    type: 'twilio',
    accountSid: FAKE_CREDENTIALS.twilio.accountSid,
    authToken: FAKE_CREDENTIALS.twilio.authToken,
    from: '+15005550006',
    baseUrl: fake.base,
    ...extra,
  })
  const infobip = (extra: Record<string, unknown> = {}) => ({
    type: 'infobip',
    baseUrl: fake.base,
    apiKey: FAKE_CREDENTIALS.infobip.apiKey,
    ...extra,
  })
  const whatsapp = (extra: Record<string, unknown> = {}) => ({
    type: 'whatsapp',
    phoneNumberId: FAKE_CREDENTIALS.whatsapp.phoneNumberId,
    accessToken: FAKE_CREDENTIALS.whatsapp.accessToken,
    templateName: 'codigo_wifi',
    baseUrl: fake.base,
    ...extra,
  })
  const smsFindings = async (providers: unknown[]) =>
    (
      await diagnose(loadConfig(JSON.stringify({ sms: { providers } })), probes(stagedDnsmasq()))
    ).filter((f) => f.check.startsWith('sms '))

  it('checks each provider with an authenticated read-only call, and passes the right credentials', async () => {
    const findings = await smsFindings([twilio(), infobip(), whatsapp()])
    const host = new URL(fake.base).host
    expect(findings).toEqual([
      { check: `sms twilio ${host}`, ok: true, detail: 'credentials accepted, account active' },
      { check: `sms infobip ${host}`, ok: true, detail: 'API key accepted, balance 47.79134 EUR' },
      {
        check: `sms whatsapp ${host}`,
        ok: true,
        detail: 'token accepted, phone-number ID "Banco Demo", quality GREEN',
      },
    ])
    expect(fake.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /2010-04-01/Accounts/${FAKE_CREDENTIALS.twilio.accountSid}.json`,
      'GET /account/1/balance',
      `GET /v21.0/${FAKE_CREDENTIALS.whatsapp.phoneNumberId}`,
    ])
    // Read-only: nothing was sent.
    expect(fake.received.every((r) => r.method === 'GET')).toBe(true)
  })

  it('says which credentials a provider refused, without printing them', async () => {
    const findings = await smsFindings([
      twilio({ authToken: 'wrong-token' }),
      infobip({ apiKey: 'wrong-key' }),
      whatsapp({ accessToken: 'expired-token' }),
    ])
    expect(findings.map((f) => f.ok)).toEqual([false, false, false])
    for (const f of findings) expect(f.detail).toMatch(/^credentials refused/)
    expect(findings[0]!.detail).toContain('20003')
    expect(findings[0]!.fix).toBe(
      'set the right accountSid and authToken (or apiKeySid and apiKeySecret) of this provider in sms.providers, then restart branchgate',
    )
    expect(findings[1]!.fix).toContain('apiKey and baseUrl')
    expect(findings[2]!.detail).toContain('"code":190')
    expect(findings[2]!.fix).toContain('accessToken and phoneNumberId')
    const text = formatFindings(findings).join('\n')
    for (const secret of ['wrong-token', 'wrong-key', 'expired-token']) {
      expect(text).not.toContain(secret)
    }
  })

  it('tells an unknown account or phone-number ID, a suspended account and an empty balance apart', async () => {
    fake.account.twilio = 'suspended'
    fake.account.infobipBalance = 0
    const findings = await smsFindings([
      twilio(),
      infobip(),
      whatsapp({ phoneNumberId: '999' }),
      twilio({ accountSid: 'AC' + 'f0'.repeat(16), name: 'twilio-b' }),
    ])
    expect(findings.map((f) => [f.ok, f.detail.split(':')[0]])).toEqual([
      [false, 'no credit or account suspended (top up the account)'],
      [false, 'no credit or account suspended (top up the account)'],
      [false, 'credentials refused (check the account ID and token in sms.providers)'],
      [false, 'credentials refused (check the account ID and token in sms.providers)'],
    ])
    expect(findings[0]!.detail).toContain('the account is suspended')
    expect(findings[1]!.detail).toContain('the balance is 0 EUR')
    expect(findings[2]!.detail).toContain('phone-number ID not found')
  })

  it('accepts a Twilio API key through the message list, which a Standard key may read', async () => {
    const findings = await smsFindings([
      twilio({
        authToken: null,
        apiKeySid: FAKE_CREDENTIALS.twilio.apiKeySid,
        apiKeySecret: FAKE_CREDENTIALS.twilio.apiKeySecret,
      }),
    ])
    expect(findings[0]).toMatchObject({ ok: true, detail: 'API key accepted' })
    expect(fake.last('twilio').path).toBe(
      `/2010-04-01/Accounts/${FAKE_CREDENTIALS.twilio.accountSid}/Messages.json?PageSize=1`,
    )
  })

  it('reports a provider it cannot reach as a network problem', async () => {
    const [f] = await smsFindings([infobip({ baseUrl: 'http://127.0.0.1:1' })])
    expect(f).toMatchObject({
      ok: false,
      fix: 'check the uplink, DNS and the provider URL in sms.providers',
    })
    expect(f!.detail).toMatch(/^provider unavailable \(5xx or network\): network: /)
  })
})
