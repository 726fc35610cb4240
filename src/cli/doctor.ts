import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { BlockList, isIPv6 } from 'node:net'
import { Resolver } from 'node:dns/promises'
import { SPECS } from './specs.js'
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from './specs.js'
import { ConfigError, type Config } from '../config.js'
import { DataFileError, type SmsFailureKind } from '../errors.js'
import { closeDb, openDb, readMigrations } from '../db/open.js'
import {
  confDirLoads,
  DNSMASQ_MAIN_FILE,
  expectedCaptiveUrls,
  processStartMs,
  readGuestFile,
  readListeningSockets,
  sameUrl,
  sourcesInFile,
  sourcesOnCommandLine,
} from '../gate/dnsmasq.js'
import { answerAddresses, interfaceAddresses } from '../gate/captive-dns.js'
import { FAILURE_KIND_TEXT } from '../sms/status.js'
import { checkProviderAccount } from '../sms/providers.js'
import type { Fetch } from '../sms/provider-http.js'
import { readConfig } from '../config-file.js'
import { systemClock, type Clock } from '../clock.js'
import type { Db } from '../db/open.js'
import { openConfiguredGate } from '../gate/configured.js'
import { checkRefusal, NFT_SESSION_HELPER, NFT_SESSION_PYTHON } from '../gate/nftables.js'
import {
  inProcessWay,
  openElementReader,
  openNftLibrary,
  setIsMissing,
} from '../gate/nft-library.js'
import { FAMILIES } from '../gate/nft-elements.js'
import { openNeighbourDump } from '../gate/neighbour-dump.js'
import { openTcNetlink } from '../gate/tc-netlink.js'
import { neighbourFeedRefusal } from '../gate/neighbour-monitor.js'
import { createFirewallCheck } from '../observe/firewall-check.js'
import { liveMacsOf } from '../observe/observer.js'
import { readinessOf, type Readiness } from '../observe/readiness.js'
import { createStateReader } from '../observe/state.js'
import { BUILD } from '../version.js'

/** One thing doctor looked at: fine, or what is wrong and how to fix it. */
export interface Finding {
  check: string
  ok: boolean
  detail: string
  /** What to do about it (failures only). */
  fix?: string
}

/** The outside world doctor looks at, handed in so tests can stage any machine. */
export interface DoctorProbes {
  run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  readFile(file: string): Promise<string>
  /** When a file was last changed (epoch ms); rejects when it is missing. */
  mtimeMs(file: string): Promise<number>
  /** Any HTTP answer (even 4xx) means reachable; rejects on network errors and timeouts. */
  reach(url: string): Promise<number>
  /** For the SMS providers' authenticated read-only calls. */
  fetch: Fetch
  openDb(file: string): { version: number; quickCheck: string }
  /** The A records a DNS server at address:port gives for a name; rejects with the resolver's code (ETIMEOUT, ECONNREFUSED, ENOTFOUND...). */
  dns(server: string, port: number, name: string): Promise<string[]>
  /**
   * When libnftables can be called in this process (the service's way): why a login's element
   * changes cannot go straight to the kernel through libnftnl, null when they can. Else why not.
   */
  nftLibrary(): string | { elementsVia: string | null }
  /**
   * Whether the presence sweep and the neighbour watch can read the kernel in the service's
   * process (netlink dumps, and the neighbour changes' group): null when they can, else why not.
   * `guestInterface`: whose neighbours the sweep reads.
   */
  kernelReads(guestInterface: string): string | null
  /**
   * Whether each device's tc classes can be sent on a netlink socket of the service's process
   * (src/gate/tc-netlink.ts): null when they can, else why they go through tc.
   */
  tcNetlink(): string | null
}

