import { createHash } from 'node:crypto'
import { atRoot } from '../paths.js'
import { readFileSync } from 'node:fs'
import type { Context } from 'hono'
import type { Config } from '../config.js'
import { privacyLawOf } from '../customers/config.js'
import { formatTagOf, languageOf, t, type Locale, type Voice } from '../i18n/messages.js'
import type { Views } from '../views.js'

export const PORTAL_CSS = readFileSync(atRoot('public/portal.css'))
export const PORTAL_CSS_VERSION = createHash('sha256').update(PORTAL_CSS).digest('hex').slice(0, 10)

/** What the form showed, so a refusal can show it again with what the customer typed. */
export type PageState =
  | {
      view: 'portal/splash'
      values: { name: string; phone: string; consent: boolean; marketing: boolean }
      /** The offer of access without a code (issue 17), when codes cannot be sent. */
      withoutCode?: { minutes: number }
    }
  | { view: 'portal/opt-out'; values: { phone: string } }
  | { view: 'portal/pass'; values: { pass: string } }
  | {
      view: 'portal/code'
      values: { code: string }
      challenge: {
        id: string
        /** A login, or stopping promotions: which forms the page posts to. */
        purpose: 'login' | 'opt-out'
        digits: number
        phoneDisplay: string
        resendWait: number
        /** How the current code was sent. */
        channel: 'sms' | 'whatsapp'
        /** Whether the other channel may be asked for (WhatsApp is configured). */
        offerWhatsapp: boolean
      }
    }

export interface RenderOptions {
  error?: string | null
  notice?: string | null
  fieldErrors?: Record<string, string>
  title?: string
  showLangSwitch?: boolean
  [key: string]: unknown
}

/** Renders a portal page with everything the layout needs. */
export function renderPage(
  views: Views,
  config: Config,
  voice: Voice,
  view: string,
  opts: RenderOptions,
): string {
  const locale = languageOf(voice)
  const other: Locale = locale === 'es' ? 'en' : 'es'
  // Messages with a form for the branch's country (the example number) use it.
  const region = config.phone.defaultRegion
  // The privacy document is named as the branch's law names it, like its body (i18n/messages.ts).
  const spainLaw = privacyLawOf(config) === 'gdpr'
  const say = (key: string, params?: Record<string, string | number>) =>
    t(voice, key, params, region, spainLaw)
  const title = opts.title ?? say('splash.title')
  const failed = !!opts.error || Object.keys(opts.fieldErrors ?? {}).length > 0
  const data = {
    locale,
    /** The page's language with its region (es-MX, es-ES, en-US), for <html lang>. */
    htmlLang: formatTagOf(voice),
    otherLocale: other,
    t: say,
    branch: config.branch,
    cssVersion: PORTAL_CSS_VERSION,
    switchLangHref: opts.showLangSwitch ? `/?lang=${other}` : null,
    error: null,
    notice: null,
    fieldErrors: {},
    values: {},
    privacyNotice: config.privacy.notice[locale] ?? config.privacy.notice.es ?? '',
    // The full notice: branchgate serves it (issue 15) unless the operator links another.
    noticeUrl: config.privacy.noticeUrl ?? '/aviso-de-privacidad',
    ...opts,
    // A page that refuses something says so in its title, the first thing a screen reader reads.
    title: failed ? `${say('error.titlePrefix')}: ${title}` : title,
  }
  // The layout is composed here rather than with EJS include(), which looks the partial up on
  // disk at every render.
  return (
    views.render('partials/head', data) +
    views.render(view, data) +
    views.render('partials/foot', data)
  )
}

/**
 * Headers of every portal page: never cached, never framed, no script, forms only to us.
 *
 * Pages are sent as a Response built with a plain header object, and extra headers (the language
 * cookie, Retry-After) travel in the context variable `pageHeaders` rather than c.header(): both
 * c.header() and c.html(body, status, headers) build a WHATWG Headers object per request, which
 * cost a third of the splash page's throughput. (Hono's secureHeaders() sets its headers that
 * way, hence these fixed ones; the console, where speed matters less, uses secureHeaders.)
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=UTF-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
})

/** Sends a rendered portal page with PAGE_HEADERS and any `pageHeaders` set on the context. */
export function sendPage(
  c: Context,
  html: string | Uint8Array,
  status: number = 200,
  extra?: Record<string, string>,
): Response {
  const fromContext = c.get('pageHeaders') as Record<string, string> | undefined
  const headers =
    fromContext || extra
      ? { ...PAGE_HEADERS, ...fromContext, ...extra }
      : (PAGE_HEADERS as Record<string, string>)
  return new Response(html, { status, headers })
}
