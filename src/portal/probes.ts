import type { Context, MiddlewareHandler } from 'hono'
import { isOwnAuthority, listenerOf, requestAuthority, type HostRules } from '../host-check.js'
import type { Mac } from '../mac.js'
import { hostAndListener, incomingOf } from './fast-splash.js'

/**
 * Captive-portal detection. Phones and laptops fetch a known URL when they join a network; if the
 * answer is not exactly what they expect, they open the login sheet. Before login, nftables sends
 * those requests here and we redirect them to the splash page; after login, a probe that still
 * reaches us (a cached DNS answer, a slow flush) gets exactly the expected answer so the sheet
 * turns to "Done".
 */

/** What one OS expects from its probe once online. */
export interface ProbeAnswer {
  status: 200 | 204
  contentType?: string
  body: string
}

export interface Probe {
  /** Who sends it (for docs and logs). */
  os: string
  hosts: readonly string[]
  paths: readonly string[]
  online: ProbeAnswer
}

const APPLE_SUCCESS = '<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>'
const NO_CONTENT: ProbeAnswer = { status: 204, body: '' }
const text = (body: string): ProbeAnswer => ({ status: 200, contentType: 'text/plain', body })

/** The probe table: host names and paths each OS fetches, and what it needs to read "online". */
export const PROBES: readonly Probe[] = [
  {
    os: 'iOS/macOS',
    hosts: [
      'captive.apple.com',
      'www.apple.com',
      'www.appleiphonecell.com',
      'www.itools.info',
      'www.ibook.info',
      'www.airport.us',
      'www.thinkdifferent.us',
    ],
    paths: ['/hotspot-detect.html', '/library/test/success.html'],
    online: { status: 200, contentType: 'text/html', body: APPLE_SUCCESS },
  },
  {
    os: 'Android/ChromeOS/Chrome',
    hosts: [
      'connectivitycheck.gstatic.com',
      'connectivitycheck.android.com',
      'clients1.google.com',
      'clients3.google.com',
      'www.gstatic.com',
      'play.googleapis.com',
      'www.google.com',
      'google.com',
    ],
    paths: ['/generate_204', '/gen_204'],
    online: NO_CONTENT,
  },
  {
    os: 'Windows',
    hosts: ['www.msftconnecttest.com', 'ipv6.msftconnecttest.com'],
    paths: ['/connecttest.txt'],
    online: text('Microsoft Connect Test'),
  },
  {
    os: 'Windows (legacy)',
    hosts: ['www.msftncsi.com'],
    paths: ['/ncsi.txt'],
    online: text('Microsoft NCSI'),
  },
  {
    os: 'Firefox',
    hosts: ['detectportal.firefox.com'],
    paths: ['/canonical.html'],
    online: {
      status: 200,
      contentType: 'text/html',
      body: '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    },
  },
  {
    os: 'Firefox',
    hosts: ['detectportal.firefox.com'],
    paths: ['/success.txt'],
    online: text('success\n'),
  },
  {
    os: 'GNOME/NetworkManager',
    hosts: ['nmcheck.gnome.org'],
    paths: ['/check_network_status.txt'],
    online: text('NetworkManager is online\n'),
  },
  {
    os: 'Ubuntu',
    hosts: ['connectivity-check.ubuntu.com'],
    paths: ['/'],
    online: NO_CONTENT,
  },
]

/** The host a request named, lower-case, without port or trailing dot. */
export function hostOf(hostHeader: string | undefined): string {
  const h = (hostHeader ?? '').trim().toLowerCase()
  const bare = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '')
  return bare.replace(/\.$/, '')
}

/** The probe a request is, by Host and path; null when it is none. */
export function findProbe(host: string, path: string): Probe | null {
  if (!PROBE_HOSTS.has(host)) return null
  return PROBES.find((p) => p.hosts.includes(host) && p.paths.includes(path)) ?? null
}

/** Every probe host, so the common case (not a probe) is one Set lookup. */
const PROBE_HOSTS: ReadonlySet<string> = new Set(PROBES.flatMap((p) => p.hosts))

export interface CaptiveDetectionDeps {
  /**
   * The splash page, where a caught device is sent (config.publicUrl). Asked per redirect: a
   * portal on port 0 knows its URL only once bound (src/main.ts).
   */
  splashUrl: () => string
  /** Hosts that are the portal itself (publicUrl's host, the TLS listener's name...). */
  portalHosts: readonly string[]
  /**
   * The listener (`listen.portal`): loopback names and its own address are the portal too, so
   * the demo opened at http://127.0.0.1:8080 or at the box's LAN address is served.
   */
  listener: { host: string; port: number }
  /** Whether the device behind the request is let through now. */
  isOnline(c: Context): Promise<boolean>
  /** Told of each probe from a device not let through, with its User-Agent (the funnel's first step). */
  onCaptiveProbe?: (probe: Probe, userAgent: string | undefined) => void
  /** Told of each request whose Host is not the portal's on its listener (the fast path's cue). */
  foreign?: (c: Context) => void
}