export const systemProbes: DoctorProbes = {
  run: (file, args) =>
    new Promise((resolve) => {
      execFile(file, args, { timeout: 5000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 127) : 0
        resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') })
      })
    }),
  readFile: (file) => readFile(file, 'utf8'),
  nftLibrary() {
    const lib = openNftLibrary({ netns: null })
    if (typeof lib === 'string') return lib
    lib.close()
    return { elementsVia: lib.elementsVia ?? null }
  },
  tcNetlink() {
    const socket = openTcNetlink()
    if (typeof socket === 'string') return socket
    socket.close()
    return null
  },
  kernelReads(guestInterface) {
    const dump = openNeighbourDump()
    if (typeof dump === 'string') return dump
    try {
      const why = dump.read(guestInterface, Date.now(), { macs: [], ats: [] })
      if (why !== null) return why
    } finally {
      dump.close()
    }
    // The neighbour watch's feed of the table's changes: a socket joined to their group.
    const feed = neighbourFeedRefusal()
    if (feed !== null) return feed
    const reader = openElementReader({ netns: null })
    if (typeof reader === 'string') return reader
    try {
      // The map `up` (the sweep's counters); a table not there is the nft check's finding.
      const read = reader.elements(FAMILIES.inet!, 'branchgate', 'up')
      return typeof read === 'string' && !setIsMissing(read) ? read : null
    } finally {
      reader.close()
    }
  },
  mtimeMs: async (file) => (await stat(file)).mtimeMs,
  fetch: (input, init) => fetch(input, init),
  async reach(url) {
    const res = await fetch(url, {
      method: 'HEAD',
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    })
    return res.status
  },
  async dns(server, port, name) {
    const r = new Resolver({ timeout: 2000, tries: 1 })
    r.setServers([server.includes(':') ? `[${server}]:${port}` : `${server}:${port}`])
    return r.resolve4(name)
  },
  openDb(file) {
    if (!existsSync(file)) throw new Error('it does not exist yet (branchgate serve creates it)')
    const db = openDb(file)
    try {
      const version = db.pragma('user_version', { simple: true }) as number
      const quickCheck = String(db.pragma('quick_check', { simple: true }))
      return { version, quickCheck }
    } finally {
      closeDb(db)
    }
  },
}

