import { readFileSync } from 'node:fs'
import { atRoot } from '../paths.js'
import { isIP } from 'node:net'
import { parseMac, type Mac } from '../mac.js'
import type { GateEntry } from './gate.js'
import type { DumpedElement } from './nft-elements.js'

/**
 * The nftables ruleset as text, built by pure functions: the table from the template in
 * deploy/nftables.nft.tmpl, and the batches that change the let-through set. Nothing here runs a
 * command; src/gate/nftables.ts feeds these strings to nft.
 */

export const TABLE = 'inet branchgate'
export const SET = 'allowed'

export const TEMPLATE_FILE = atRoot('deploy/nftables.nft.tmpl')

export function readTemplate(file = TEMPLATE_FILE): string {
  return readFileSync(file, 'utf8')
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/

export interface RulesetParams {
  guestInterface: string
  /** Where guests' plain HTTP is redirected. */
  portalPort: number
  /** Every port of the gateway guests may open: the portal's, the TLS listener's. */
  portalPorts: readonly number[]
  /** The uplink to masquerade guests' traffic on; null: no NAT. */
  uplinkInterface: string | null
  /** Where the captive resolver listens: guests' DNS before login is switched there (default 5300). */
  captiveDnsPort?: number
  /** Per-device limits before login, in the kernel (defaults: PRE_LOGIN_LIMITS). */
  preLogin?: PreLoginLimits
  /** Guests' IPv6 on the uplink: masqueraded like IPv4 ("nat", the default) or routed as is. */
  ipv6Uplink?: 'nat' | 'routed'
}

/** What a guest not let through may send the gateway, per device: DNS queries and ICMP packets. */
export interface PreLoginLimits {
  /** DNS packets a second, and the burst allowed above it. */
  dnsPerSecond: number
  dnsBurst: number
  /** ICMP/ICMPv6 packets a second, and the burst. */
  icmpPerSecond: number
  icmpBurst: number
}

export const PRE_LOGIN_LIMITS: PreLoginLimits = {
  dnsPerSecond: 20,
  dnsBurst: 100,
  icmpPerSecond: 10,
  icmpBurst: 20,
}
export const CAPTIVE_DNS_PORT = 5300

/** Fills `{{name}}` placeholders; an unknown placeholder is an error, never left in the output. */
export function fillPlaceholders(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const v = values[name]
    if (v === undefined) throw new Error(`template placeholder {{${name}}} has no value`)
    return v
  })
}

const port = (n: number) => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`not a port: ${n}`)
  return String(n)
}
const count = (n: number) => {
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`not a rate: ${n}`)
  return String(n)
}
const ifname = (name: string) => {
  if (!IFNAME_RE.test(name)) throw new Error(`not an interface name: ${JSON.stringify(name)}`)
  return name
}

/** The table definition from the template. Interface names and ports are checked again here. */
export function renderRuleset(template: string, p: RulesetParams): string {
  const ports = [...new Set([p.portalPort, ...p.portalPorts])].map(port).join(', ')
  const nat =
    p.uplinkInterface === null
      ? ''
      : [
          '',
          p.ipv6Uplink === 'routed'
            ? "\t# Guests reach the internet through the uplink with the gateway's address (IPv4;\n\t# their IPv6 prefix is routed to the gateway, so IPv6 goes as is)."
            : "\t# Guests reach the internet through the uplink with the gateway's address (IPv4 and\n\t# IPv6: NAT66, so the branch router needs to give the uplink one IPv6 address only).",
          '\tchain uplink_nat {',
          '\t\ttype nat hook postrouting priority srcnat; policy accept;',
          `\t\t${p.ipv6Uplink === 'routed' ? 'meta nfproto ipv4 ' : ''}iifname "${ifname(p.guestInterface)}" oifname "${ifname(p.uplinkInterface)}" masquerade`,
          '\t}',
          '',
        ].join('\n')
  const limits = p.preLogin ?? PRE_LOGIN_LIMITS
  const captive = p.captiveDnsPort ?? CAPTIVE_DNS_PORT
  if (captive === 53 || [p.portalPort, ...p.portalPorts].includes(captive))
    throw new Error(`the captive resolver's port ${captive} is taken (DNS or the portal)`)
  return fillPlaceholders(template, {
    guestInterface: ifname(p.guestInterface),
    portalPort: port(p.portalPort),
    portalPorts: ports,
    uplinkNat: nat,
    captiveDnsPort: port(captive),
    dnsPerSecond: count(limits.dnsPerSecond),
    dnsBurst: count(limits.dnsBurst),
    icmpPerSecond: count(limits.icmpPerSecond),
    icmpBurst: count(limits.icmpBurst),
  })
}

