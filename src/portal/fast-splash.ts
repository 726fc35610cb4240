import type { Voice } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { PAGE_HEADERS } from './page.js'

/**
 * The splash page without the framework, for the request every phone sends most (issue 20).
 *
 * GET / from a phone the portal knows nothing about is answered with the same bytes every time
 * for a given language: the empty splash page. Through Hono and the portal's middleware
 * (device, Host check, language, the route) that answer cost the server about twice the CPU of
 * the same bytes sent by a bare Hono route (53 against 27 µs a request in the bench), spread over
 * many small steps, none above a few percent of the profile. Here the answer is given before
 * the app is entered, synchronously, when it is certainly the one the app would give:
 *
 * - The request is `GET /` exactly (no query, no absolute URL), with a `Host` and no `Cookie`.
 * - The app itself answered an earlier GET / with the same `Host`, `Accept-Language` and
 *   listener (local address, port, TLS): so that `Host` passed the listener's Host check and
 *   that `Accept-Language` chose this voice. Nothing else goes into either (no query and no
 *   cookie here; src/host-check.ts, the language middleware in routes.ts).
 * - The neighbour table knows the phone's MAC without asking the kernel (a map read); a phone
 *   it does not know yet goes through the app, which asks.
 * - The routes say this device gets the empty splash page: no standing (not staff, not a
 *   customer's device) and nothing live (`page` below, the same reads the route makes). Its
 *   funnel step is counted there.
 *
 * Any other request, and any of these not known, goes to the app as before. What is remembered
 * is a few hundred keys at most (phones send a handful of Accept-Language values), capped.
 */
export interface FastSplashDeps {
  /** The MAC of a socket's peer when the neighbour table knows it without a lookup. */
  known(address: string): Mac | null | undefined
  /**
   * The empty splash page's bytes in `voice` when GET / gives this device that page, with its
   * funnel step counted; undefined when the device gets another page (the app decides then).
   */
  page(mac: Mac, voice: Voice, userAgent: string | undefined): Uint8Array | undefined
}

/** The part of Node's request the fast paths read (`env.incoming` from @hono/node-server). */
export interface Incoming {
  method?: string
  url?: string
  headers: Record<string, string | string[] | undefined>
  socket: {
    remoteAddress?: string
    localAddress?: string
    localPort?: number
    encrypted?: boolean
  }
}

export interface FastSplash {
  /** The answer to this request, or undefined: the app answers it. */
  answer(env: unknown): Response | undefined
  /**
   * Told by the app's GET / what voice it chose for a request that passed the Host check, when
   * nothing but `Accept-Language` chose it.
   */
  learn(env: unknown, voice: Voice): void
}

const LIMIT = 1000

export const incomingOf = (env: unknown): Incoming | undefined =>
  (env as { incoming?: Incoming } | undefined)?.incoming

/** A request's `Host` and the listener it came in on: what the Host check decides by. */
export function hostAndListener(incoming: Incoming, host: string): string {
  const s = incoming.socket
  return `${host}\n${s.localAddress}\n${s.localPort}\n${s.encrypted ? 's' : ''}`
}

/** The request's key when it can be answered here at all, else null. */
function keyOf(incoming: Incoming | undefined): string | null {
  if (!incoming || incoming.method !== 'GET' || incoming.url !== '/') return null
  const h = incoming.headers
  if (h.cookie !== undefined || typeof h.host !== 'string') return null
  const language = h['accept-language']
  return `${hostAndListener(incoming, h.host)}\n${typeof language === 'string' ? language : ''}`
}

export function createFastSplash(deps: FastSplashDeps): FastSplash {
  const voices = new Map<string, Voice>()
  return {
    answer(env) {
      const incoming = incomingOf(env)
      const key = keyOf(incoming)
      if (key === null) return undefined
      const voice = voices.get(key)
      if (voice === undefined) return undefined
      const address = incoming!.socket.remoteAddress
      const mac = address ? deps.known(address) : undefined
      if (!mac) return undefined
      const ua = incoming!.headers['user-agent']
      const bytes = deps.page(mac, voice, typeof ua === 'string' ? ua : undefined)
      if (bytes === undefined) return undefined
      return new Response(bytes, { status: 200, headers: PAGE_HEADERS })
    },
    learn(env, voice) {
      const key = keyOf(incomingOf(env))
      if (key !== null && voices.size < LIMIT) voices.set(key, voice)
    },
  }
}
