import { execFile } from 'node:child_process'
import type { Gate } from '../gate/gate.js'
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
  const scanned = new Map<Mac, number>()
  return scanNeighbourActivity(stdout, now, scanned) ? scanned : readNeighbourJson(stdout, now)
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
 * `into` partly filled, and is for `JSON.parse`.
 */
export function scanNeighbourActivity(text: string, now: number, into: Map<Mac, number>): boolean {
  if (text.charCodeAt(0) !== 91 /* [ */) return false
  if (text.charCodeAt(1) === 93 /* ] */) return text.slice(2).trim() === ''
  ENTRY.lastIndex = 1
  for (;;) {
    const m = ENTRY.exec(text)
    if (m === null) return false
    const [, lladdr, confirmed, updated, states, after] = m
    if (lladdr !== undefined && states && !UNUSABLE.test(states)) {
      const seconds = confirmed ?? updated
      if (seconds !== undefined) see(into, lladdr, now - Number(seconds) * 1000)
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

const runIp: RunCommand = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 5000, maxBuffer: 64 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })

export interface KernelPresenceDeps {
  gate: Pick<Gate, 'counters'>
  run?: RunCommand
  /** Limit to the guest interface (e.g. "br-guest"); null: every interface. */
  device?: string | null
  log?: (line: string) => void
}

/**
 * The real presence source: the kernel's neighbour table (with its timers) and the firewall's
 * per-MAC counters (the map `up`: what each let-through device sent). When one of them fails the
 * other still answers, and the failure is logged.
 */
export function createKernelPresence(deps: KernelPresenceDeps): PresenceSource {
  const run = deps.run ?? runIp
  const watch = createCounterWatch()
  const args = ['-j', '-s', 'neigh', 'show', ...(deps.device ? ['dev', deps.device] : [])]
  return {
    async sample(now) {
      const [neigh, counters] = await Promise.allSettled([run('ip', args), deps.gate.counters()])
      const seen =
        neigh.status === 'fulfilled'
          ? parseNeighbourActivity(neigh.value, now)
          : new Map<Mac, number>()
      if (neigh.status === 'rejected')
        deps.log?.(
          `presence: cannot read the neighbour table: ${(neigh.reason as Error)?.message ?? neigh.reason}`,
        )
      if (counters.status === 'fulfilled') {
        for (const mac of watch.grown(counters.value)) seen.set(mac, now)
      } else {
        deps.log?.(
          `presence: cannot read the firewall counters: ${(counters.reason as Error)?.message ?? counters.reason}`,
        )
      }
      return seen
    },
  }
}