/** Seconds left until `until`, at least 1 (nft refuses a zero timeout). */
export function timeoutSeconds(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000))
}

function checked(mac: Mac): Mac {
  // Types are not enough at this boundary: whatever reaches nft must be a canonical MAC.
  const ok = parseMac(mac)
  if (ok === null || ok !== mac) throw new Error(`refusing a malformed MAC: ${JSON.stringify(mac)}`)
  return ok
}

/**
 * How letting a MAC through again sets its new deadline (probed at start: timeoutProbeLines).
 * - 'update': one `add element … timeout`. Kernels with the element timeout update (Linux 6.10
 *   or so: "netfilter: nf_tables: set element timeout update support") re-set the timeout of an
 *   element already there, later or sooner, in place.
 * - 'replace': added (no-op if present), deleted and added again in one transaction, for
 *   kernels whose `add` keeps the old timeout (Debian 12's 6.1): no moment without access either.
 * The single add costs nft a third less (0.70 against 1.06 ms of CPU per change in docs/bench.md).
 */
export type TimeoutUpdate = 'update' | 'replace'

/** One transaction letting a MAC through until `until`, whether or not it was there. */
export function letThroughCommand(
  mac: Mac,
  until: number,
  now: number,
  how: TimeoutUpdate = 'replace',
): string {
  const m = checked(mac)
  const add = `add element ${TABLE} ${SET} { ${m} timeout ${timeoutSeconds(until, now)}s }`
  if (how === 'update') return add
  const el = `element ${TABLE} ${SET} { ${m} }`
  return `add ${el}; delete ${el}; ${add}`
}

/**
 * The start-up probe of what `add` does to a present element's timeout, in a table of its own
 * (never the let-through set): two elements added with one timeout, then added again with the
 * other, each line its own transaction as a login's is; then timeoutProbeVerdict reads
 * `nft -j list set` of PROBE_TABLE PROBE_SET, and PROBE_DROP removes the table.
 */
export const PROBE_TABLE = 'inet branchgate_probe'
export const PROBE_SET = 's'
const PROBE_LONGER = '02:00:00:00:00:01'
const PROBE_SHORTER = '02:00:00:00:00:02'
export const PROBE_DROP = `delete table ${PROBE_TABLE}`

export function timeoutProbeLines(): string[] {
  const set = `${PROBE_TABLE} ${PROBE_SET}`
  return [
    `table ${PROBE_TABLE}; ${PROBE_DROP}; add table ${PROBE_TABLE}; ` +
      `add set ${set} { type ether_addr; flags timeout; }; ` +
      `add element ${set} { ${PROBE_LONGER} timeout 100s, ${PROBE_SHORTER} timeout 1000s }`,
    `add element ${set} { ${PROBE_LONGER} timeout 1000s, ${PROBE_SHORTER} timeout 100s }`,
  ]
}

/**
 * 'update' only when both probe elements carry their second timeout (the longer one grown past
 * its first 100 s, the shorter one cut below its first 1000 s); anything else is 'replace'.
 */
export function timeoutProbeVerdict(json: string): TimeoutUpdate {
  const byMac = new Map(parseSetJson(json).map((e) => [e.mac as string, e.expiresSeconds]))
  const longer = byMac.get(PROBE_LONGER)
  const shorter = byMac.get(PROBE_SHORTER)
  return longer !== undefined && shorter !== undefined && longer > 500 && shorter <= 100
    ? 'update'
    : 'replace'
}

/** One transaction removing a MAC; not an error when it was not let through. */
export function revokeCommand(mac: Mac): string {
  const el = `element ${TABLE} ${SET} { ${checked(mac)} }`
  return `add ${el}; delete ${el}`
}

