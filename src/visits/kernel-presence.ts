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
 */
export function parseNeighbourActivity(
  stdout: string,
  now: number,
  into = new Map<Mac, number>(),
): Map<Mac, number> {
  for (const row of neighbourRows(stdout)) {
    if (typeof row.lladdr !== 'string') continue
    const states = Array.isArray(row.state) ? (row.state as string[]) : []
    if (states.length === 0 || states.some((s) => ABSENT_STATES.has(s))) continue
    if (states.includes('PERMANENT')) continue
    const mac = parseMac(row.lladdr)
    if (!mac) continue
    const confirmed = secondsAgo(row.confirmed) ?? secondsAgo(row.updated)
    if (confirmed === null) continue
    const at = now - confirmed * 1000
    const prev = into.get(mac)
    if (prev === undefined || at > prev) into.set(mac, at)
  }
  return into
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
      const seen = new Map<Mac, number>()
      if (neigh.status === 'fulfilled') parseNeighbourActivity(neigh.value, now, seen)
      else
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
