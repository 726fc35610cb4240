import type { AuditRow } from '../db/console.js'
import { ct, type ConsoleVoice, type Formatters } from './messages.js'

/**
 * One piece of an audit sentence: plain text, a MAC address (kept on one line), or a link (a
 * customer's page). The view escapes every piece.
 */
export type AuditPart = string | { mac: string } | { href: string; text: string }

/** An audit log line as the manager reads it: when, and one sentence saying who did what. */
export interface AuditLine {
  id: number
  at: number
  /** The recorded action code, kept for filtering and for support, not shown as the sentence. */
  action: string
  sentence: AuditPart[]
}

type Detail = Record<string, unknown>

/**
 * Every action the code records (grep `action:` and `audit.record`), with what its sentence
 * needs. An action missing here still reads as a sentence: "who — action (subject)".
 */
const SENTENCES: Record<
  string,
  (row: AuditRow, d: Detail, v: Values) => { key: string; params: Record<string, AuditPart> }
> = {
  'device.allow': (r, d, v) => ({
    key: d.customerId == null ? 'audit.say.device.allow' : 'audit.say.device.allow.customer',
    params: {
      mac: v.mac(r.subject),
      until: v.time(d.until),
      reason: v.reason(r.reason),
      customer: v.customer(d.customerId),
    },
  }),
  'device.revoke': (r, _d, v) => ({
    key: 'audit.say.device.revoke',
    params: { mac: v.mac(r.subject), reason: v.reason(r.reason) },
  }),
  'device.allow.failed': (r, d, v) => ({
    key: 'audit.say.device.allow.failed',
    params: { mac: v.mac(r.subject), reason: v.reason(r.reason), error: v.text(d.error) },
  }),
  'device.revoke.failed': (r, d, v) => ({
    key: 'audit.say.device.revoke.failed',
    params: { mac: v.mac(r.subject), reason: v.reason(r.reason), error: v.text(d.error) },
  }),
  'device.staff': (r, d, v) => ({
    key: 'audit.say.device.staff',
    params: { mac: v.mac(r.subject), customer: v.customer(d.customerId) },
  }),
  'device.unstaff': (r, d, v) => ({
    key: 'audit.say.device.unstaff',
    params: { mac: v.mac(r.subject), customer: v.customer(d.customerId) },
  }),
  'customer.create': (r, d, v) => ({
    key: 'audit.say.customer.create',
    params: { customer: v.customer(r.subject), mac: v.mac(d.mac) },
  }),
  'customer.verify': (r, d, v) => ({
    key: 'audit.say.customer.verify',
    params: { customer: v.customer(r.subject), mac: v.mac(d.mac) },
  }),
  'customer.export': (r, _d, v) => ({
    key: 'audit.say.customer.export',
    params: { customer: v.customer(r.subject) },
  }),
  'customer.erase': (r, _d, v) => ({
    key: 'audit.say.customer.erase',
    // Erased: the page remains, anonymous, and says so.
    params: { customer: v.customer(r.subject), reason: v.reason(r.reason) },
  }),
  // Privacy (issue 15).
  'marketing.export': () => ({ key: 'audit.say.marketing.export', params: {} }),
  'customer.block': (r, _d, v) => ({
    key: 'audit.say.customer.block',
    params: { customer: v.text(`#${r.subject}`), reason: v.reason(r.reason) },
  }),
  'customer.delete': (r, d, v) => ({
    key: 'audit.say.customer.delete',
    params: {
      customer: v.text(`#${r.subject}`),
      visits: v.text(d.visits),
      reason: v.reason(r.reason),
    },
  }),
  'consent.withdraw': (r, _d, v) => ({
    key: 'audit.say.consent.withdraw',
    params: { customer: v.customer(r.subject), reason: v.reason(r.reason) },
  }),
  'consent.renew': (r, d, v) => ({
    key: 'audit.say.consent.renew',
    params: { customer: v.customer(r.subject), version: v.text(d.noticeVersion) },
  }),
  'customer.rename': (r, _d, v) => ({
    key: 'audit.say.customer.rename',
    params: { customer: v.customer(r.subject) },
  }),
  'rights.record': (r, d, v) => ({
    key: 'audit.say.rights.record',
    params: { request: v.text(d.request), kind: v.kind(r.reason), customer: v.customer(r.subject) },
  }),
  'rights.done': (r, d, v) => ({
    key: 'audit.say.rights.done',
    params: { request: v.text(d.request), kind: v.kind(r.reason) },
  }),
  'rights.refuse': (r, d, v) => ({
    key: 'audit.say.rights.refuse',
    params: { request: v.text(d.request), kind: v.kind(r.reason) },
  }),
  'retention.capped': (_r, d, v) => ({
    key: 'audit.say.retention.capped',
    params: { clock: v.time(d.clockAt), effective: v.time(d.effectiveAt) },
  }),
  'visits.export': (_r, d, v) => ({
    key: 'audit.say.visits.export',
    params: { from: v.day(d.from), to: v.day(d.to) },
  }),
  'campaign.import': (_r, d, v) => ({
    key: 'audit.say.campaign.import',
    params: {
      rows: v.text(d.rows),
      added: v.text(d.added),
      campaigns: Array.isArray(d.campaigns) ? d.campaigns.map(String).join(', ') : '',
    },
  }),
  'console.login': (_r, d, v) => ({ key: 'audit.say.console.login', params: { ip: v.text(d.ip) } }),
  'console.login.failed': (r, d, v) => ({
    key: 'audit.say.console.login.failed',
    params: { name: v.text(r.subject), ip: v.text(d.ip), reason: v.reason(r.reason) },
  }),
  'console.login.throttled': (r, d, v) => ({
    key: 'audit.say.console.login.throttled',
    params: { name: v.text(r.subject), ip: v.text(d.ip) },
  }),
  'console.logout': () => ({ key: 'audit.say.console.logout', params: {} }),
  'console.user.add': (r, d, v) => ({
    key: 'audit.say.console.user.add',
    params: { name: v.text(r.subject), role: v.role(d.role) },
  }),
  'console.user.remove': (r, _d, v) => ({
    key: 'audit.say.console.user.remove',
    params: { name: v.text(r.subject) },
  }),
  'console.user.passwd': (r, _d, v) => ({
    key:
      r.actor === `user:${r.subject}`
        ? 'audit.say.console.user.passwd.own'
        : 'audit.say.console.user.passwd',
    params: { name: v.text(r.subject) },
  }),
  'sms.breaker.open': (r, d, v) => ({
    key: 'audit.say.sms.breaker.open',
    params: { until: v.time(d.until), reason: v.reason(r.reason) },
  }),
  'sms.prefix.block': (r, d, v) => ({
    key: 'audit.say.sms.prefix.block',
    params: { prefix: v.text(r.subject), until: v.time(d.until), reason: v.reason(r.reason) },
  }),
  'sms.hold.lift': (r, d, v) => ({
    key:
      d.scope === 'prefix' || r.subject
        ? 'audit.say.sms.prefix.lift'
        : 'audit.say.sms.breaker.lift',
    params: { prefix: v.text(r.subject) },
  }),
  // Issue 17: rates and the allowance, access without a code, staff passes.
  'device.rate': (r, d, v) => ({
    key: d.slowed ? 'audit.say.device.rate.slowed' : 'audit.say.device.rate',
    params: { mac: v.mac(r.subject), reason: v.reason(r.reason) },
  }),
  'unverified.grant': (r, d, v) => ({
    key: 'audit.say.unverified.grant',
    params: { mac: v.mac(r.subject), until: v.time(d.until), reason: v.reason(r.reason) },
  }),
  'pass.issue': (r, d, v) => ({
    key: 'audit.say.pass.issue',
    params: { pass: v.text(r.subject), minutes: v.text(d.minutes) },
  }),
  'pass.revoke': (r, _d, v) => ({
    key: 'audit.say.pass.revoke',
    params: { pass: v.text(r.subject) },
  }),
  'pass.exhausted': (r, d, v) => ({
    key: 'audit.say.pass.exhausted',
    params: { pass: v.text(r.subject), mac: v.mac(d.mac) },
  }),
}