/**
 * The middleware in front of the portal routes: answers probes by Host and path, and sends any
 * other foreign Host to the splash page. With nftables, those are the plain-HTTP requests the
 * firewall redirected; in the dry-run demo, nothing redirects to us, but a foreign name is
 * still sent away rather than served: a page whose name was pointed at the box (DNS rebinding)
 * must not read the portal's pages as its own (a returning customer's name on the splash page).
 */
export function captiveDetection(deps: CaptiveDetectionDeps): MiddlewareHandler {
  const rules: HostRules = {
    names: deps.portalHosts,
    anyPort: true,
    port: deps.listener.port,
    boundAddress: deps.listener.host,
  }
  const toSplash = (c: Context) => {
    c.header('Cache-Control', 'no-store')
    return c.redirect(deps.splashUrl(), 302)
  }
  return async (c, next) => {
    const authority = requestAuthority(c)
    if (authority && isOwnAuthority(authority, rules, listenerOf(c))) return next()
    deps.foreign?.(c)
    const probe = findProbe(hostOf(c.req.header('host') ?? new URL(c.req.url).host), c.req.path)
    if (probe) {
      if (!(await deps.isOnline(c))) {
        deps.onCaptiveProbe?.(probe, c.req.header('user-agent'))
        return toSplash(c)
      }
      const a = probe.online
      c.header('Cache-Control', 'no-store')
      if (a.status === 204) return c.body(null, 204)
      return c.body(a.body, 200, { 'Content-Type': `${a.contentType}; charset=utf-8` })
    }
    return toSplash(c)
  }
}

/**
 * The probes and redirects of captiveDetection without the framework (issue 20): before login a
 * phone's OS probes every few seconds, and every plain-HTTP request it makes lands here. Answered
 * before the app, synchronously, with what captiveDetection answers, when that is certain:
 *
 * - `GET` of a plain path (no query, no percent-encoding, no dot segment: the app decodes and
 *   resolves paths before it looks them up in the probe table), with a `Host`.
 * - captiveDetection already found that `Host` foreign on this listener (`learn`, told by its
 *   `foreign`): the Host check decides by nothing else.
 * - Not a probe: the redirect to the splash page, as the app sends it (it asks nothing of the
 *   device). A probe: the phone's MAC known to the neighbour table without a lookup, and the
 *   answer by `online` (the same question as captiveDetection's `isOnline`): the redirect and
 *   the funnel's step, or what the OS expects once online.
 */
export interface FastProbesDeps {
  /** The MAC of a socket's peer when the neighbour table knows it without a lookup. */
  known(address: string): Mac | null | undefined
  /** Whether this device is let through now, as `isOnline` answers for it. */
  online(mac: Mac): boolean
  onCaptiveProbe?: (probe: Probe, userAgent: string | undefined) => void
  splashUrl: () => string
}

export interface FastProbes {
  /** The answer to this request, or undefined: the app answers it. */
  answer(env: unknown): Response | undefined
  /** captiveDetection found this request's Host foreign on its listener. */
  learn(env: unknown): void
}

/** Hosts remembered at most: the probe hosts come first; past this, the app answers. */
const FOREIGN_LIMIT = 1000
/**
 * A path the app reads exactly as sent: only characters @hono/node-server passes through
 * untouched (no `%`, which the app decodes; no `?`; no backslash, which it refuses with 400) and no
 * `.` or `..` segment (which it resolves).
 */
const PLAIN_PATH = /^\/[A-Za-z0-9_.~!$&'()*+,;=:@/-]*$/
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/

export function createFastProbes(deps: FastProbesDeps): FastProbes {
  const foreign = new Set<string>()
  return {
    answer(env) {
      const incoming = incomingOf(env)
      if (!incoming || incoming.method !== 'GET') return undefined
      const host = incoming.headers.host
      const path = incoming.url
      if (typeof host !== 'string' || typeof path !== 'string') return undefined
      if (!PLAIN_PATH.test(path) || DOT_SEGMENT.test(path)) return undefined
      if (!foreign.has(hostAndListener(incoming, host))) return undefined
      const probe = findProbe(hostOf(host), path)
      if (probe) {
        const address = incoming.socket.remoteAddress
        const mac = address ? deps.known(address) : undefined
        if (!mac) return undefined
        if (deps.online(mac)) {
          const a = probe.online
          if (a.status === 204)
            return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } })
          return new Response(a.body, {
            status: 200,
            headers: {
              'cache-control': 'no-store',
              'content-type': `${a.contentType}; charset=utf-8`,
            },
          })
        }
        const ua = incoming.headers['user-agent']
        deps.onCaptiveProbe?.(probe, typeof ua === 'string' ? ua : undefined)
      }
      return new Response(null, {
        status: 302,
        headers: { 'cache-control': 'no-store', location: deps.splashUrl() },
      })
    },
    learn(env) {
      const incoming = incomingOf(env)
      const host = incoming?.headers.host
      if (incoming && typeof host === 'string' && foreign.size < FOREIGN_LIMIT)
        foreign.add(hostAndListener(incoming, host))
    },
  }
}
