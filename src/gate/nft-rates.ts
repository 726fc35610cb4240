import { readFileSync } from 'node:fs'
import { parseMac, type Mac } from '../mac.js'
import { atRoot } from '../paths.js'
import { fillPlaceholders, TABLE } from './nft-ruleset.js'
import type { DumpedElement } from './nft-elements.js'

/**
 * The nftables half of per-device rates and counts (issue 17), as text built by pure functions:
 * the table `netdev branchgate` (deploy/nftables-rates.nft.tmpl), whose map `down` gives each
 * let-through device its tc class for what is sent to it and counts those bytes; the map `up`
 * of `inet branchgate`, the same for what it sends; and that table's `notice` set. The tc half
 * is src/gate/shaping.ts.
 */

export const RATES_TABLE = 'netdev branchgate'
export const DOWN_MAP = 'down'
export const UP_MAP = 'up'
export const NOTICE_SET = 'notice'
export const RATES_TEMPLATE_FILE = atRoot('deploy/nftables-rates.nft.tmpl')

export function readRatesTemplate(file = RATES_TEMPLATE_FILE): string {
  return readFileSync(file, 'utf8')
}

/** The netdev table from its template; the interface name is checked again here. */
export function renderRatesRuleset(template: string, p: { guestInterface: string }): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.guestInterface))
    throw new Error(`not an interface name: ${JSON.stringify(p.guestInterface)}`)
  return fillPlaceholders(template, { guestInterface: p.guestInterface })
}

/** HTB class minors a device may get: 0x10–0xfff (the u32 filter's node id has 12 bits). */
export const MINOR_FIRST = 0x10
export const MINOR_LAST = 0xfff

/** `1:1a2` for minor 0x1a2. */
export function classid(minor: number): string {
  if (!Number.isInteger(minor) || minor < MINOR_FIRST || minor > MINOR_LAST)
    throw new Error(`not a device class: ${minor}`)
  return `1:${minor.toString(16)}`
}

function checked(mac: Mac): Mac {
  const ok = parseMac(mac)
  if (ok === null || ok !== mac) throw new Error(`refusing a malformed MAC: ${JSON.stringify(mac)}`)
  return ok
}

/** Puts the MAC in the `down` and `up` maps with its class; elements already there keep their counters. */
export function classifyCommand(mac: Mac, minor: number): string {
  const el = `{ ${checked(mac)} : ${classid(minor)} }`
  return `add element ${RATES_TABLE} ${DOWN_MAP} ${el}; add element ${TABLE} ${UP_MAP} ${el}`
}

/**
 * Takes the MAC out of the `notice` set and, given its class, out of the `down` map; not an
 * error when it is in neither. (An `add` naming another class than the element's would be one:
 * the caller passes the class the map has.)
 */
export function unclassifyCommand(mac: Mac, minor: number | null): string {
  const m = checked(mac)
  const notice = `element ${TABLE} ${NOTICE_SET} { ${m} }`
  const parts = [`add ${notice}`, `delete ${notice}`]
  if (minor !== null)
    for (const map of [`${RATES_TABLE} ${DOWN_MAP}`, `${TABLE} ${UP_MAP}`])
      parts.unshift(
        `add element ${map} { ${m} : ${classid(minor)} }`,
        `delete element ${map} { ${m} }`,
      )
  return parts.join('; ')
}

/** Adds the MAC to, or takes it out of, the `notice` set; either way not an error if it already was. */
export function noticeCommand(mac: Mac, on: boolean): string {
  const el = `element ${TABLE} ${NOTICE_SET} { ${checked(mac)} }`
  return on ? `add ${el}` : `add ${el}; delete ${el}`
}

/**
 * The lines that (re)create the netdev table with its map and fill the `notice` set, for the
 * start-up batch (after `inet branchgate` is recreated, so its `notice` set exists and is empty).
 */