/** Every check for this config: nft, the guest interface, forwarding, dnsmasq, the DB, SMS. */
export async function diagnose(config: Config, probes: DoctorProbes): Promise<Finding[]> {
  const out: Finding[] = []
  const gate = config.gate
  if (gate.backend === 'dry-run') {
    out.push({
      check: 'gate',
      ok: false,
      detail: 'dry-run: nobody is really let through (demo)',
      fix: 'set gate.backend to "nftables" with gate.guestInterface in the config file',
    })
  } else {
    const version = await probes.run(gate.nftPath, ['--version'])
    if (version.code !== 0) {
      out.push({
        check: 'nft',
        ok: false,
        detail: `cannot run ${gate.nftPath}: ${(version.stderr || `exit ${version.code}`).trim()}`,
        fix: 'apt-get install nftables',
      })
    } else {
      const table = await probes.run(gate.nftPath, ['list', 'table', 'inet', 'branchgate'])
      const denied = /Operation not permitted|Permission denied/i.test(table.stderr)
      out.push(
        table.code === 0
          ? {
              check: 'nft',
              ok: true,
              detail: `${version.stdout.trim()}; table inet branchgate loaded`,
            }
          : denied
            ? {
                check: 'nft',
                ok: false,
                detail: `${version.stdout.trim()}, but not allowed to read the firewall`,
                fix: 'run doctor as root (sudo -u branchgate lacks CAP_NET_ADMIN outside the service)',
              }
            : {
                check: 'nft',
                ok: false,
                detail: `${version.stdout.trim()}; table inet branchgate is not loaded`,
                fix: 'start the service: systemctl start branchgate (it installs the table)',
              },
      )
    }
    // What makes each login's change (issue 20): libnftables in the service's process, through
    // the helper, or nft -i. Without the library the gate still works through nft -i: not a
    // failure, but worth a line on a fleet's dashboard.
    // undefined: not asked (the config names another way); null: it loads; else why not.
    const inProcess = gate.nftSession === 'auto' ? probes.nftLibrary() : undefined
    if (gate.nftSession === 'nft') {
      out.push({ check: 'nft session', ok: true, detail: 'nft -i (gate.nftSession is "nft")' })
    } else if (inProcess !== undefined && typeof inProcess !== 'string') {
      out.push({
        check: 'nft session',
        ok: true,
        detail: inProcessWay(inProcess.elementsVia),
      })
    } else {
      const lib = await probes.run(NFT_SESSION_PYTHON, [NFT_SESSION_HELPER, '--check'])
      out.push({
        check: 'nft session',
        ok: true,
        detail:
          (lib.code === 0
            ? 'libnftables (python3-nftables)'
            : `nft -i, about twice the CPU per login: libnftables cannot be used (${checkRefusal(lib.stderr, `exit ${lib.code}`)}); apt-get install python3-nftables`) +
          (inProcess ? ` (in the service's process: ${inProcess})` : ''),
      })
    }
    // How the presence sweep reads the neighbour table and the counters (issue 20): netlink dumps
    // in the service's process, else `ip` and `nft -j` (it works either way).
    const reads = probes.kernelReads(gate.guestInterface)
    out.push({
      check: 'presence',
      ok: true,
      detail:
        reads === null
          ? "the neighbour table, its changes and the firewall's counters read in the service's process (netlink)"
          : `the neighbour table through ip and the counters through nft -j: ${reads}`,
    })
    // How each let-through device's tc classes (its rates) are made (issue 20): on a netlink
    // socket of the service's own, else through the tc session (it works either way).
    const tc = probes.tcNetlink()
    out.push({
      check: 'rates',
      ok: true,
      detail:
        tc === null
          ? "each device's tc classes on a netlink socket of the service's own (the trees at start through tc)"
          : `each device's tc classes through tc -batch: ${tc}`,
    })
    const iface = gate.guestInterface
    try {
      const state = (await probes.readFile(`/sys/class/net/${iface}/operstate`)).trim()
      out.push(
        state === 'up' || state === 'unknown'
          ? { check: 'guest interface', ok: true, detail: `${iface} is ${state}` }
          : {
              check: 'guest interface',
              ok: false,
              detail: `${iface} is ${state}`,
              fix: `ip link set ${iface} up, and check its cable or access point`,
            },
      )
    } catch {
      out.push({
        check: 'guest interface',
        ok: false,
        detail: `${iface} does not exist`,
        fix: 'set gate.guestInterface to one of the names `ip -br link` lists',
      })
    }
    try {
      const fwd = (await probes.readFile('/proc/sys/net/ipv4/ip_forward')).trim()
      out.push(
        fwd === '1'
          ? { check: 'IP forwarding', ok: true, detail: 'on' }
          : {
              check: 'IP forwarding',
              ok: false,
              detail: 'off: guests cannot reach the internet',
              fix: 'sysctl -w net.ipv4.ip_forward=1 and keep it in /etc/sysctl.d/90-branchgate.conf (deploy/install.sh does both)',
            },
      )
    } catch (err) {
      out.push({
        check: 'IP forwarding',
        ok: false,
        detail: `cannot read it: ${(err as Error).message}`,
        fix: 'is this Linux?',
      })
    }
    // IPv6 guests (gate.ipv6): the prefix on the guest port, forwarding, a way out.
    if (gate.ipv6) out.push(await checkIpv6(gate, gate.ipv6, probes))
    out.push(...(await checkDnsmasq(config, gate.guestInterface, gate.dnsmasqConfFile, probes)))
    const captive = await checkCaptiveDns(gate, probes)
    out.push(captive)
    if (captive.ok) out.push(...(await checkGarden(gate, probes)))
  }

  const dbFile = path.join(path.resolve(config.dataDir), 'branchgate.db')
  try {
    const latest = Math.max(0, ...readMigrations().map((m) => m.version))
    const db = probes.openDb(dbFile)
    out.push(
      db.quickCheck === 'ok' && db.version === latest
        ? { check: 'database', ok: true, detail: `${dbFile}, schema ${db.version}` }
        : {
            check: 'database',
            ok: false,
            detail: `${dbFile}: schema ${db.version} of ${latest}, integrity ${db.quickCheck}`,
            fix: 'restore the database from a backup, or move it aside to start empty',
          },
    )
  } catch (err) {
    out.push(
      // A damaged or misplaced file: its sentence already says what to do.
      err instanceof DataFileError
        ? { check: 'database', ok: false, detail: err.message }
        : {
            check: 'database',
            ok: false,
            detail: `cannot open ${dbFile}: ${(err as Error).message}`,
            fix: `make ${path.dirname(dbFile)} writable by the branchgate user (install.sh creates /var/lib/branchgate)`,
          },
    )
  }

  for (const p of config.sms.providers) {
    if (p.type === 'console') {
      out.push({
        check: 'sms console',
        ok: config.gate.backend === 'dry-run',
        detail: 'codes are only printed to the log; guests never receive them',
        fix: 'add a real provider (http, twilio, infobip, whatsapp) under sms.providers',
      })
      continue
    }
    const url = p.type === 'http' ? p.url : p.baseUrl
    const check = `sms ${p.type === 'http' ? '' : `${p.type} `}${new URL(url).host}`
    // The providers with a read-only authenticated call are checked with it: a wrong token must
    // show here, not only as failover to the backup provider.
    const account = await checkProviderAccount(p, probes.fetch)
    if (account) {
      out.push(
        account.ok
          ? { check, ok: true, detail: account.detail }
          : {
              check,
              ok: false,
              detail: `${FAILURE_KIND_TEXT[account.kind]}: ${account.detail}`,
              fix: ACCOUNT_FIX[account.kind](p.type),
            },
      )
      continue
    }
    try {
      const status = await probes.reach(url)
      out.push({
        check,
        ok: true,
        detail: `reachable (HTTP ${status})`,
      })
    } catch (err) {
      const e = err as Error
      out.push({
        check,
        ok: false,
        detail: `unreachable: ${e.name === 'TimeoutError' ? 'no answer within 5 s' : ((e.cause as Error)?.message ?? e.message)}`,
        fix: 'check the uplink, DNS and the provider URL in sms.providers',
      })
    }
  }
  return out
}

