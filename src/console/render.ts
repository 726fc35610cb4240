import { createHash } from 'node:crypto'
import { atRoot } from '../paths.js'
import { readFileSync } from 'node:fs'
import type { Context } from 'hono'
import type { Config } from '../config.js'
import { displayPhone } from '../customers/phone.js'
import type { Locale } from '../i18n/messages.js'
import { BUILD } from '../version.js'
import type { Views } from '../views.js'
import type { ConsoleUser } from './auth.js'
import { ct, formatters, type SpanishTag } from './messages.js'

/** What every console request carries: the reader's language, who is signed in, the posted form. */
export interface ConsoleEnv {
  Variables: { locale: Locale; user: ConsoleUser | null; form: Record<string, string> }
}

export const CONSOLE_CSS = readFileSync(atRoot('public/console.css'))
const CSS_VERSION = createHash('sha256').update(CONSOLE_CSS).digest('hex').slice(0, 10)

export type PageStatus = 200 | 400 | 401 | 403 | 404 | 413 | 422 | 429 | 500

/** Renders a console view with what every page shows (language, user, branch, CSRF token). */
export type Render = (
  c: Context<ConsoleEnv>,
  view: string,
  data?: Record<string, unknown>,
  status?: PageStatus,
) => Response

export interface RenderDeps {
  views: Views
  branch: Config['branch']
  passByMinutes: number
  /** Spanish dates and numbers as in Mexico (default) or Spain. */
  spanish?: SpanishTag
}

export function createRender({ views, branch, passByMinutes, spanish }: RenderDeps): Render {
  return (c, view, data = {}, status = 200) => {
    // An error page can be drawn before the session middleware chose a language (it threw).
    const locale = c.get('locale') ?? 'es'
    const user = c.get('user') ?? null
    const other: Locale = locale === 'es' ? 'en' : 'es'
    return c.html(
      views.render(view, {
        otherLocale: other,
        langHref: switchLanguageHref(c.req.method, c.req.url, other),
        locale,
        t: (key: string, params?: Record<string, string | number>) => ct(locale, key, params),
        f: formatters(locale, branch.timeZone, spanish),
        user,
        csrf: user?.csrf ?? '',
        branch,
        cssVersion: CSS_VERSION,
        build: BUILD,
        path: c.req.path,
        url: c.req.url,
        displayPhone,
        passByMinutes,
        error: null,
        notice: null,
        ...data,
      }),
      status,
    )
  }
}

/**
 * Where the language link goes: the same page (its query kept) for a page read with GET; after
 * a form post, the page the form belongs to is not addressable, so the sign-in page or home.
 * A request for `//evil.example/x` has that path: it is written with one leading slash, so the
 * link never turns into a protocol-relative one.
 */
export function switchLanguageHref(method: string, url: string, lang: Locale): string {
  const u = new URL(url)
  if (method !== 'GET') return `${u.pathname === '/login' ? '/login' : '/'}?lang=${lang}`
  u.searchParams.set('lang', lang)
  return `/${u.pathname.replace(/^\/+/, '')}${u.search}`
}