interface Values {
  mac(v: unknown): AuditPart
  time(v: unknown): string
  day(v: unknown): string
  text(v: unknown): string
  reason(v: string | null): string
  role(v: unknown): string
  customer(v: unknown): AuditPart
  /** A rights request's kind, in the reader's language. */
  kind(v: string | null): string
}

/** The audit actions the sentences above cover (tests check the code records no other). */
export const DESCRIBED_ACTIONS: readonly string[] = Object.keys(SENTENCES)

/** Who did it, as a manager names them: a console user by name, the portal, the system, … */
export function actorName(actor: string, locale: ConsoleVoice): string {
  const user = /^user:(.+)$/.exec(actor)
  if (user) return user[1]!
  const cli = /^cli:(.+)$/.exec(actor)
  if (cli) return ct(locale, 'audit.who.cliUser', { name: cli[1]! })
  const known = `audit.who.${actor}`
  const text = ct(locale, known)
  return text === known ? actor : text
}

/**
 * An audit row as one sentence in the reader's language, e.g. "ana revocó el acceso de
 * 02:00:00:00:00:ad — motivo: revocado a mano". Never throws on a row it does not know or on
 * damaged detail: it then falls back to "who — action (subject)".
 */
export function describeAudit(row: AuditRow, locale: ConsoleVoice, f: Formatters): AuditLine {
  let detail: Detail = {}
  try {
    const parsed: unknown = row.detail ? JSON.parse(row.detail) : {}
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) detail = parsed as Detail
  } catch {
    detail = {}
  }
  const text = (v: unknown) => (v === null || v === undefined ? '' : String(v))
  const values: Values = {
    mac: (v) => ({ mac: text(v) }),
    time: (v) => (typeof v === 'number' && Number.isFinite(v) ? f.dateTime(v) : text(v)),
    day: (v) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? f.day(v) : text(v)),
    text,
    reason: (v) => {
      if (!v) return '—'
      const key = `audit.why.${v}`
      const said = ct(locale, key)
      return said === key ? v : said
    },
    role: (v) => {
      const key = `role.${text(v)}`
      const said = ct(locale, key)
      return said === key ? text(v) : said
    },
    kind: (v) => {
      const key = `requests.kind.${v ?? ''}`
      const said = ct(locale, key)
      return said === key ? text(v) : said
    },
    customer: (v) => {
      const id = Number(v)
      return Number.isSafeInteger(id) && id > 0
        ? { href: `/customers/${id}`, text: `#${id}` }
        : text(v)
    },
  }
  const who = actorName(row.actor, locale)
  const describe = SENTENCES[row.action]
  let sentence: AuditPart[]
  if (describe) {
    const { key, params } = describe(row, detail, values)
    sentence = fill(ct(locale, key), { who, ...params })
  } else {
    sentence = fill(ct(locale, 'audit.say.other'), {
      who,
      action: row.action,
      subject: row.subject ?? '—',
    })
  }
  return { id: row.id, at: row.at, action: row.action, sentence }
}

/** Fills `{name}` placeholders with parts, keeping MACs and links as their own pieces. */
function fill(template: string, params: Record<string, AuditPart>): AuditPart[] {
  const out: AuditPart[] = []
  let last = 0
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    if (m.index > last) out.push(template.slice(last, m.index))
    const p = params[m[1]!]
    out.push(p === undefined ? m[0] : p)
    last = m.index + m[0].length
  }
  if (last < template.length) out.push(template.slice(last))
  // Merge neighbouring text so the view writes fewer pieces.
  return out.reduce<AuditPart[]>((acc, p) => {
    const prev = acc[acc.length - 1]
    if (typeof p === 'string' && typeof prev === 'string') acc[acc.length - 1] = prev + p
    else acc.push(p)
    return acc
  }, [])
}

/** The sentence as plain text (tests, logs). */
export function sentenceText(parts: readonly AuditPart[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : 'mac' in p ? p.mac : p.text)).join('')
}
