import type { Gate } from '../gate/gate.js'
import { createIpSession } from '../gate/ip-session.js'
import {
  openNeighbourDump,
  type NeighbourActivity,
  type NeighbourDump,
} from '../gate/neighbour-dump.js'
import { neighbourRows, type RunCommand } from '../gate/neighbours.js'
import { parseMac, type Mac } from '../mac.js'
import type { PresenceSource } from './presence.js'

/**
 * Neighbour states that say nothing about the device being here: the kernel gave up on it
 * (FAILED), never resolved it (INCOMPLETE), or the entry is not about a device (NOARP).
 */
const ABSENT_STATES = new Set(['FAILED', 'INCOMPLETE', 'NOARP', 'NONE'])

/**
 * Reads `ip -j -s neigh` output: for each usable entry, the device's last activity, taken as the
 * last time the kernel confirmed it reachable (`confirmed`, seconds ago). REACHABLE, DELAY, PROBE
 * and STALE entries count; how old the confirmation may be is the visit rules' business.
 *
 * Text in the shape `ip` writes is read by `scanNeighbourActivity`, anything else as JSON: the
 * answer is the same.
 */
export function parseNeighbourActivity(stdout: string, now: number): Map<Mac, number> {
  const list: ActivityList = { lladdrs: [], ats: [] }
  if (!scanNeighbourActivity(stdout, now, list)) return readNeighbourJson(stdout, now)
  const into = new Map<Mac, number>()
  for (let i = 0; i < list.lladdrs.length; i++) see(into, list.lladdrs[i]!, list.ats[i]!)
  return into
}

/** Neighbour entries as read, side by side: the link-layer address as `ip` wrote it, and when. */
export interface ActivityList {
  lladdrs: string[]
  ats: number[]
}

/** `parseNeighbourActivity` with `JSON.parse`, for any text (garbage reads as nobody). */
export function readNeighbourJson(stdout: string, now: number): Map<Mac, number> {
  const into = new Map<Mac, number>()
  for (const row of neighbourRows(stdout)) {
    if (typeof row.lladdr !== 'string') continue
    const states = Array.isArray(row.state) ? (row.state as string[]) : []
    if (states.length === 0 || states.some((s) => ABSENT_STATES.has(s))) continue
    if (states.includes('PERMANENT')) continue
    const confirmed = secondsAgo(row.confirmed) ?? secondsAgo(row.updated)
    if (confirmed === null) continue
    see(into, row.lladdr, now - confirmed * 1000)
  }
  return into
}

function see(into: Map<Mac, number>, lladdr: string, at: number) {
  const mac = parseMac(lladdr)
  if (!mac) return
  const prev = into.get(mac)
  if (prev === undefined || at > prev) into.set(mac, at)
}

// The pieces of an entry: a string without escapes (its capture is then the value JSON.parse
// gives) and a JSON number as `ip` writes its counters (%u).
const STR = String.raw`"[^"\\]*"`
const NUM = String.raw`(?:0|[1-9]\d*)`
const STATE = String.raw`"[A-Z_]+"`
/**
 * One entry of `ip -j -s neigh`, as iproute2 writes it: its keys in this order, each but dst
 * optional: dst, dev, lladdr, flags without a value (router, proxy, extern_learn, …), refcnt,
 * used, confirmed, updated, probes, state, protocol. Captures: lladdr, confirmed, updated, the
 * inside of the state list, and what follows the entry (`,` or `]`).
 */
const ENTRY = new RegExp(
  String.raw`\{"dst":${STR}(?:,"dev":${STR})?(?:,"lladdr":"([^"\\]*)")?(?:,"[a-z_]+":null)*` +
    String.raw`(?:,"refcnt":${NUM})?(?:,"used":${NUM})?(?:,"confirmed":(${NUM}))?` +
    String.raw`(?:,"updated":(${NUM}))?(?:,"probes":${NUM})?` +
    String.raw`(?:,"state":\[((?:${STATE}(?:,${STATE})*)?)\])?(?:,"protocol":${STR})?\}([,\]])`,
  'y',
)
/** A state that says nothing of a device being here (ABSENT_STATES), or a fixed entry. */
const UNUSABLE = /"(?:FAILED|INCOMPLETE|NOARP|NONE|PERMANENT)"/

/**
 * Reads `ip -j -s neigh` output into `into` with one sticky regular expression per entry instead
 * of `JSON.parse`, which built an object of nine fields for each of 5,000 entries: most of a
 * sweep's reading of the table (issue 20). The entries must follow one another exactly as `ip`
 * writes them (`ENTRY`); any other text (another shape, escapes, a cut one) gives false, with
 * `into` partly filled, and is for `JSON.parse`. Each usable entry is added to `into` (a MAC
 * may come more than once: IPv4 and IPv6; `parseMac` has not looked at it yet).
 */
export function scanNeighbourActivity(text: string, now: number, into: ActivityList): boolean {
  if (text.charCodeAt(0) !== 91 /* [ */) return false
  if (text.charCodeAt(1) === 93 /* ] */) return text.slice(2).trim() === ''
  ENTRY.lastIndex = 1
  for (;;) {
    const m = ENTRY.exec(text)
    if (m === null) return false
    const [, lladdr, confirmed, updated, states, after] = m
    if (lladdr !== undefined && states && !UNUSABLE.test(states)) {
      const seconds = confirmed ?? updated
      if (seconds !== undefined) {
        into.lladdrs.push(lladdr)
        into.ats.push(now - Number(seconds) * 1000)
      }
    }
    if (after === ']') return text.slice(ENTRY.lastIndex).trim() === ''
  }
}

function secondsAgo(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null
}

