import { randomBytes } from 'node:crypto'
import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { ConsoleLoginError, type ConsoleAuth } from '../auth.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { LOGIN_COOKIE, SESSION_COOKIE, signedIn, throttledSentence } from '../session.js'

export interface SignInDeps {
  render: Render
  auth: Pick<ConsoleAuth, 'login' | 'logout'>
  clientAddress: (c: Context) => string | undefined
  /** True when the console runs TLS: cookies are then `Secure`. */
  secure: boolean
}

/** Sign-in (`/login`, open to all) and sign-out (`/logout`). */
export function signInPage(deps: SignInDeps) {
  const app = new Hono<ConsoleEnv>()

  const loginPage = (
    c: Context<ConsoleEnv>,
    data: Record<string, unknown>,
    status: 200 | 401 | 429 = 200,
  ) => {
    // Reuse the pre-sign-in token while it lives: a second sign-in page (another tab, or a
    // browser's favicon request bounced to /login) must not invalidate the first form.
    const existing = getCookie(c, LOGIN_COOKIE)
    const token =
      existing && /^[A-Za-z0-9_-]{24}$/.test(existing)
        ? existing
        : randomBytes(18).toString('base64url')
    setCookie(c, LOGIN_COOKIE, token, {
      path: '/login',
      httpOnly: true,
      sameSite: 'Strict',
      secure: deps.secure,
    })
    return deps.render(
      c,
      'console/login',
      { loginCsrf: token, next: safeNext(c.req.query('next'), c.req.url), name: '', ...data },
      status,
    )
  }

  app.get('/login', (c) => (c.get('user') ? c.redirect('/', 303) : loginPage(c, {})))

  app.post('/login', async (c) => {
    const form = c.get('form')
    const name = (form.name ?? '').trim().slice(0, 40)
    const next = safeNext(form.next, c.req.url)
    try {
      const { token, user } = await deps.auth.login(
        name,
        form.password ?? '',
        deps.clientAddress(c) ?? 'unknown',
      )
      setCookie(c, SESSION_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'Strict',
        secure: deps.secure,
      })
      deleteCookie(c, LOGIN_COOKIE, { path: '/login' })
      return c.redirect(user.mustChange ? '/password' : next, 303)
    } catch (err) {
      if (!(err instanceof ConsoleLoginError)) throw err
      if (err.reason === 'throttled') {
        return loginPage(c, { name, next, error: throttledSentence(c, err) }, 429)
      }
      return loginPage(c, { name, next, error: ct(c.get('locale'), 'login.invalid') }, 401)
    }
  })

  app.post('/logout', signedIn, (c) => {
    deps.auth.logout(c.get('user')!)
    deleteCookie(c, SESSION_COOKIE, { path: '/' })
    return c.redirect('/login', 303)
  })

  return app
}

/**
 * Where sign-in sends the reader: `next` resolved as a URL against the console's own origin
 * (`requestUrl`), kept only when it stays on that origin; then its path and query, which is all
 * the Location header gets. Control characters are refused before parsing (the URL parser drops
 * tab, CR and LF silently, so `/\t/evil.example` would become `//evil.example`), so are
 * backslashes (browsers read them as `/`), and so is a path that still starts with `//` once
 * resolved (`/..//evil.example`), which a browser would read as another host. Anything else: "/".
 */
export function safeNext(next: string | undefined, requestUrl: string): string {
  if (!next || next.length > 500 || /[\u0000-\u001f\u007f-\u009f\\]/.test(next)) return '/'
  let target: URL
  let origin: string
  try {
    origin = new URL(requestUrl).origin
    target = new URL(next, origin)
  } catch {
    return '/'
  }
  if (target.origin !== origin || target.pathname.startsWith('//')) return '/'
  return target.pathname + target.search
}