export function ratesInstallLines(
  ruleset: string,
  classes: ReadonlyMap<Mac, number>,
  notices: readonly Mac[],
): string[] {
  const lines = [`table ${RATES_TABLE}`, `delete table ${RATES_TABLE}`, ruleset.trimEnd()]
  lines.push(...classLines(classes))
  const n = notices.map(checked)
  for (let i = 0; i < n.length; i += 1000)
    lines.push(`add element ${TABLE} ${NOTICE_SET} { ${n.slice(i, i + 1000).join(', ')} }`)
  return lines
}

/**
 * Lines that refill the `notice` set and, with rates, the `down` map, when the tables already
 * exist (a second rebuild in the same process).
 */
export function ratesReplaceLines(
  classes: ReadonlyMap<Mac, number>,
  notices: readonly Mac[],
  withRates: boolean,
): string[] {
  const lines = [`flush set ${TABLE} ${NOTICE_SET}`]
  if (notices.length)
    lines.push(`add element ${TABLE} ${NOTICE_SET} { ${notices.map(checked).join(', ')} }`)
  if (!withRates) return lines
  lines.push(`flush map ${RATES_TABLE} ${DOWN_MAP}`, `flush map ${TABLE} ${UP_MAP}`)
  lines.push(...classLines(classes))
  return lines
}

/** Both maps filled with every device's class, a thousand to a line. */
function classLines(classes: ReadonlyMap<Mac, number>): string[] {
  const items = [...classes].map(([mac, minor]) => `${checked(mac)} : ${classid(minor)}`)
  const lines: string[] = []
  for (const map of [`${RATES_TABLE} ${DOWN_MAP}`, `${TABLE} ${UP_MAP}`])
    for (let i = 0; i < items.length; i += 1000)
      lines.push(`add element ${map} { ${items.slice(i, i + 1000).join(', ')} }`)
  return lines
}

/** The netdev table removed (`branchgate stop --flush`); not an error if it is missing. */
export function ratesFlushLines(): string[] {
  return [`table ${RATES_TABLE}`, `delete table ${RATES_TABLE}`]
}

/** One element of `nft -j list map netdev branchgate down` (or `inet branchgate up`). */
export interface ClassElement {
  mac: Mac
  minor: number
  /** Bytes sent to (down) or from (up) the device since the element was added. */
  bytes: number
  /** Packets, likewise. */
  packets: number
}

/** Reads `nft -j list map …` of a class map; unknown shapes are skipped, never guessed. */
/** A rates map's elements as the kernel's dump gave them; classes outside 1: are skipped. */
export function classElementsOf(dumped: readonly DumpedElement[]): ClassElement[] {
  const out: ClassElement[] = []
  for (const d of dumped) {
    if (d.data === undefined || d.data >>> 16 !== 1) continue
    out.push({ mac: d.mac, minor: d.data & 0xffff, bytes: d.bytes ?? 0, packets: d.packets ?? 0 })
  }
  return out
}

export function parseClassMapJson(json: string): ClassElement[] {
  const doc = JSON.parse(json) as { nftables?: Array<Record<string, any>> }
  const out: ClassElement[] = []
  for (const item of doc.nftables ?? []) {
    const elems = item.map?.elem
    if (!Array.isArray(elems)) continue
    for (const pair of elems) {
      if (!Array.isArray(pair) || pair.length !== 2) continue
      const [key, value] = pair as [any, unknown]
      const e = typeof key === 'object' && key !== null && 'elem' in key ? key.elem : { val: key }
      const mac = typeof e.val === 'string' ? parseMac(e.val) : null
      const m = typeof value === 'string' ? /^1:([0-9a-f]{1,4})$/.exec(value) : null
      if (!mac || !m) continue
      out.push({
        mac,
        minor: parseInt(m[1]!, 16),
        bytes: Number(e.counter?.bytes ?? 0),
        packets: Number(e.counter?.packets ?? 0),
      })
    }
  }
  return out
}