/**
 * The captive resolver (the DNS of guests not let through): it answers on the guest interface's
 * address at gate.captiveDns.port, and an outside name gets the gateway's own address, i.e. it
 * was answered locally and not forwarded (a forwarded name would be a DNS tunnel).
 */
async function checkCaptiveDns(
  gate: Extract<Config['gate'], { backend: 'nftables' }>,
  probes: DoctorProbes,
): Promise<Finding> {
  const check = 'captive resolver'
  const port = gate.captiveDns.port
  const ip = await probes.run('ip', ['-j', 'addr', 'show', 'dev', gate.guestInterface])
  const [gateway] = answerAddresses(ip.code === 0 ? interfaceAddresses(ip.stdout) : [])
  if (!gateway) {
    return {
      check,
      ok: false,
      detail: `${gate.guestInterface} has no address, so the captive resolver has none to answer on`,
      fix: `give ${gate.guestInterface} its address (deploy/install.sh --address), then systemctl restart branchgate`,
    }
  }
  // A name under a real top-level domain that nobody has: only a resolver that forwards it could know.
  const name = `branchgate-doctor-${randomBytes(6).toString('hex')}.example.com`
  const at = `${gateway.includes(':') ? `[${gateway}]` : gateway}:${port}`
  try {
    const answers = await probes.dns(gateway, port, name)
    if (answers.length === 1 && answers[0] === gateway) {
      return {
        check,
        ok: true,
        detail: `answers on ${at}; an outside name (${name}) gets the portal's address, nothing is forwarded`,
      }
    }
    return {
      check,
      ok: false,
      detail: `${at} resolved the outside name ${name} to ${answers.join(', ') || 'nothing'}: guests not let through can reach the internet through DNS`,
      fix: `see which program listens there (ss -lnup 'sport = :${port}'): it must be branchgate's own dnsmasq; stop the other one or change gate.captiveDns.port, then systemctl restart branchgate`,
    }
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message
    if (code === 'ENOTFOUND') {
      // NXDOMAIN from the resolver: not forwarded either, but not what branchgate's would say.
      return {
        check,
        ok: false,
        detail: `${at} says ${name} does not exist: that is not branchgate's captive resolver, which answers every name with the portal's address (phones may not open the login sheet)`,
        fix: `see which program listens there (ss -lnup 'sport = :${port}'), then systemctl restart branchgate`,
      }
    }
    return {
      check,
      ok: false,
      detail: `no answer on ${at} (${code}): guests not let through get no DNS, and their phones may not open the login sheet`,
      fix: `look at journalctl -u branchgate for "captive dns" lines (is dnsmasq installed at gate.captiveDns.dnsmasqPath?), then systemctl restart branchgate`,
    }
  }
}

/**
 * IPv6 for guests as the kernel has it: an address of gate.ipv6.prefix on the guest interface
 * (what dnsmasq announces and the captive resolver answers AAAA with), IPv6 forwarding on, and,
 * when the gateway does the uplink's NAT66, a default IPv6 route (from the branch router).
 */
