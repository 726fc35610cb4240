import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'

/**
 * Which host names a listener answers to: the defence against DNS rebinding. A web page on the
 * office PC (or on a guest's phone) can point a name of its own at 127.0.0.1 or at the branch
 * box and then read our pages as if they were its own; the browser still sends that name in
 * `Host`, so a listener that answers only its own names gives such a page nothing. Written once
 * here for the portal and the console. (Hono has no such middleware; its `ipRestriction` filters
 * the client's address, which a rebinding page does not change.)
 */

/** A request's authority: lower-case name (IPv6 in brackets, no trailing dot) and port. */
export interface Authority {
  name: string
  port: number
}

/** The names every listener on this box answers to, with its own port. */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]']

const AUTHORITY_RE =
  /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?)(?::(\d{1,5}))?$/

/**
 * Parses a `Host` value (`name`, `name:port`, `[v6]:port`); `scheme` gives the port when none is
 * written. Null when it is not a plain host name or address (user info, paths, spaces...).
 */
export function parseAuthority(value: string, scheme: 'http' | 'https'): Authority | null {
  const m = AUTHORITY_RE.exec(value.trim().toLowerCase())
  if (!m) return null
  const port = m[2] === undefined ? (scheme === 'https' ? 443 : 80) : Number(m[2])
  if (port < 1 || port > 65535) return null
  return { name: m[1]!.replace(/\.$/, ''), port }
}

/**
 * The authority a request names: its `Host` header, or, when it has none (`app.request` in
 * tests), its URL's. Null when unreadable.
 */
export function requestAuthority(c: Context): Authority | null {
  const url = new URL(c.req.url)
  const scheme = url.protocol === 'https:' ? 'https' : 'http'
  return parseAuthority(c.req.header('host') ?? url.host, scheme)
}

/** A socket or config address as it appears in `Host`: IPv6 in brackets, IPv4-mapped unwrapped. */
export function addressAsHostName(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')
  return a.includes(':') ? `[${a}]` : a
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', ''])

/** The listener a request came in on: its local address and port, when there is a socket. */
export function listenerOf(c: Context): { address?: string; port?: number } {
  const socket = (
    c.env as { incoming?: { socket?: { localAddress?: string; localPort?: number } } }
  )?.incoming?.socket
  return { address: socket?.localAddress, port: socket?.localPort }
}

export interface HostRules {
  /** The port the listener serves; loopback names and its own address must name it. */
  port: number
  /** The address the listener is bound to (`listen.*.host`); a wildcard adds nothing. */
  boundAddress: string
  /** Names configured by the operator, accepted on any port (a reverse proxy may drop it). */
  names: readonly string[]
  /**
   * Whether loopback names and the listener's own address are accepted on any port too. The
   * portal's names say nothing about ports (guests reach it by redirects and DHCP option 114).
   */
  anyPort?: boolean
}

/**
 * Whether a request's authority is one of the listener's own: a loopback name, the address the
 * listener is bound to, the local address the connection came in on (the box's own address
 * when bound to all of them), each with the listener's port; or a configured name.
 */
export function isOwnAuthority(
  a: Authority,
  rules: HostRules,
  local: { address?: string; port?: number } = {},
): boolean {
  if (rules.names.some((n) => sameName(n, a))) return true
  const port = local.port ?? rules.port
  if (!rules.anyPort && a.port !== port) return false
  if (LOOPBACK_NAMES.includes(a.name)) return true
  const bound = addressAsHostName(rules.boundAddress)
  if (!WILDCARDS.has(bound) && a.name === bound) return true
  return local.address !== undefined && a.name === addressAsHostName(local.address)
}

/** A configured name: `name` matches it on any port; `name:port` only on that port. */
function sameName(configured: string, a: Authority): boolean {
  const c = parseAuthority(configured, 'http')
  if (!c) return false
  return c.name === a.name && (!/:\d+$/.test(configured.trim()) || c.port === a.port)
}

/**
 * Middleware refusing any request whose `Host` is not one of the listener's own names, before
 * anything else runs (no session read, no cookie set, no page): `refuse` answers it.
 */
export function hostCheck(rules: HostRules, refuse: (c: Context) => Response): MiddlewareHandler {
  return async (c, next) => {
    const a = requestAuthority(c)
    if (!a || !isOwnAuthority(a, rules, listenerOf(c))) return refuse(c)
    await next()
  }
}

/**
 * Middleware refusing a cross-site form post with 403: one whose `Origin` names another host
 * than the request's, or that the browser marks `Sec-Fetch-Site: cross-site`. Kept instead of
 * Hono's `csrf()`, which lets a post in when either header looks right (so a same-origin
 * `Origin` with `Sec-Fetch-Site: cross-site` passes) and refuses one carrying neither: captive
 * sheets of older phones send neither, so such a post is let in here, and what binds it is the
 * portal's code and MAC or the console's CSRF token.
 */
export function refuseCrossSitePosts(): MiddlewareHandler {
  return async (c, next) => {
    const origin = c.req.header('origin')
    const host = c.req.header('host') ?? new URL(c.req.url).host
    const crossOrigin = origin !== undefined && origin !== 'null' && hostOf(origin) !== host
    if (crossOrigin || c.req.header('sec-fetch-site') === 'cross-site')
      throw new HTTPException(403, { message: 'cross-site form post' })
    await next()
  }
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host
  } catch {
    return null
  }
}
