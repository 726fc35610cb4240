import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { BlockList, isIP } from 'node:net'
import { parseMac, type Mac } from '../mac.js'

/** The kernel's neighbour table, as the one question the portal asks of it. */
export interface NeighbourTable {
  /** The MAC of the host with this IP on a directly attached network, or null if unknown. */
  macFor(ip: string): Promise<Mac | null>
}

export type RunCommand = (file: string, args: string[]) => Promise<string>

const runCommand: RunCommand = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 2000, maxBuffer: 1 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })

/** Strips the IPv4-mapped IPv6 prefix Node reports for IPv4 clients on a dual-stack socket. */
export function plainIp(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return v4 ? v4[1]! : address
}

const UNUSABLE_STATES = new Set(['FAILED', 'INCOMPLETE', 'NOARP'])

/**
 * Source addresses that never name one guest: unspecified, loopback, link-local (the same fe80::
 * address can sit on the uplink too, so its neighbour entry could be the branch router's),
 * multicast and broadcast. A request from one is nobody's device.
 */
const NOT_A_GUEST = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_A_GUEST.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_A_GUEST.addSubnet(net, bits, 'ipv6')

/** Whether a client address can be a guest's own (unicast, not link-local, not loopback). */
export function isGuestAddress(ip: string): boolean {
  const family = isIP(ip)
  if (family === 0) return false
  return !NOT_A_GUEST.check(ip, family === 4 ? 'ipv4' : 'ipv6')
}

/** The rows of `ip -j neigh` output; garbage reads as no rows. */
export function neighbourRows(stdout: string): Array<Record<string, unknown>> {
  try {
    const rows: unknown = JSON.parse(stdout || '[]')
    return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : []
  } catch {
    return []
  }
}

/** Reads `ip -j neigh show to IP` output. */
export function parseIpNeighJson(stdout: string, ip: string): Mac | null {
  for (const row of neighbourRows(stdout)) {
    if (row.dst !== ip || typeof row.lladdr !== 'string') continue
    const states = Array.isArray(row.state) ? (row.state as string[]) : []
    if (states.some((s) => UNUSABLE_STATES.has(s))) continue
    const mac = parseMac(row.lladdr)
    if (mac) return mac
  }
  return null
}

/** Reads /proc/net/arp (IPv4 only). Flags 0x2 mean the entry is complete. */
export function parseProcArp(text: string, ip: string): Mac | null {
  for (const line of text.split('\n').slice(1)) {
    const [addr, , flags, hw] = line.trim().split(/\s+/)
    if (addr !== ip || !flags || !hw) continue
    if ((parseInt(flags, 16) & 0x2) === 0) continue
    return parseMac(hw)
  }
  return null
}

/**
 * The real neighbour table: `ip -j neigh`, falling back to /proc/net/arp when iproute2 is missing
 * or fails. The IP is validated before it reaches a command; no shell is involved.
 */
export function createKernelNeighbours(
  run: RunCommand = runCommand,
  readArp: () => Promise<string> = () => readFile('/proc/net/arp', 'utf8'),
): NeighbourTable {
  return {
    async macFor(address) {
      const ip = plainIp(address)
      if (!isGuestAddress(ip)) return null
      try {
        const mac = parseIpNeighJson(await run('ip', ['-j', 'neigh', 'show', 'to', ip]), ip)
        if (mac) return mac
      } catch {
        // fall through to /proc/net/arp
      }
      if (isIP(ip) !== 4) return null
      try {
        return parseProcArp(await readArp(), ip)
      } catch {
        return null
      }
    },
  }
}

/**
 * Demo only (dry-run gate): a client on loopback has no neighbour entry, so it gets one stable,
 * locally administered MAC. Any other address still goes to the kernel.
 */
export function withLoopbackDemoMac(table: NeighbourTable, demoMac: Mac): NeighbourTable {
  return {
    async macFor(address) {
      const ip = plainIp(address)
      if (ip === '::1' || /^127\./.test(ip)) return demoMac
      return table.macFor(address)
    },
  }
}
