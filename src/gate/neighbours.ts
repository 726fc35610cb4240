import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { BlockList, isIP } from 'node:net'
import { parseMac, type Mac } from '../mac.js'
import { openNeighbourDump, type NeighbourEvent } from './neighbour-dump.js'
import type { StartNeighbourFeed } from './neighbour-monitor.js'

export type { NeighbourEvent } from './neighbour-dump.js'

/** The kernel's neighbour table, as the one question the portal asks of it. */
export interface NeighbourTable {
  /** The MAC of the host with this IP on a directly attached network, or null if unknown. */
  macFor(ip: string): Promise<Mac | null>
  /**
   * What macFor would answer, when the table knows it without asking the kernel (a map read);
   * undefined when only macFor can tell. Optional: a table that always asks has none.
   */
  known?(ip: string): Mac | null | undefined
}

export type RunCommand = (file: string, args: string[]) => Promise<string>

const readProcArp = () => readFile('/proc/net/arp', 'utf8')

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

/** The MAC of a row of `ip -j neigh`, when it has one in a usable state. */
function macOfRow(row: Record<string, unknown>): Mac | null {
  if (typeof row.lladdr !== 'string') return null
  const states = Array.isArray(row.state) ? (row.state as string[]) : []
  if (states.some((s) => UNUSABLE_STATES.has(s))) return null
  return parseMac(row.lladdr)
}