async function checkIpv6(
  gate: Extract<Config['gate'], { backend: 'nftables' }>,
  ipv6: NonNullable<Extract<Config['gate'], { backend: 'nftables' }>['ipv6']>,
  probes: DoctorProbes,
): Promise<Finding> {
  const check = 'IPv6'
  const [net = '', bits = '64'] = ipv6.prefix.split('/')
  const prefix = new BlockList()
  prefix.addSubnet(net, Number(bits), 'ipv6')
  const ip = await probes.run('ip', ['-j', 'addr', 'show', 'dev', gate.guestInterface])
  const own = (ip.code === 0 ? interfaceAddresses(ip.stdout) : []).filter(
    (a) => isIPv6(a) && prefix.check(a, 'ipv6'),
  )
  if (own.length === 0)
    return {
      check,
      ok: false,
      detail: `${gate.guestInterface} has no address in gate.ipv6.prefix ${ipv6.prefix}: phones get no IPv6 address from the gateway`,
      fix: `ip -6 addr add ${net.replace(/::$/, '::1')}/64 dev ${gate.guestInterface}, and keep it in the interface's configuration (deploy/install.sh --ipv6-prefix does both)`,
    }
  const fwd = await probes
    .readFile('/proc/sys/net/ipv6/conf/all/forwarding')
    .then((v) => v.trim())
    .catch(() => '?')
  if (fwd !== '1')
    return {
      check,
      ok: false,
      detail: 'IPv6 forwarding is off: IPv6 guests cannot reach the internet',
      fix: 'sysctl -w net.ipv6.conf.all.forwarding=1 and keep it in /etc/sysctl.d/90-branchgate.conf (deploy/install.sh does both)',
    }
  const detail = `${own[0]} on ${gate.guestInterface} (${ipv6.prefix}), forwarding on`
  if (ipv6.uplink !== 'nat' || !gate.uplinkInterface)
    return { check, ok: true, detail: `${detail}; the prefix is routed to this gateway` }
  const route = await probes.run('ip', ['-j', '-6', 'route', 'show', 'default'])
  let routes: Array<{ dev?: string }> = []
  try {
    routes = route.code === 0 ? (JSON.parse(route.stdout || '[]') as typeof routes) : []
  } catch {
    routes = []
  }
  return routes.some((r) => r.dev === gate.uplinkInterface)
    ? { check, ok: true, detail: `${detail}, NAT66 on ${gate.uplinkInterface}` }
    : {
        check,
        ok: false,
        detail: `${detail}, but ${gate.uplinkInterface} has no default IPv6 route: IPv6 guests cannot reach the internet`,
        fix: `check that the branch router sends router advertisements on ${gate.uplinkInterface} and that net.ipv6.conf.${gate.uplinkInterface}.accept_ra is 2 (deploy/install.sh sets it); or set gate.ipv6 to null for IPv4-only guests`,
      }
}

/**
 * The walled garden's names as guests meet them: each one asked of the captive resolver (whose
 * answer also puts its addresses into the firewall), then reached over HTTPS or HTTP from here.
 * A wildcard has no address of its own: guests' answers fill it, so doctor shows how many
 * addresses the names have in the firewall now.
 */
async function checkGarden(
  gate: Extract<Config['gate'], { backend: 'nftables' }>,
  probes: DoctorProbes,
): Promise<Finding[]> {
  if (gate.walledGarden.hosts.length === 0) return []
  const ip = await probes.run('ip', ['-j', 'addr', 'show', 'dev', gate.guestInterface])
  const [gateway] = answerAddresses(ip.code === 0 ? interfaceAddresses(ip.stdout) : [])
  if (!gateway) return []
  const out: Finding[] = []
  for (const host of gate.walledGarden.hosts) {
    const check = `walled garden ${host}`
    if (host.startsWith('*.')) {
      const inFirewall = await gardenAddressCount(gate.nftPath, probes)
      out.push({
        check,
        ok: true,
        detail: `a wildcard: its names open as guests resolve them (${inFirewall} address(es) from the garden's names in the firewall now)`,
      })
      continue
    }
    const addresses: string[] = await probes
      .dns(gateway, gate.captiveDns.port, host)
      .catch(() => [])
    if (addresses.length === 0 || addresses.includes(gateway)) {
      out.push({
        check,
        ok: false,
        detail: 'does not resolve through the captive resolver: guests cannot open it before login',
        fix: `check the name, and that the gateway's dnsmasq resolves it (dig @${gateway} ${host})`,
      })
      continue
    }
    let answer: string | null = null
    for (const url of [`https://${host}/`, `http://${host}/`]) {
      try {
        answer = `${url.split(':')[0]!.toUpperCase()} ${await probes.reach(url)}`
        break
      } catch {
        // try the next scheme
      }
    }
    out.push(
      answer
        ? { check, ok: true, detail: `${addresses.join(', ')}; answers (${answer})` }
        : {
            check,
            ok: false,
            detail: `${addresses.join(', ')}, but it answers neither HTTPS nor HTTP from here`,
            fix: 'check the host name in gate.walledGarden.hosts, and the uplink',
          },
    )
  }
  return out
}