function elementLines(entries: readonly GateEntry[], now: number): string[] {
  const live = new Map<Mac, number>()
  for (const e of entries) {
    if (e.until <= now) continue
    const m = checked(e.mac)
    live.set(m, Math.max(live.get(m) ?? 0, e.until))
  }
  if (live.size === 0) return []
  const items = [...live].map(([m, until]) => `${m} timeout ${timeoutSeconds(until, now)}s`)
  const lines: string[] = []
  // Chunks keep each line a reasonable length; they are still one transaction.
  for (let i = 0; i < items.length; i += 1000) {
    lines.push(`add element ${TABLE} ${SET} { ${items.slice(i, i + 1000).join(', ')} }`)
  }
  return lines
}

/** Splits walled-garden addresses into the IPv4 and IPv6 sets. */
export function gardenElements(cidrs: readonly string[]): { v4: string[]; v6: string[] } {
  const v4 = new Set<string>()
  const v6 = new Set<string>()
  for (const c of cidrs) {
    const [addr = '', prefix] = c.split('/')
    const family = isIP(addr)
    if (family === 0) throw new Error(`not an address: ${JSON.stringify(c)}`)
    if (prefix !== undefined && !/^\d{1,3}$/.test(prefix))
      throw new Error(`bad prefix: ${JSON.stringify(c)}`)
    ;(family === 4 ? v4 : v6).add(c)
  }
  return { v4: [...v4], v6: [...v6] }
}

function gardenLines(cidrs: readonly string[]): string[] {
  const { v4, v6 } = gardenElements(cidrs)
  const lines = [`flush set ${TABLE} garden4`, `flush set ${TABLE} garden6`]
  // `auto-merge` is not set on the sets, so overlapping entries would be refused: keep one each.
  if (v4.length) lines.push(`add element ${TABLE} garden4 { ${v4.join(', ')} }`)
  if (v6.length) lines.push(`add element ${TABLE} garden6 { ${v6.join(', ')} }`)
  return lines
}

/**
 * The start-up batch: the whole table replaced atomically (created if missing), with the walled
 * garden and the live let-through set. Devices already let through never see a gap.
 */
export function installBatch(
  ruleset: string,
  entries: readonly GateEntry[],
  garden: readonly string[],
  now: number,
  /** More lines for the same transaction (src/gate/nft-rates.ts: the netdev table of rates). */
  more: readonly string[] = [],
): string {
  return [
    `table ${TABLE}`,
    `delete table ${TABLE}`,
    ruleset.trimEnd(),
    ...gardenLines(garden),
    ...elementLines(entries, now),
    ...more,
    '',
  ].join('\n')
}

/** The let-through set replaced in one batch (the table already exists). */
export function replaceSetBatch(entries: readonly GateEntry[], now: number): string {
  return [`flush set ${TABLE} ${SET}`, ...elementLines(entries, now), ''].join('\n')
}

/** The walled garden replaced in one batch (after re-resolving its host names). */
export function gardenBatch(cidrs: readonly string[]): string {
  return [...gardenLines(cidrs), ''].join('\n')
}

export function flushBatch(more: readonly string[] = []): string {
  return [`table ${TABLE}`, `delete table ${TABLE}`, ...more, ''].join('\n')
}

/** One element of `nft -j list set inet branchgate allowed`. */
export interface SetElement {
  mac: Mac
  /** Seconds until the kernel drops it. */
  expiresSeconds: number
}

/** The set's elements as the kernel's dump gave them (src/gate/nft-elements.ts). */
export function setElementsOf(dumped: readonly DumpedElement[]): SetElement[] {
  const out: SetElement[] = []
  for (const d of dumped) {
    out.push({
      mac: d.mac,
      expiresSeconds:
        d.expiresMs === undefined ? Number.POSITIVE_INFINITY : Math.floor(d.expiresMs / 1000),
    })
  }
  return out
}

/** Reads `nft -j list set inet branchgate allowed`; unknown shapes are skipped, never guessed. */
export function parseSetJson(json: string): SetElement[] {
  const doc = JSON.parse(json) as { nftables?: Array<Record<string, any>> }
  const out: SetElement[] = []
  for (const item of doc.nftables ?? []) {
    const elems = item.set?.elem
    if (!Array.isArray(elems)) continue
    for (const raw of elems) {
      const e = typeof raw === 'object' && raw !== null && 'elem' in raw ? raw.elem : { val: raw }
      const mac = typeof e.val === 'string' ? parseMac(e.val) : null
      if (!mac) continue
      out.push({
        mac,
        expiresSeconds: typeof e.expires === 'number' ? e.expires : Number.POSITIVE_INFINITY,
      })
    }
  }
  return out
}