/** Reads `ip -j neigh show to IP` output. */
export function parseIpNeighJson(stdout: string, ip: string): Mac | null {
  for (const row of neighbourRows(stdout)) {
    const mac = row.dst === ip ? macOfRow(row) : null
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
  const loopback = (ip: string) => ip === '::1' || /^127\./.test(ip)
  return {
    async macFor(address) {
      if (loopback(plainIp(address))) return demoMac
      return table.macFor(address)
    },
    known(address) {
      if (loopback(plainIp(address))) return demoMac
      return table.known?.(address)
    },
  }
}

/**
 * Reads one line of `ip monitor neigh` (iproute2 has no JSON for monitor): `[Deleted |miss ]IP
 * dev DEV [lladdr MAC] [router] [proxy] STATE…`. Lines that are not about a neighbour entry read
 * as null.
 */
export function parseMonitorLine(line: string): NeighbourEvent | null {
  const words = line.trim().split(/\s+/)
  let deleted = false
  if (words[0] === 'Deleted') {
    deleted = true
    words.shift()
  } else if (words[0] === 'miss') return null
  const ip = words[0]
  if (!ip || isIP(ip) === 0 || words[1] !== 'dev') return null
  const at = words.indexOf('lladdr')
  const mac = at > 0 && words[at + 1] ? parseMac(words[at + 1]!) : null
  const unusable = words.some((w) => UNUSABLE_STATES.has(w))
  return { ip, mac, gone: deleted || unusable || mac === null }
}

/** A long-lived `ip monitor neigh`: its lines, and its end. */
export type StartMonitor = (
  onLine: (line: string) => void,
  onEnd: (why: string) => void,
) => { stop(): void }

/** `ip monitor neigh` as a child process; `argv` runs ip (e.g. inside a namespace, for tests). */
export const ipMonitor =
  (argv: readonly string[] = ['ip']): StartMonitor =>
  (onLine, onEnd) => {
    const [file, ...pre] = argv as [string, ...string[]]
    const child = spawn(file, [...pre, 'monitor', 'neigh'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let rest = ''
    let err = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()!
      for (const l of lines) onLine(l)
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => (err = (err + d).slice(-500)))
    let ended = false
    const end = (why: string) => {
      if (ended) return
      ended = true
      onEnd(why)
    }
    child.on('error', (e) => end(`cannot run ${file}: ${e.message}`))
    child.on('exit', (code, signal) =>
      end(`ip monitor ended (${signal ?? `exit ${code}`})${err ? `: ${err.trim()}` : ''}`),
    )
    return {
      stop() {
        ended = true
        child.kill()
      },
    }
  }

/** The table's rows from `ip -j neigh show`: usable entries, IP → MAC. */
export function tableOfRows(stdout: string): Map<string, Mac> {
  const table = new Map<string, Mac>()
  for (const row of neighbourRows(stdout)) {
    const mac = typeof row.dst === 'string' ? macOfRow(row) : null
    if (mac) table.set(row.dst as string, mac)
  }
  return table
}

/**
 * The feed through ip: `monitor`'s lines (`ip monitor neigh`) and `dump`'s tables (`ip -j neigh
 * show`, a process each). Lines that arrive while a table is read wait for it, then follow it.
 */
export function ipNeighbourFeed(
  monitor: StartMonitor = ipMonitor(),
  dump: () => Promise<string> = () => runCommand('ip', ['-j', 'neigh', 'show']),
): StartNeighbourFeed {
  return (on) => {
    let pending: NeighbourEvent[] | null = null
    const handle = monitor(
      (line) => {
        const e = parseMonitorLine(line)
        if (!e) return
        if (pending) pending.push(e)
        else on.change(e)
      },
      (why) => on.end(why),
    )
    return {
      refresh() {
        if (pending) return
        const waiting: NeighbourEvent[] = (pending = [])
        void dump()
          .then(
            (stdout) => on.table(tableOfRows(stdout)),
            (err: Error) => on.table({ failed: err.message }),
          )
          .finally(() => {
            pending = null
            // Changes are changes whether the table could be read or not.
            for (const e of waiting) on.change(e)
          })
      },
      stop: () => handle.stop(),
    }
  }
}

export interface NeighbourWatchDeps {
  /**
   * The source of the table's changes and whole tables. Default: through ip (`monitor` and
   * `dump`); the service passes its own netlink socket's (src/gate/neighbour-monitor.ts).
   */
  feed?: StartNeighbourFeed
  /** The ip feed's long-lived source of changes (default: `ip monitor neigh`). */
  monitor?: StartMonitor
  /** The ip feed's whole table now (default: `ip -j neigh show`). */
  dump?: () => Promise<string>
  /**
   * Asks the kernel about one address the watch has no usable entry for (a new device whose
   * entry the feed has not reported yet, or the feed is down). Default: a netlink dump, else
   * /proc/net/arp for IPv4 (a file read, no process), `ip -j neigh show to IP` for IPv6.
   */
  direct?: NeighbourTable
  log?: (line: string) => void
  /** Waits before restarting a feed that ended (ms); doubles up to 60 s. */
  restartMs?: number
  /** Waits after starting the feed before taking the first full table (ms). */
  settleMs?: number
  /** Takes the whole table again this often, in case a change was missed (ms; 0: never). */
  resyncMs?: number
}

export interface NeighbourWatch extends NeighbourTable {
  known(ip: string): Mac | undefined
  /**
   * How many addresses the watch knows; `live` once the feed runs and the table was read; the
   * requests asked of the kernel, and the times changes were lost, so far.
   */
  state(): { live: boolean; entries: number; directLookups: number; losses: number }
  close(): void
}

/**
 * The neighbour table without a process per request: one long-lived feed of the kernel's
 * changes keeps a map of IP → MAC, filled from one whole table after the feed started, so a
 * lookup is a map read. What the map cannot answer goes to the kernel directly, never to an old
 * answer: an address it has no usable entry for (a new device's first packets can reach the
 * portal before its entry is reported), and every address while the feed is down, starting, or
 * has lost changes. An address that moves to another device is reported by the kernel when the
 * new device's ARP or NDP reaches the box, before its first TCP segment; the map takes the new
 * MAC from that change.
 */
export function createNeighbourWatch(deps: NeighbourWatchDeps = {}): NeighbourWatch {
  const startFeed = deps.feed ?? ipNeighbourFeed(deps.monitor, deps.dump)
  const direct = deps.direct ?? createDirectNeighbours(runCommand, readProcArp, netlinkLookup())
  const log = deps.log ?? (() => {})
  const baseRestart = deps.restartMs ?? 1000
  const settleMs = deps.settleMs ?? 100
  const resyncMs = deps.resyncMs ?? 300_000
  const table = new Map<string, Mac>()
  let live = false
  let closed = false
  let directLookups = 0
  let losses = 0
  let restartMs = baseRestart
  let feed: { refresh(): void; stop(): void } | null = null
  let timer: NodeJS.Timeout | null = null
  let resync: NodeJS.Timeout | null = null
  /** Why changes were lost, each said once (a busy branch could lose them more than once). */
  const lossReasons = new Set<string>()

  const apply = (e: NeighbourEvent) => {
    if (e.gone) table.delete(e.ip)
    else table.set(e.ip, e.mac!)
  }

  const restartLater = (why: string) => {
    live = false
    table.clear()
    feed = null
    if (closed) return
    if (/^cannot run /.test(why)) {
      // No iproute2 (a developer's machine): the direct lookups answer, and nothing to retry.
      log(`neighbours: ${why}; asking the kernel per request`)
      return
    }
    log(`neighbours: ${why}; asking the kernel per request until it runs again`)
    timer = setTimeout(start, restartMs)
    timer.unref()
    restartMs = Math.min(restartMs * 2, 60_000)
  }

  const start = () => {
    timer = null
    if (closed) return
    let up = true
    const f: { refresh(): void; stop(): void } = startFeed({
      change: apply,
      table(entries) {
        if (!up || closed) return
        if (!(entries instanceof Map)) {
          log(`neighbours: cannot read the neighbour table: ${entries.failed}`)
          // Not live yet: the feed runs but its table cannot be had; start again later.
          if (!live && feed === f) {
            feed = null
            up = false
            f.stop()
            restartLater('the monitor runs but the table cannot be read')
          }
          return
        }
        table.clear()
        for (const [ip, mac] of entries) table.set(ip, mac)
        live = true
        restartMs = baseRestart
      },
      lost(why) {
        // Until the table the feed asks for comes, the kernel answers each request.
        live = false
        losses++
        if (!lossReasons.has(why)) {
          lossReasons.add(why)
          log(`neighbours: ${why}; asking the kernel per request until the table is read again`)
        }
      },
      end(why) {
        up = false
        if (feed === f) restartLater(why)
      },
    })
    feed = f
    const settle = setTimeout(() => {
      if (up && !closed) f.refresh()
    }, settleMs)
    settle.unref()
  }

  if (resyncMs > 0) {
    resync = setInterval(() => {
      if (live) feed?.refresh()
    }, resyncMs)
    resync.unref()
  }
  start()

  return {
    async macFor(address) {
      const ip = plainIp(address)
      if (live) {
        const mac = table.get(ip)
        if (mac) return mac
      }
      if (isIP(ip) === 0) return null
      directLookups++
      return direct.macFor(ip)
    },
    known(address) {
      return live ? table.get(plainIp(address)) : undefined
    },
    state: () => ({ live, entries: table.size, directLookups, losses }),
    close() {
      closed = true
      live = false
      if (timer) clearTimeout(timer)
      if (resync) clearInterval(resync)
      feed?.stop()
      feed = null
    },
  }
}

/** Asks the kernel's table about one address: the MAC, null for none, or why it cannot. */
export type KernelLookup = (ip: string) => Mac | null | { failed: string }

/**
 * The kernel's own answer on a netlink socket of this process (src/gate/neighbour-dump.ts),
 * opened at the first lookup; null when it cannot be (the caller asks another way).
 */
export function netlinkLookup(): () => KernelLookup | null {
  let opened: KernelLookup | null | undefined
  return () => {
    if (opened === undefined) {
      const dump = openNeighbourDump()
      opened = typeof dump === 'string' ? null : (ip) => dump.lookup(ip)
    }
    return opened
  }
}

/**
 * One question to the kernel per lookup, without a process: a netlink dump of the address's
 * family (`kernel`, the service's default), else /proc/net/arp for IPv4 and
 * `ip -j neigh show to IP` for IPv6 (which has no /proc file).
 */
export function createDirectNeighbours(
  run: RunCommand = runCommand,
  readArp: () => Promise<string> = readProcArp,
  kernel: () => KernelLookup | null = () => null,
): NeighbourTable {
  return {
    async macFor(address) {
      const ip = plainIp(address)
      const family = isIP(ip)
      // A link-local (or loopback, multicast…) source names no guest, with its zone or without:
      // the same fe80:: address can sit on the uplink too.
      if (family === 0 || !isGuestAddress(ip.split('%')[0]!)) return null
      const asked = kernel()?.(ip)
      // The kernel's answer, a MAC or none; only a table it could not read is asked again below.
      if (asked === null || typeof asked === 'string') return asked
      if (family === 4) {
        try {
          return parseProcArp(await readArp(), ip)
        } catch {
          return null
        }
      }
      try {
        return parseIpNeighJson(await run('ip', ['-j', 'neigh', 'show', 'to', ip]), ip)
      } catch {
        return null
      }
    },
  }
}
