/**
 * Network namespaces for end-to-end tests: a gateway running branchgate with the nftables backend
 * and dnsmasq, guest clients that get their address by DHCP, and an "internet" host with a web
 * server and an HTTP SMS provider. Everything lives in namespaces this file creates, named with a
 * per-run prefix, and uses private addresses inside them only; `cleanup()` removes it all.
 *
 *   client c1 (eth0) ──┐
 *                      ├── bridge "guest" 10.99.1.1/24 ── gateway ── up0 10.99.2.1/24 ── internet eth0 10.99.2.2
 *   client c2 (eth0) ──┘        (branchgate, dnsmasq, nftables)                           (web, probes, SMS)
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fillPlaceholders } from '../../src/gate/nft-ruleset.js'
import { CLI_ARGS, SERVE_ARGS } from '../net-helpers.js'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const GATEWAY_IP = '10.99.1.1'
export const INTERNET_IP = '10.99.2.2'
/** A second address of the internet host, in the default config's walled garden (say, the privacy notice). */
export const GARDEN_IP = '10.99.2.3'
/** A third address of the internet host: somewhere outside no guest may reach before login (a public resolver, say). */
export const OUTSIDE_IP = '10.99.2.4'
/** The zone the internet's authoritative DNS server (startInternetDns) serves. */
export const TEST_ZONE = 'e2e.test'
export const PORTAL_PORT = 8080
export const PUBLIC_URL = `http://${GATEWAY_IP}:${PORTAL_PORT}`
export const GUEST_IF = 'guest'
/** IPv6 (createTestNetwork({ ipv6: true })): the guests' /64 and the gateway's address in it. */
export const GUEST_PREFIX6 = 'fd99:1::/64'
export const GATEWAY_IP6 = 'fd99:1::1'
export const INTERNET_IP6 = 'fd99:2::2'
export const GARDEN_IP6 = 'fd99:2::3'
export const OUTSIDE_IP6 = 'fd99:2::4'
export const UPLINK_IF = 'up0'

/**
 * Why the e2e tests cannot run here, or null when they can. `more` names other programs a test
 * needs, each with its Debian package: `e2eSkipReason({ iperf3: 'iperf3' })`.
 */
export function e2eSkipReason(more: Record<string, string> = {}): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (process.getuid?.() !== 0)
    return 'needs root to create network namespaces (CI runs it as root)'
  const has = (tool: string) => spawnSync('sh', ['-c', 'command -v "$0"', tool]).status === 0
  for (const tool of ['ip', 'nft', 'dnsmasq', 'curl']) {
    if (!has(tool))
      return `${tool} is not installed (apt-get install iproute2 nftables dnsmasq curl)`
  }
  for (const [tool, pkg] of Object.entries(more))
    if (!has(tool)) return `${tool} is not installed (apt-get install ${pkg})`
  return null
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Runs a program (no shell) and resolves with its exit code and output; never rejects on exit code. */
export function run(file: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0
        resolve({ code, stdout, stderr, ms: performance.now() - t0 })
      },
    )
  })
}

async function must(file: string, args: string[]): Promise<string> {
  const r = await run(file, args)
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.stdout
}

export interface Client {
  name: string
  ns: string
  mac: string
  /** Host-side port on the gateway's bridge. */
  port: string
  address: string | null
}

/** What test/e2e/dns-client.ts asks: see its header. */
export interface DnsOptions {
  server: string
  port?: number
  proto?: 'udp' | 'tcp'
  type?: string
  names?: string[]
  sourcePort?: number
  timeoutMs?: number
  flood?: number
}

export interface Lease {
  address: string
  prefix: number
  router: string | null
  dns: string | null
  captivePortal: string | null
}

export interface BranchgateHandle {
  configFile: string
  dataDir: string
  process: ChildProcess
  output(): string
  /** SIGTERM, then waits for the exit; returns the exit code. */
  stop(): Promise<number | null>
}

export type TestNetwork = Awaited<ReturnType<typeof createTestNetwork>>