/** How many addresses the captive resolver has put in the garden's sets (garden_dns4 and 6). */
async function gardenAddressCount(nftPath: string, probes: DoctorProbes): Promise<number> {
  let n = 0
  for (const set of ['garden_dns4', 'garden_dns6']) {
    const r = await probes.run(nftPath, ['-j', 'list', 'set', 'inet', 'branchgate', set])
    if (r.code !== 0) continue
    try {
      const doc = JSON.parse(r.stdout) as { nftables?: Array<{ set?: { elem?: unknown[] } }> }
      n += doc.nftables?.find((x) => x.set)?.set?.elem?.length ?? 0
    } catch {
      // unreadable: counted as none
    }
  }
  return n
}

/** The keys of each provider type that hold its credentials. */
const CREDENTIAL_KEYS: Record<string, string> = {
  twilio: 'accountSid and authToken (or apiKeySid and apiKeySecret)',
  infobip: 'apiKey and baseUrl (your account’s own API URL)',
  whatsapp: 'accessToken and phoneNumberId',
}

/** What to do about a failed credential check, by kind. */
const ACCOUNT_FIX: Record<SmsFailureKind, (type: string) => string> = {
  credentials: (type) =>
    `set the right ${CREDENTIAL_KEYS[type] ?? 'credentials'} of this provider in sms.providers, then restart branchgate`,
  noCredit: () => 'top up the provider account, or ask the provider why it is suspended',
  senderRefused: () => 'ask the provider which sender and routes the account may use',
  rejected: () => 'check this provider in sms.providers against the provider answer above',
  rateLimited: () => 'wait a minute and run doctor again; ask the provider for a higher limit',
  timeout: () => 'check the uplink, DNS and the provider URL in sms.providers',
  unavailable: () => 'check the uplink, DNS and the provider URL in sms.providers',
}

/**
 * dnsmasq for the guests: branchgate's own file says DHCP on the guest interface with option
 * 114 at publicUrl's Captive Portal API, and a running dnsmasq has loaded that file (from its
 * command line, its main file or a conf-dir) since it last changed, and answers DHCP and DNS on
 * the guest interface. `pidof dnsmasq` alone would count any dnsmasq on the machine (libvirt's,
 * NetworkManager's).
 */
