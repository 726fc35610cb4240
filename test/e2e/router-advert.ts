/**
 * A router advertisement as a phone receives it (issue 16, RFC 8910): tcpdump on the phone's
 * interface keeps the first RA, rdisc6 asks for one (a router solicitation, as a phone sends
 * when it joins), and the capture is read here byte by byte: the flags, the router lifetime, the
 * prefixes (SLAAC), the DNS servers (RDNSS) and the Captive Portal API URI (option 37).
 */
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'

export interface RouterAdvert {
  /** The O flag: other configuration by DHCPv6. */
  otherConfig: boolean
  routerLifetime: number
  /** Prefix information options with the A flag (SLAAC), as "prefix/length". */
  slaacPrefixes: string[]
  /** RDNSS addresses (RFC 8106). */
  dns: string[]
  /** RFC 8910's option 37, NUL padding removed; null when the RA has none. */
  captivePortal: string | null
  /** Every option's type, in order. */
  optionTypes: number[]
}

/** radvd that can send option 37 (2.20 or later), tcpdump and rdisc6; else why not. */
export function routerAdvertSkipReason(): string | null {
  const version = spawnSync('radvd', ['--version'], { encoding: 'utf8' })
  // radvd prints its version on stderr.
  const v = /Version:\s*(\d+)\.(\d+)/.exec(`${version.stdout ?? ''}${version.stderr ?? ''}`)
  if (!v) return 'radvd is not installed (deploy/install-radvd.sh)'
  if (Number(v[1]) < 2 || (Number(v[1]) === 2 && Number(v[2]) < 20))
    return `radvd ${v[1]}.${v[2]} cannot send option 37 (2.20 or later: deploy/install-radvd.sh)`
  for (const [tool, pkg] of [
    ['tcpdump', 'tcpdump'],
    ['rdisc6', 'ndisc6'],
  ] as const)
    if (spawnSync('sh', ['-c', 'command -v "$0"', tool]).status !== 0)
      return `${tool} is not installed (apt-get install ${pkg})`
  return null
}

/** 16 bytes as the canonical text of an IPv6 address (WHATWG URL compresses it as RFC 5952 does). */
const ipv6 = (b: Buffer) =>
  new URL(
    `http://[${Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':')}]/`,
  ).hostname.slice(1, -1)

/** The first ICMPv6 router advertisement of a pcap file (Ethernet frames); null if none. */
export function parseRouterAdvert(pcap: Buffer): RouterAdvert | null {
  const magic = pcap.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const u32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o))
  if (u32(20) !== 1) throw new Error(`not an Ethernet capture (link type ${u32(20)})`)
  for (let at = 24; at + 16 <= pcap.length;) {
    const len = u32(at + 8)
    const frame = pcap.subarray(at + 16, at + 16 + len)
    at += 16 + len
    if (frame.length < 14 + 40 + 16 || frame.readUInt16BE(12) !== 0x86dd) continue
    const ip = frame.subarray(14)
    if (ip[6] !== 58) continue // next header: ICMPv6 (an RA carries no extension header)
    const icmp = ip.subarray(40, 40 + ip.readUInt16BE(4))
    if (icmp[0] !== 134) continue
    const ra: RouterAdvert = {
      otherConfig: (icmp[5]! & 0x40) !== 0,
      routerLifetime: icmp.readUInt16BE(6),
      slaacPrefixes: [],
      dns: [],
      captivePortal: null,
      optionTypes: [],
    }
    for (let o = 16; o + 2 <= icmp.length;) {
      const type = icmp[o]!
      const size = icmp[o + 1]! * 8
      if (size === 0 || o + size > icmp.length) throw new Error('malformed RA option')
      const body = icmp.subarray(o, o + size)
      ra.optionTypes.push(type)
      if (type === 3 && (body[3]! & 0x40) !== 0)
        ra.slaacPrefixes.push(`${ipv6(body.subarray(16, 32))}/${body[2]}`)
      if (type === 25)
        for (let d = 8; d + 16 <= size; d += 16) ra.dns.push(ipv6(body.subarray(d, d + 16)))
      if (type === 37) ra.captivePortal = body.subarray(2).toString('utf8').replace(/\0+$/, '')
      o += size
    }
    return ra
  }
  return null
}

/**
 * The router advertisement the phone in namespace `ns` gets when it asks for one: tcpdump keeps
 * the first RA on eth0, rdisc6 sends the solicitation once tcpdump listens.
 */
export async function solicitRouterAdvert(ns: string, dir: string): Promise<RouterAdvert | null> {
  const file = path.join(dir, `ra-${ns}.pcap`)
  const dump = spawn(
    'ip',
    [
      ...['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '-U', '-c', '1', '-w', file],
      ...['icmp6 and ip6[40] == 134'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let err = ''
  const exited = new Promise<void>((resolve) => dump.once('exit', () => resolve()))
  // tcpdump says "listening on eth0" once its filter is in place: no RA can be missed after.
  await new Promise<void>((resolve, reject) => {
    dump.stderr!.on('data', (d) => {
      err += d
      if (err.includes('listening on')) resolve()
    })
    dump.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)))
  })
  // One solicitation, and rdisc6 waits for the answer (3 tries, 1 s apart). When none came,
  // tcpdump is stopped and the capture is empty.
  const asked = spawnSync('ip', ['netns', 'exec', ns, 'rdisc6', '-1', 'eth0'], { encoding: 'utf8' })
  if (asked.status !== 0) dump.kill('SIGTERM')
  await exited
  return parseRouterAdvert(readFileSync(file))
}