/** Builds the namespaces and links. Call `cleanup()` in afterAll, whatever happened. */
export async function createTestNetwork(opts: { clients?: number; ipv6?: boolean } = {}) {
  const prefix = `bg${randomBytes(3).toString('hex')}`
  const gw = `${prefix}-gw`
  const net = `${prefix}-net`
  const tmp = mkdtempSync(path.join(tmpdir(), `${prefix}-`))
  const namespaces: string[] = []
  const children = new Set<ChildProcess>()
  const clients: Client[] = []

  const exec = (ns: string, file: string, args: string[], timeoutMs?: number) =>
    run('ip', ['netns', 'exec', ns, file, ...args], timeoutMs)
  const inNs = (ns: string, file: string, args: string[]) =>
    must('ip', ['netns', 'exec', ns, file, ...args])

  /** Starts a long-running program in a namespace; it is killed by cleanup(). */
  function spawnIn(ns: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    children.add(child)
    child.once('exit', () => children.delete(child))
    return { child, output: () => out }
  }

  const addNs = async (name: string) => {
    await must('ip', ['netns', 'add', name])
    namespaces.push(name)
    await inNs(name, 'ip', ['link', 'set', 'lo', 'up'])
  }

  const cleanup = async () => {
    const exits = [...children]
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('exit', () => resolve())
            c.kill('SIGKILL')
          }),
      )
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))])
    // What our processes started in a namespace (branchgate's captive resolver) goes too.
    for (const ns of namespaces) {
      for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/)) {
        if (/^\d+$/.test(pid)) {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {
            // already gone
          }
        }
      }
    }
    for (const ns of namespaces.reverse()) {
      await run('ip', ['netns', 'del', ns])
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true })
    }
    rmSync(tmp, { recursive: true, force: true })
  }

  try {
    await addNs(gw)
    // The gateway's own lookups (the walled garden's names) go to its dnsmasq, never the host's resolver.
    mkdirSync(`/etc/netns/${gw}`, { recursive: true })
    writeFileSync(`/etc/netns/${gw}/resolv.conf`, `nameserver ${GATEWAY_IP}\n`)
    await addNs(net)
    await inNs(gw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await inNs(gw, 'ip', ['link', 'add', GUEST_IF, 'type', 'bridge'])
    await inNs(gw, 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', GUEST_IF])
    await inNs(gw, 'ip', ['link', 'set', GUEST_IF, 'up'])
    await inNs(gw, 'ip', [
      'link',
      'add',
      UPLINK_IF,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      net,
    ])
    await inNs(gw, 'ip', ['addr', 'add', '10.99.2.1/24', 'dev', UPLINK_IF])
    await inNs(gw, 'ip', ['link', 'set', UPLINK_IF, 'up'])
    await inNs(net, 'ip', ['addr', 'add', `${INTERNET_IP}/24`, 'dev', 'eth0'])
    await inNs(net, 'ip', ['addr', 'add', `${GARDEN_IP}/24`, 'dev', 'eth0'])
    await inNs(net, 'ip', ['addr', 'add', `${OUTSIDE_IP}/24`, 'dev', 'eth0'])
    await inNs(net, 'ip', ['link', 'set', 'eth0', 'up'])
    if (opts.ipv6) {
      // nodad: fixed addresses of our own, usable at once.
      await inNs(gw, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1'])
      await inNs(gw, 'ip', ['-6', 'addr', 'add', `${GATEWAY_IP6}/64`, 'dev', GUEST_IF, 'nodad'])
      await inNs(gw, 'ip', ['-6', 'addr', 'add', 'fd99:2::1/64', 'dev', UPLINK_IF, 'nodad'])
      for (const a of [INTERNET_IP6, GARDEN_IP6, OUTSIDE_IP6])
        await inNs(net, 'ip', ['-6', 'addr', 'add', `${a}/64`, 'dev', 'eth0', 'nodad'])
    }
    for (let i = 1; i <= (opts.clients ?? 2); i++) {
      const c: Client = {
        name: `c${i}`,
        ns: `${prefix}-c${i}`,
        mac: `02:99:00:00:00:${i.toString(16).padStart(2, '0')}`,
        port: `g${i}`,
        address: null,
      }
      await addNs(c.ns)
      await inNs(gw, 'ip', [
        'link',
        'add',
        c.port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        c.ns,
      ])
      await inNs(gw, 'ip', ['link', 'set', c.port, 'master', GUEST_IF, 'up'])
      // Client isolation, as the guest access point does it: guests reach the gateway, not each other.
      await inNs(gw, 'ip', ['link', 'set', c.port, 'type', 'bridge_slave', 'isolated', 'on'])
      await inNs(c.ns, 'ip', ['link', 'set', 'eth0', 'address', c.mac])
      if (opts.ipv6) {
        // As phones do: SLAAC from the gateway's advertisements, temporary (privacy) addresses
        // preferred. No duplicate detection: the addresses are usable at once.
        for (const s of ['accept_ra=1', 'use_tempaddr=2', 'accept_dad=0'])
          await inNs(c.ns, 'sysctl', ['-qw', `net.ipv6.conf.eth0.${s}`])
      }
      await inNs(c.ns, 'ip', ['link', 'set', 'eth0', 'up'])
      // The DHCP client broadcasts before it has an address: give the kernel a route for that.
      await inNs(c.ns, 'ip', ['route', 'add', '255.255.255.255/32', 'dev', 'eth0'])
      clients.push(c)
    }
  } catch (err) {
    await cleanup()
    throw err
  }

  let branchgate: BranchgateHandle | null = null

  const network = {
    prefix,
    gw,
    net,
    tmp,
    clients,
    exec,
    spawnIn,
    cleanup,

    /** The internet host: web site, probe servers and SMS provider. */
    async startInternet() {
      const h = spawnIn(net, process.execPath, ['--import', 'tsx', 'test/e2e/internet-host.ts'])
      await until(
        async () => (await exec(net, 'curl', ['-sf', `http://${INTERNET_IP}/`])).code === 0,
        'the internet host',
        h.output,
        h.child,
      )
      return h
    },

    /**
     * The internet's authoritative DNS server for TEST_ZONE (and the probe hosts named in
     * `records`), a dnsmasq on every address of the internet host, logging every query it
     * receives. Answers have TTL 0, so no resolver on the way keeps them. `setRecords` changes
     * the answers at once (a CDN rotating an address).
     */
    async startInternetDns(records: Record<string, string | string[]>) {
      const hosts = path.join(tmp, 'internet-hosts')
      const logFile = path.join(tmp, 'internet-dns.log')
      const pidFile = path.join(tmp, 'internet-dns.pid')
      const write = (r: Record<string, string | string[]>) =>
        writeFileSync(
          hosts,
          Object.entries(r)
            .flatMap(([name, ips]) => [ips].flat().map((ip) => `${ip} ${name}\n`))
            .join(''),
        )
      write(records)
      const zones = new Set([TEST_ZONE])
      for (const name of Object.keys(records)) if (!name.endsWith(`.${TEST_ZONE}`)) zones.add(name)
      writeFileSync(logFile, '')
      const h = spawnIn(net, 'dnsmasq', [
        '--keep-in-foreground',
        '--user=root',
        ...['--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, `--pid-file=${pidFile}`],
        ...['--interface=eth0', '--bind-interfaces', `--auth-server=ns.${TEST_ZONE},eth0`],
        ...[...zones].map((z) => `--auth-zone=${z}`),
        ...['--auth-ttl=0', '--log-queries', `--log-facility=${logFile}`],
      ])
      await until(
        async () => (await exec(net, 'ss', ['-lnu'])).stdout.includes(`${INTERNET_IP}:53 `),
        'the internet DNS server',
        h.output,
        h.child,
      )
      return {
        /** Every name asked of it so far, in order. */
        queries(): string[] {
          return [...readFileSync(logFile, 'utf8').matchAll(/: auth\[\w+\] (\S+) from /g)].map(
            (m) => m[1]!,
          )
        },
        /** New answers, served from the next query on. */
        async setRecords(next: Record<string, string | string[]>) {
          write(next)
          const before = readFileSync(logFile, 'utf8').split('\n').length
          process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGHUP')
          await until(
            async () =>
              readFileSync(logFile, 'utf8')
                .split('\n')
                .slice(before - 1)
                .some((l) => l.includes(`read ${hosts}`)),
            'the internet DNS server to read its new records',
          )
        },
      }
    },

    /**
     * Counts packets arriving in a namespace that match an nft expression (before any of its
     * own rules), under a name: `watch(ns, 'outside', 'ip daddr 10.99.2.4')`, then `arrivals`.
     */
    async watch(ns: string, name: string, match: string) {
      const batch = [
        'table inet e2e_watch {',
        '  chain arrivals { type filter hook prerouting priority -500; policy accept; }',
        '}',
        `add counter inet e2e_watch ${name}`,
        `add rule inet e2e_watch arrivals ${match} counter name "${name}"`,
        '',
      ].join('\n')
      const file = path.join(tmp, `watch-${name}.nft`)
      writeFileSync(file, batch)
      await inNs(ns, 'nft', ['-f', file])
    },

    /** Packets counted by `watch` under this name so far. */
    async arrivals(ns: string, name: string): Promise<number> {
      const doc = JSON.parse(
        await inNs(ns, 'nft', ['-j', 'list', 'counter', 'inet', 'e2e_watch', name]),
      ) as { nftables: Array<{ counter?: { packets: number } }> }
      return doc.nftables.find((x) => x.counter)?.counter?.packets ?? 0
    },

    /** SMS messages the provider on the internet host received. */
    async smsMessages(): Promise<Array<{ to: string; text: string }>> {
      return JSON.parse(await inNs(net, 'curl', ['-sf', `http://${INTERNET_IP}/sms/messages`]))
    },

    /**
     * dnsmasq on the guest bridge, from deploy/dnsmasq.conf.tmpl plus test-only lines; with
     * `ipv6`, its IPv6 lines too (router advertisements, DHCPv6 with option 103), option 114
     * and 103 at `captiveApiUrl`.
     */
    async startDnsmasq(
      extraLines: string[] = [],
      o: { ipv6?: boolean; captiveApiUrl?: string; ra?: 'dnsmasq' | 'radvd' } = {},
    ) {
      const captiveApiUrl = o.captiveApiUrl ?? `${PUBLIC_URL}/api/captive`
      const byRadvd = o.ipv6 === true && o.ra === 'radvd'
      // Issue 16: the router advertisements from radvd (with option 37), as deploy/install.sh
      // sets it up when radvd 2.20 or later is there; dnsmasq then answers DHCPv6 only.
      if (byRadvd) {
        const radvdConf = path.join(tmp, 'radvd.conf')
        writeFileSync(
          radvdConf,
          fillPlaceholders(readFileSync(path.join(ROOT, 'deploy/radvd.conf.tmpl'), 'utf8'), {
            guestInterface: GUEST_IF,
            captiveApiUrl,
            gatewayIp6: GATEWAY_IP6,
          }),
        )
        const pidFile = path.join(tmp, 'radvd.pid')
        const r = spawnIn(gw, 'radvd', [
          ...['--nodaemon', `--config=${radvdConf}`, `--pidfile=${pidFile}`],
          '--logmethod=stderr',
        ])
        await until(async () => existsSync(pidFile), 'radvd', r.output, r.child)
      }
      const conf = fillPlaceholders(
        readFileSync(path.join(ROOT, 'deploy/dnsmasq.conf.tmpl'), 'utf8'),
        {
          guestInterface: GUEST_IF,
          dhcpStart: '10.99.1.20',
          dhcpEnd: '10.99.1.250',
          netmask: '255.255.255.0',
          leaseTime: '1h',
          gatewayIp: GATEWAY_IP,
          captiveApiUrl,
          portalHostRecord: '',
          ipv6: o.ipv6 ? '' : '#',
          raByDnsmasq: o.ipv6 && !byRadvd ? '' : '#',
          raByRadvd: byRadvd ? '' : '#',
        },
      )
      const file = path.join(tmp, 'dnsmasq.conf')
      // no-ping: dnsmasq would wait seconds probing each new address; no upstream resolvers here.
      writeFileSync(file, [conf, 'no-ping', 'no-resolv', 'no-hosts', ...extraLines, ''].join('\n'))
      const h = spawnIn(gw, 'dnsmasq', [
        '--keep-in-foreground',
        `--conf-file=${file}`,
        `--pid-file=${path.join(tmp, 'dnsmasq.pid')}`,
        `--dhcp-leasefile=${path.join(tmp, 'dnsmasq.leases')}`,
        '--user=root',
        '--log-facility=-',
      ])
      await until(
        async () => (await exec(gw, 'ss', ['-lnu'])).stdout.includes(':67 '),
        'dnsmasq',
        h.output,
        h.child,
      )
      return h
    },

    /** Asks for an address by DHCP from the client namespace and configures it. */
    async dhcp(client: Client): Promise<Lease> {
      const r = await exec(
        client.ns,
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'test/e2e/dhcp-client.ts'), client.mac],
        // No kill timer: the client gives up by itself 15 s after it starts sending; a wall-clock
        // bound here also counted its own start-up, which takes long on a loaded machine.
        0,
      )
      if (r.code !== 0) throw new Error(`DHCP failed for ${client.name}: ${r.stderr}`)
      const lease = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Lease
      await inNs(client.ns, 'ip', [
        'addr',
        'add',
        `${lease.address}/${lease.prefix}`,
        'dev',
        'eth0',
      ])
      if (lease.router)
        await inNs(client.ns, 'ip', ['route', 'add', 'default', 'via', lease.router])
      client.address = lease.address
      return lease
    },

    /** The client's resolvers, as its DHCP or RDNSS would set them (/etc/netns/NS/resolv.conf). */
    resolvConf(client: Client, servers: string[]) {
      mkdirSync(`/etc/netns/${client.ns}`, { recursive: true })
      writeFileSync(
        `/etc/netns/${client.ns}/resolv.conf`,
        servers.map((s) => `nameserver ${s}\n`).join(''),
      )
    },

    /**
     * Waits until the client has taken an address of the gateway's IPv6 prefix (SLAAC) and a
     * default route from its advertisements; returns its global IPv6 addresses, the temporary
     * (privacy) ones flagged.
     */
    async slaac(client: Client): Promise<Array<{ address: string; temporary: boolean }>> {
      let found: Array<{ address: string; temporary: boolean }> = []
      await until(async () => {
        const addr = JSON.parse(
          (await exec(client.ns, 'ip', ['-j', '-6', 'addr', 'show', 'dev', 'eth0'])).stdout || '[]',
        ) as Array<{ addr_info: Array<Record<string, unknown>> }>
        found = addr
          .flatMap((l) => l.addr_info)
          .filter((a) => a.scope === 'global' && a.tentative !== true)
          .map((a) => ({ address: String(a.local), temporary: a.temporary === true }))
        const route = (await exec(client.ns, 'ip', ['-6', 'route', 'show', 'default'])).stdout
        return (
          found.some((a) => a.temporary) &&
          found.some((a) => !a.temporary) &&
          /via fe80::/.test(route)
        )
      }, `SLAAC on ${client.name}`)
      return found
    },

    /** Takes a client's link down (it leaves the branch) or brings it back. */
    async clientLink(client: Client, state: 'up' | 'down') {
      await inNs(gw, 'ip', ['link', 'set', client.port, state])
    },

    /**
     * DNS questions from a client namespace (test/e2e/dns-client.ts): one result per name; an
     * array of option sets runs in one process and answers with an array.
     */
    async dns(client: Client | string, options: DnsOptions | DnsOptions[]): Promise<any> {
      const r = await exec(
        typeof client === 'string' ? client : client.ns,
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'test/e2e/dns-client.ts'), JSON.stringify(options)],
        120_000,
      )
      if (r.code !== 0) throw new Error(`dns-client failed: ${r.stderr}`)
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    },

    /** Knocks on UDP and TCP ports of a host from a client namespace (test/e2e/knock.ts). */
    async knock(
      client: Client | string,
      options: { host: string; udp?: number[]; tcp?: number[]; timeoutMs?: number; from?: string },
    ): Promise<{ tcp: Record<string, string> }> {
      const r = await exec(
        typeof client === 'string' ? client : client.ns,
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'test/e2e/knock.ts'), JSON.stringify(options)],
        // No kill timer, as for dhcp: knock ends by itself (its own timeoutMs per port); the 20 s
        // default also counted its start-up and killed it under load (exit -1, no output).
        0,
      )
      if (r.code !== 0) throw new Error(`knock failed (exit ${r.code}): ${r.stderr}`)
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    },

    /** curl from a client namespace. */
    curl(client: Client | string, args: string[], timeoutMs?: number) {
      return exec(
        typeof client === 'string' ? client : client.ns,
        'curl',
        ['-sS', ...args],
        timeoutMs,
      )
    },

    /** nft in the gateway namespace. */
    nft(args: string[]) {
      return exec(gw, 'nft', args)
    },

    /** The let-through set as the kernel has it: MAC and seconds left (its elements have no counters). */
    async allowedSet(): Promise<Array<{ mac: string; expires: number }>> {
      const r = await exec(gw, 'nft', ['-j', 'list', 'set', 'inet', 'branchgate', 'allowed'])
      if (r.code !== 0) throw new Error(`cannot list the set: ${r.stderr}`)
      const doc = JSON.parse(r.stdout) as {
        nftables: Array<{ set?: { elem?: Array<{ elem: any }> } }>
      }
      const elems = doc.nftables.find((x) => x.set)?.set?.elem ?? []
      return elems.map(({ elem }) => ({ mac: elem.val, expires: elem.expires }))
    },

    /** The pids of every process this network started that is still running. */
    runningPids(): number[] {
      return [...children].filter((c) => c.exitCode === null && c.pid).map((c) => c.pid!)
    },

    /** Writes a config file for branchgate with the given object (merged by the caller). */
    writeConfig(config: Record<string, unknown>, name = 'branchgate.json'): string {
      const file = path.join(tmp, name)
      writeFileSync(file, JSON.stringify(config, null, 2))
      return file
    },

    /** A config for the gateway: nftables on the guest bridge, NAT on the uplink, SMS to the internet host. */
    defaultConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
      return {
        branch: { id: 'e2e', name: 'Sucursal Prueba' },
        publicUrl: PUBLIC_URL,
        listen: {
          portal: { host: '0.0.0.0', port: PORTAL_PORT },
          admin: { host: '127.0.0.1', port: 8081 },
        },
        dataDir: path.join(tmp, 'data'),
        gate: {
          backend: 'nftables',
          guestInterface: GUEST_IF,
          uplinkInterface: UPLINK_IF,
          walledGarden: { cidrs: [`${GARDEN_IP}/32`] },
        },
        sms: { providers: [{ type: 'http', url: `http://${INTERNET_IP}/sms`, timeoutMs: 5000 }] },
        session: { hours: 1 },
        ...overrides,
      }
    },

    /** Starts branchgate in the gateway namespace and waits until the portal answers. */
    async startBranchgate(
      config: Record<string, unknown> = network.defaultConfig(),
    ): Promise<BranchgateHandle> {
      if (branchgate && branchgate.process.exitCode === null)
        throw new Error('branchgate is already running')
      const configFile = network.writeConfig(config)
      const h = spawnIn(gw, process.execPath, [...SERVE_ARGS, '--config', configFile])
      const port = ((config.listen as any)?.portal?.port as number) ?? PORTAL_PORT
      await until(
        async () => {
          if (h.child.exitCode !== null)
            throw new Error(`branchgate exited (${h.child.exitCode}):\n${h.output()}`)
          return (
            (await exec(gw, 'curl', ['-sf', `http://${GATEWAY_IP}:${port}/healthz`])).code === 0
          )
        },
        'branchgate',
        h.output,
        h.child,
      )
      branchgate = {
        configFile,
        dataDir: String(config.dataDir),
        process: h.child,
        output: h.output,
        stop: () =>
          new Promise((resolve) => {
            if (h.child.exitCode !== null) return resolve(h.child.exitCode)
            h.child.once('exit', (code) => resolve(code))
            h.child.kill('SIGTERM')
          }),
      }
      return branchgate
    },

    async stopBranchgate() {
      return branchgate ? branchgate.stop() : null
    },

    async restartBranchgate(config?: Record<string, unknown>) {
      await network.stopBranchgate()
      return network.startBranchgate(config)
    },

    /** Runs a branchgate command (`src/cli.ts`) in the gateway namespace with the current config. */
    cli(args: string[]) {
      if (!branchgate) throw new Error('start branchgate first: the CLI uses its config')
      return exec(gw, process.execPath, [...CLI_ARGS, ...args, '--config', branchgate.configFile])
    },
  }
  return network
}

/** Runs `body` with a fresh network and removes the network afterwards, also when `body` throws. */
export async function withTestNetwork<T>(
  opts: { clients?: number; ipv6?: boolean },
  body: (n: TestNetwork) => Promise<T>,
): Promise<T> {
  const n = await createTestNetwork(opts)
  try {
    return await body(n)
  } finally {
    await n.cleanup()
  }
}

/**
 * Polls `ready` until it is true (for processes starting up: there is no event to wait on but
 * their exit). No deadline of its own: on a loaded machine a start-up takes what it takes (a 30 s
 * bound here fired under load while everything was on its way up). The process's exit ends the
 * wait at once, with its output; the test's own timeout bounds the rest.
 */
export async function until(
  ready: () => Promise<boolean>,
  what: string,
  output?: () => string,
  exits?: ChildProcess,
) {
  const gone = () => exits !== undefined && (exits.exitCode !== null || exits.signalCode !== null)
  for (;;) {
    if (await ready()) return
    if (gone()) throw new Error(`${what} exited before it came up${output ? `:\n${output()}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