async function checkDnsmasq(
  config: Config,
  guest: string,
  file: string,
  probes: DoctorProbes,
): Promise<Finding[]> {
  const out: Finding[] = []
  const restart = 'then systemctl restart dnsmasq'
  let text: string
  try {
    text = await probes.readFile(file)
  } catch {
    return [
      {
        check: 'dnsmasq config',
        ok: false,
        detail: `${file} does not exist: guests get no address from branchgate's dnsmasq settings`,
        fix: `run deploy/install.sh (it writes ${file}), or set gate.dnsmasqConfFile to your file`,
      },
    ]
  }
  const guestFile = readGuestFile(text, guest)
  const expected = expectedCaptiveUrls(config)
  if (!guestFile.interfaces.includes(guest)) {
    out.push({
      check: 'dnsmasq config',
      ok: false,
      detail: `${file} serves ${guestFile.interfaces.join(', ') || 'no interface'}, not the guest interface ${guest}`,
      fix: `set interface=${guest} in ${file} (deploy/install.sh --guest ${guest} writes it), ${restart}`,
    })
  } else if (guestFile.captiveUrl === null) {
    out.push({
      check: 'dnsmasq config',
      ok: false,
      detail: `${file} hands out no DHCP option 114 on ${guest}: phones must guess they are captive`,
      fix: `add dhcp-option=${guest},114,"${expected[0]}" to ${file}, ${restart}`,
    })
  } else if (!expected.some((u) => sameUrl(u, guestFile.captiveUrl!))) {
    out.push({
      check: 'dnsmasq config',
      ok: false,
      detail: `option 114 in ${file} is "${guestFile.captiveUrl}", but publicUrl puts the Captive Portal API at ${expected.join(' or ')}`,
      fix: `set dhcp-option=${guest},114,"${expected.at(-1)}" in ${file} (or correct publicUrl), ${restart}`,
    })
  } else {
    out.push({
      check: 'dnsmasq config',
      ok: true,
      detail: `${file}: DHCP on ${guest}, option 114 ${guestFile.captiveUrl}`,
    })
  }

  const pidof = await probes.run('pidof', ['dnsmasq'])
  const pids = pidof.code === 0 ? pidof.stdout.trim().split(/\s+/).filter(Boolean) : []
  if (pids.length === 0) {
    out.push({
      check: 'dnsmasq',
      ok: false,
      detail: 'not running: guests get no address (DHCP) and no DNS',
      fix: `systemctl enable --now dnsmasq (deploy/install.sh writes ${file})`,
    })
    return out
  }
  const seen: string[] = []
  let loader: string | null = null
  for (const pid of pids) {
    const sources = await dnsmasqSources(pid, probes)
    if (!sources) continue
    const same = (f: string) => path.resolve(f) === path.resolve(file)
    if (sources.files.some(same) || sources.dirs.some((d) => confDirLoads(d, file))) {
      loader = pid
      break
    }
    seen.push(`pid ${pid} reads ${[...sources.files, ...sources.dirs].join(', ') || 'nothing'}`)
  }
  if (loader === null) {
    out.push({
      check: 'dnsmasq',
      ok: false,
      detail: `running, but no dnsmasq has loaded ${file} (${seen.join('; ')}): guests get no address or no option 114 from it`,
      fix: `let the system's dnsmasq read ${path.dirname(file)} (Debian passes -7 /etc/dnsmasq.d; else conf-dir=${path.dirname(file)}/,*.conf in ${DNSMASQ_MAIN_FILE}), ${restart}`,
    })
    return out
  }
  const started = processStartMs(
    await probes.readFile(`/proc/${loader}/stat`).catch(() => ''),
    await probes.readFile('/proc/stat').catch(() => ''),
  )
  const changed = await probes.mtimeMs(file).catch(() => null)
  // btime has a one-second grain: only a change clearly after the start counts.
  if (started !== null && changed !== null && changed > started + 2000) {
    out.push({
      check: 'dnsmasq',
      ok: false,
      detail: `pid ${loader} started before ${file} was last changed: it serves the old settings`,
      fix: 'systemctl restart dnsmasq',
    })
    return out
  }
  out.push(await dnsmasqServes(Number(loader), guest, file, probes))
  return out
}

/** The files and conf-dirs a running dnsmasq reads; null when it is gone. */
async function dnsmasqSources(
  pid: string,
  probes: DoctorProbes,
): Promise<{ files: string[]; dirs: string[] } | null> {
  let cmdline: string
  try {
    cmdline = await probes.readFile(`/proc/${pid}/cmdline`)
  } catch {
    return null
  }
  const onLine = sourcesOnCommandLine(cmdline)
  const main = onLine.main ?? DNSMASQ_MAIN_FILE
  const inMain = sourcesInFile(await probes.readFile(main).catch(() => ''))
  return { files: [main, ...inMain.files], dirs: [...onLine.dirs, ...inMain.dirs] }
}

/** Whether dnsmasq `pid` answers DHCP (udp 67) and DNS (53) on the guest interface. */
async function dnsmasqServes(
  pid: number,
  guest: string,
  file: string,
  probes: DoctorProbes,
): Promise<Finding> {
  const check = 'dnsmasq'
  const ss = await probes.run('ss', ['-H', '-l', '-n', '-u', '-p'])
  const ip = await probes.run('ip', ['-j', '-4', 'addr', 'show', 'dev', guest])
  if (ss.code !== 0) {
    return {
      check,
      ok: false,
      detail: `pid ${pid} has loaded ${file}, but its sockets cannot be listed: ${(ss.stderr || `ss exit ${ss.code}`).trim()}`,
      fix: 'apt-get install iproute2, and run doctor as root',
    }
  }
  const sockets = readListeningSockets(ss.stdout).filter((s) => s.pid === pid)
  if (sockets.length === 0 && !ss.stdout.includes('pid=')) {
    return {
      check,
      ok: false,
      detail: `pid ${pid} has loaded ${file}, but whose sockets these are is hidden`,
      fix: 'run doctor as root',
    }
  }
  let addresses: string[] = []
  try {
    const parsed = JSON.parse(ip.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>
    addresses = parsed.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? ''))
  } catch {
    // no address to match: DNS only counts on a wildcard socket
  }
  const onGuest = (s: { device: string | null }) => s.device === null || s.device === guest
  const dhcp = sockets.some((s) => s.port === 67 && onGuest(s))
  const dns = sockets.some(
    (s) =>
      s.port === 53 &&
      onGuest(s) &&
      (s.device === guest ||
        ['0.0.0.0', '*', '::'].includes(s.address) ||
        addresses.includes(s.address)),
  )
  if (!dhcp || !dns) {
    const missing = [!dhcp && 'DHCP (udp 67)', !dns && `DNS (port 53 on ${addresses[0] ?? guest})`]
      .filter(Boolean)
      .join(' nor ')
    return {
      check,
      ok: false,
      detail: `pid ${pid} has loaded ${file}, but answers no ${missing} on ${guest}`,
      fix: `give ${guest} its address, look at journalctl -u dnsmasq (another DHCP server on port 67?), then systemctl restart dnsmasq`,
    }
  }
  return {
    check,
    ok: true,
    detail: `pid ${pid} has loaded ${file} and answers DHCP and DNS on ${guest}${addresses[0] ? ` (${addresses[0]})` : ''}`,
  }
}