/**
 * Tells which let-through devices moved traffic since the last look: a byte count that grew.
 * The first look at a MAC only sets its baseline; a count that went down (the element was
 * re-added) resets it.
 */
export function createCounterWatch() {
  // One map kept and updated in place: a new one per look cost a sweep 5,000 insertions.
  const previous = new Map<Mac, number>()
  return {
    grown(counters: ReadonlyMap<Mac, { bytes: number }>): Mac[] {
      const out: Mac[] = []
      for (const [mac, c] of counters) {
        const before = previous.get(mac)
        if (before !== undefined && c.bytes > before) out.push(mac)
        previous.set(mac, c.bytes)
      }
      // A MAC missing from this look loses its baseline, as before.
      if (previous.size > counters.size)
        for (const mac of previous.keys()) if (!counters.has(mac)) previous.delete(mac)
      return out
    },
  }
}

export interface KernelPresenceDeps {
  gate: Pick<Gate, 'counters'>
  /**
   * The neighbour table read in this process (src/gate/neighbour-dump.ts); default: opened here
   * unless `run` is given. null, or a table it cannot read: `ip` answers.
   */
  dump?: Pick<NeighbourDump, 'read' | 'close'> | null
  /** Runs `ip` with these arguments (tests); default: one long-lived `ip -batch -` (ip-session.ts). */
  run?: RunCommand
  /** Limit to the guest interface (e.g. "br-guest"); null: every interface. */
  device?: string | null
  log?: (line: string) => void
}

/**
 * The real presence source: the kernel's neighbour table (with its timers) and the firewall's
 * per-MAC counters (the map `up`: what each let-through device sent). When one of them fails the
 * other still answers, and the failure is logged.
 *
 * The table is dumped afresh at every sample on a netlink socket of this process (no program
 * between); where that cannot be opened or read, one `ip -j -s -batch -` kept running answers
 * (a process per sweep cost a fork of the service). The map a sample returns is the same one
 * each time, updated in place (5,000 insertions into a new map were a tenth of a sweep): it
 * holds until the next sample.
 */
export function createKernelPresence(deps: KernelPresenceDeps): PresenceSource & { close(): void } {
  const watch = createCounterWatch()
  const show = ['neigh', 'show', ...(deps.device ? ['dev', deps.device] : [])]
  let dump: Pick<NeighbourDump, 'read' | 'close'> | null
  if (deps.dump !== undefined) dump = deps.dump
  else if (deps.run) dump = null
  else {
    const opened = openNeighbourDump()
    dump = typeof opened === 'string' ? null : opened
    if (typeof opened === 'string')
      deps.log?.(`presence: the neighbour table through ip (in this process: ${opened})`)
  }
  let session: ReturnType<typeof createIpSession> | null = null
  const table = deps.run
    ? () => deps.run!('ip', ['-j', '-s', ...show])
    : () => (session ??= createIpSession(['-j', '-s']))('ip', show)
  const list: ActivityList = { lladdrs: [], ats: [] }
  const dumped: NeighbourActivity = { macs: [], ats: [] }
  /** Why the dump failed, each said once (a sweep every few seconds would repeat it all day). */
  const failures = new Set<string>()
  /** The table from the dump; null when it could not be read (ip then answers). */
  const fromDump = (now: number): NeighbourActivity | null => {
    if (!dump) return null
    dumped.macs.length = 0
    dumped.ats.length = 0
    const why = dump.read(deps.device ?? null, now, dumped)
    if (why === null) return dumped
    if (!failures.has(why)) {
      failures.add(why)
      deps.log?.(`presence: cannot dump the neighbour table (${why}): ip answers`)
    }
    return null
  }
  const seen = new Map<Mac, number>()
  /** The sample that last saw each MAC in `seen`. */
  const sampleOf = new Map<Mac, number>()
  let sample = 0
  let distinct = 0
  const note = (mac: Mac | null, at: number) => {
    if (mac === null) return
    if (sampleOf.get(mac) !== sample) {
      sampleOf.set(mac, sample)
      seen.set(mac, at)
      distinct++
    } else if (at > seen.get(mac)!) seen.set(mac, at)
  }
  return {
    async sample(now) {
      const counting = deps.gate.counters()
      const direct = fromDump(now)
      const [neigh, counters] = await Promise.allSettled([
        direct ? Promise.resolve('') : table(),
        counting,
      ])
      sample++
      distinct = 0
      if (direct) {
        for (let i = 0; i < direct.macs.length; i++) note(direct.macs[i]!, direct.ats[i]!)
      } else if (neigh.status === 'fulfilled') {
        list.lladdrs.length = 0
        list.ats.length = 0
        if (scanNeighbourActivity(neigh.value, now, list))
          for (let i = 0; i < list.lladdrs.length; i++)
            note(parseMac(list.lladdrs[i]!), list.ats[i]!)
        else for (const [mac, at] of readNeighbourJson(neigh.value, now)) note(mac, at)
      } else
        deps.log?.(
          `presence: cannot read the neighbour table: ${(neigh.reason as Error)?.message ?? neigh.reason}`,
        )
      if (counters.status === 'fulfilled') {
        for (const mac of watch.grown(counters.value)) note(mac, now)
      } else {
        deps.log?.(
          `presence: cannot read the firewall counters: ${(counters.reason as Error)?.message ?? counters.reason}`,
        )
      }
      // What this sample did not see leaves the map.
      if (distinct < seen.size)
        for (const mac of seen.keys())
          if (sampleOf.get(mac) !== sample) {
            seen.delete(mac)
            sampleOf.delete(mac)
          }
      return seen
    },
    close() {
      dump?.close()
      session?.close()
    },
  }
}
