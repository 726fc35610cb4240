import type { Context, MiddlewareHandler } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import { asLocale, pickLocale, type Locale } from '../i18n/messages.js'
import { sameToken, type ConsoleAuth, type ConsoleLoginError } from './auth.js'
import { formFields } from './form.js'
import { consoleVoiceOf, ct } from './messages.js'
import type { ConsoleEnv } from './render.js'
import type { ConsoleWorker } from './worker.js'

export const SESSION_COOKIE = 'bg_console'
export const LOGIN_COOKIE = 'bg_console_login'
const LANG_COOKIE = 'bg_console_lang'

/**
 * Reads who is asking: the language (`?lang=` remembered in a cookie, else the cookie, else the
 * browser's, else the configured default) and the signed-in user, if any.
 */
export function readSession(deps: {
  auth: Pick<ConsoleAuth, 'session'>
  defaultLocale: Locale
  /** The branch is in Spain (privacyLawOf: GDPR): Spain's words in either language. */
  spain: boolean
  /** True when the console runs TLS: cookies are then `Secure`. */
  secure: boolean
}): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const query = asLocale(c.req.query('lang'))
    if (query)
      setCookie(c, LANG_COOKIE, query, {
        path: '/',
        maxAge: 365 * 86400,
        sameSite: 'Strict',
        httpOnly: true,
        secure: deps.secure,
      })
    // The words follow the branch's law, not the reader's browser: a manager in Mexico reading
    // with es-ES still sees the ARCO rights his branch answers to.
    const language = pickLocale(
      query ?? getCookie(c, LANG_COOKIE),
      c.req.header('accept-language'),
      deps.defaultLocale,
    )
    c.set('locale', consoleVoiceOf(language, deps.spain))
    c.set('user', deps.auth.session(getCookie(c, SESSION_COOKIE)))
    await next()
  }
}

/** Reads the posted form into `form`. */
export function readPostedForm(
  worker: Pick<ConsoleWorker, 'readMultipart'>,
): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const contentType = c.req.header('content-type') ?? ''
    const body = await c.req.arrayBuffer().catch(() => new ArrayBuffer(0))
    // An upload (the campaign import, up to 5 MB) is parsed in the console's worker: ~100 ms
    // of JavaScript the portal's guests would otherwise wait behind.
    c.set(
      'form',
      /^multipart\/form-data\b/i.test(contentType)
        ? await worker.readMultipart(body, contentType)
        : await formFields(body, contentType),
    )
    await next()
  }
}

/** The form's `_csrf` must be the session's token (for the sign-in form, its cookie's). */
export const checkCsrfToken: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const expected = c.req.path === '/login' ? getCookie(c, LOGIN_COOKIE) : c.get('user')?.csrf
  if (!expected || !sameToken(c.get('form')._csrf, expected)) {
    throw new HTTPException(403, { message: 'missing or wrong CSRF token' })
  }
  await next()
}

/**
 * A page for signed-in users: others are sent to sign in (a read) or refused (a post); a user
 * who must choose a new password is sent to do that first.
 */
export const signedIn: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const user = c.get('user')
  if (!user) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      const target = c.req.path + (new URL(c.req.url).search || '')
      return c.redirect(`/login?next=${encodeURIComponent(target)}`, 303)
    }
    throw new HTTPException(401, { message: 'not signed in' })
  }
  if (user.mustChange && c.req.path !== '/password' && c.req.path !== '/logout')
    return c.redirect('/password', 303)
  await next()
}

export const adminOnly: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  if (c.get('user')?.role !== 'admin') throw new HTTPException(403, { message: 'admins only' })
  await next()
}

/** The signed-in user as the audit log names them. */
export function actorOf(c: Context<ConsoleEnv>): string {
  return `user:${c.get('user')!.name}`
}

/** Too many wrong passwords: sets Retry-After and says, in the reader's language, how long. */
export function throttledSentence(c: Context<ConsoleEnv>, err: ConsoleLoginError): string {
  c.header('Retry-After', String(err.retryAfterSeconds))
  return ct(c.get('locale'), 'login.throttled', { minutes: Math.ceil(err.retryAfterSeconds / 60) })
}
