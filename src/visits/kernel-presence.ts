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
  for (const row of scanNeighbourRows(stdout) ?? neighbourRows(stdout)) {
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

/** The fields of a neighbour entry the sweep reads. */
interface NeighbourFields {
  lladdr?: unknown
  confirmed?: unknown
  updated?: unknown
  state?: unknown
}

const QUOTE = 34
const COMMA = 44
const COLON = 58
const OPEN_ARRAY = 91
const CLOSE_ARRAY = 93
const OPEN_OBJECT = 123
const CLOSE_OBJECT = 125

/**
 * Reads the fields the sweep needs from `ip -j -s neigh` output without `JSON.parse`, which
 * built an object of nine fields (and a string per value) for each of 5,000 entries: 8 ms of a
 * sweep's CPU for 0.7 MB, the largest part once the database reads were gone (issue 20). It
 * knows only the shape `ip` writes: an array of flat objects whose values are strings without
 * escapes, numbers, true, false, null, or arrays of such strings. Anything else (nested objects,
 * escapes, a truncated text) gives null, and the caller parses it as JSON after all.
 */
export function scanNeighbourRows(text: string): NeighbourFields[] | null {
  // One look for any escape: `ip` writes none in a neighbour table.
  if (text.includes('\\')) return null
  const n = text.length
  let i = 0
  const ws = () => {
    let c = text.charCodeAt(i)
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i)
  }
  /** The end (index of the closing quote) of the string starting at i, or -1. */
  const stringEnd = () => (text.charCodeAt(i) === QUOTE ? text.indexOf('"', i + 1) : -1)
  const rows: NeighbourFields[] = []
  ws()
  if (text.charCodeAt(i) !== OPEN_ARRAY) return null
  i++
  ws()
  if (text.charCodeAt(i) === CLOSE_ARRAY) {
    i++
    ws()
    return i === n ? rows : null
  }
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_OBJECT) return null
    i++
    ws()
    const row: NeighbourFields = {}
    if (text.charCodeAt(i) === CLOSE_OBJECT) i++
    else
      for (;;) {
        const keyEnd = stringEnd()
        if (keyEnd < 0) return null
        const keyStart = i + 1
        const keyLength = keyEnd - keyStart
        i = keyEnd + 1
        ws()
        if (text.charCodeAt(i) !== COLON) return null
        i++
        ws()
        const c = text.charCodeAt(i)
        let value: unknown
        if (c === QUOTE) {
          const end = stringEnd()
          if (end < 0) return null
          value = text.slice(i + 1, end)
          i = end + 1
        } else if (c === OPEN_ARRAY) {
          const items: string[] = []
          i++
          ws()
          if (text.charCodeAt(i) === CLOSE_ARRAY) i++
          else
            for (;;) {
              const end = stringEnd()
              if (end < 0) return null
              items.push(text.slice(i + 1, end))
              i = end + 1
              ws()
              const d = text.charCodeAt(i++)
              if (d === CLOSE_ARRAY) break
              if (d !== COMMA) return null
              ws()
            }
          value = items
        } else if (c === 45 || (c >= 48 && c <= 57)) {
          const start = i
          let d = c
          while (d === 45 || d === 43 || d === 46 || d === 69 || d === 101 || (d >= 48 && d <= 57))
            d = text.charCodeAt(++i)
          value = Number(text.slice(start, i))
          if (!Number.isFinite(value)) return null
        } else if (text.startsWith('null', i)) {
          value = null
          i += 4
        } else if (text.startsWith('true', i)) {
          value = true
          i += 4
        } else if (text.startsWith('false', i)) {
          value = false
          i += 5
        } else return null
        if (keyLength === 6 && text.startsWith('lladdr', keyStart)) row.lladdr = value
        else if (keyLength === 9 && text.startsWith('confirmed', keyStart)) row.confirmed = value
        else if (keyLength === 7 && text.startsWith('updated', keyStart)) row.updated = value
        else if (keyLength === 5 && text.startsWith('state', keyStart)) row.state = value
        ws()
        const d = text.charCodeAt(i++)
        if (d === CLOSE_OBJECT) break
        if (d !== COMMA) return null
        ws()
      }
    rows.push(row)
    ws()
    const d = text.charCodeAt(i++)
    if (d === CLOSE_ARRAY) break
    if (d !== COMMA) return null
    ws()
  }
  ws()
  return i === n ? rows : null
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
 * per-MAC counters. When one of them fails the other still answers, and the failure is logged.
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