export function formatFindings(findings: readonly Finding[]): string[] {
  const lines: string[] = []
  for (const f of findings) {
    lines.push(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.check}: ${f.detail}`)
    if (!f.ok && f.fix) lines.push(`      fix: ${f.fix}`)
  }
  const failed = findings.filter((f) => !f.ok).length
  lines.push(failed ? `${failed} problem(s) found` : 'everything looks right')
  return lines
}

/**
 * What `branchgate doctor --json` prints for fleet automation: the same findings as the text,
 * and the readiness of the branch from its database (what the admin side's /readyz says).
 */
export interface DoctorReport {
  ok: boolean
  branch: string | null
  version: string
  /** The git commit of the build (fleet tools such as the Ansible role show it). */
  commit: string
  findings: Finding[]
  /** null when the database cannot be read (a finding says why). */
  readiness: Readiness | null
}

/**
 * The branch's readiness read from its database, as /readyz reads it in the service; the
 * firewall's set compared with the database when the gate is nftables.
 */
export async function readinessFromDatabase(
  config: Config,
  opts: { clock?: Clock; readSet?: boolean } = {},
): Promise<Readiness | null> {
  const clock = opts.clock ?? systemClock
  const dbFile = path.join(path.resolve(config.dataDir), 'branchgate.db')
  if (!existsSync(dbFile)) return null
  let db: Db
  try {
    db = openDb(dbFile)
  } catch {
    return null
  }
  const handle =
    config.gate.backend === 'nftables' && opts.readSet !== false
      ? await openConfiguredGate(config, { clock, log: () => {}, role: 'command' }).catch(
          () => null,
        )
      : null
  try {
    const firewall = createFirewallCheck({
      gate: handle?.gate ?? { list: () => Promise.reject(new Error('cannot open the firewall')) },
      liveMacs: liveMacsOf(db),
    })
    if (config.gate.backend === 'nftables' && opts.readSet !== false)
      await firewall.run(clock.now())
    const state = createStateReader({ db, config, clock, dbFile, firewall })
    let reading: ReturnType<typeof state.read> | { error: string }
    try {
      reading = state.read()
    } catch (err) {
      reading = { error: (err as Error).message }
    }
    return readinessOf(config, reading, clock.now())
  } finally {
    handle?.stop()
    closeDb(db)
  }
}

/** `branchgate doctor`: checks what a gateway needs and prints what to fix for each failure. */
export const doctorCommand: Command = {
  ...SPECS.doctor,
  async run(argv, env, out = console.log) {
    const json = argv.includes('--json')
    let config: Config
    try {
      config = readConfig(argv, env).config
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      if (json) {
        const report: DoctorReport = {
          ok: false,
          branch: null,
          version: BUILD.version,
          commit: BUILD.commit,
          findings: [{ check: 'config', ok: false, detail: err.message }],
          readiness: null,
        }
        out(JSON.stringify(report, null, 2))
      } else out(`FAIL  config: ${err.message}`)
      return 2
    }
    const findings = await diagnose(config, systemProbes)
    const ok = findings.every((f) => f.ok)
    if (json) {
      const report: DoctorReport = {
        ok,
        branch: config.branch.id,
        version: BUILD.version,
        commit: BUILD.commit,
        findings,
        readiness: await readinessFromDatabase(config),
      }
      out(JSON.stringify(report, null, 2))
    } else for (const line of formatFindings(findings)) out(line)
    return ok ? 0 : 1
  },
}
