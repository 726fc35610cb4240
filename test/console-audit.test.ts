import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DESCRIBED_ACTIONS, describeAudit, sentenceText } from '../src/console/audit-text.js'
import { formatters } from '../src/console/messages.js'
import type { AuditRow } from '../src/db/console.js'
import { consoleHarness } from './console-harness.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

const TZ = 'America/Mexico_City'
const SRC = path.resolve(import.meta.dirname, '../src')

/** Every action code the code records: the quoted dotted verbs on `action:` lines under src/. */
function recordedActions(): string[] {
  const found = new Set<string>()
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith('.ts') && !p.endsWith('audit-text.ts'))
        for (const line of readFileSync(p, 'utf8').split('\n'))
          if (/\baction:/.test(line))
            for (const m of line.matchAll(/'([a-z]+(?:\.[a-z]+)+)'/g)) found.add(m[1]!)
    }
  }
  walk(SRC)
  return [...found].sort()
}

const row = (p: Partial<AuditRow> & Pick<AuditRow, 'actor' | 'action'>): AuditRow => ({
  id: 1,
  at: Date.parse('2026-03-02T15:00:00Z'),
  subject: null,
  reason: null,
  detail: null,
  ...p,
})
const say = (r: AuditRow, locale: 'es' | 'en' = 'es') =>
  sentenceText(describeAudit(r, locale, formatters(locale, TZ)).sentence)

/** One realistic row per action, as the code writes it. */
const SAMPLES: Record<string, AuditRow> = {
  'device.allow': row({
    actor: 'portal',
    action: 'device.allow',
    subject: '02:00:00:00:00:ad',
    reason: 'login',
    detail: JSON.stringify({
      until: Date.parse('2026-03-02T23:00:00Z'),
      customerId: 7,
      visitId: 'v',
    }),
  }),
  'device.revoke': row({
    actor: 'user:ana',
    action: 'device.revoke',
    subject: '02:00:00:00:00:ad',
    reason: 'revoke',
    detail: JSON.stringify({ authorizationsEnded: 1 }),
  }),
  'device.allow.failed': row({
    actor: 'cli:root',
    action: 'device.allow.failed',
    subject: '02:00:00:00:00:ad',
    reason: 'manual-allow',
    detail: JSON.stringify({ error: 'nft: Operation not permitted' }),
  }),
  'device.revoke.failed': row({
    actor: 'system',
    action: 'device.revoke.failed',
    subject: '02:00:00:00:00:ad',
    reason: 'idle',
    detail: JSON.stringify({ error: 'nft: No such file or directory' }),
  }),
  'device.staff': row({
    actor: 'user:root',
    action: 'device.staff',
    subject: '3a:11:22:33:44:55',
    detail: JSON.stringify({ customerId: 3 }),
  }),
  'device.unstaff': row({
    actor: 'user:root',
    action: 'device.unstaff',
    subject: '3a:11:22:33:44:55',
    detail: JSON.stringify({ customerId: 3 }),
  }),
  'customer.create': row({
    actor: 'portal',
    action: 'customer.create',
    subject: '7',
    reason: 'otp',
    detail: JSON.stringify({ mac: '02:00:00:00:00:ad', challenge: 'c1' }),
  }),
  'customer.verify': row({
    actor: 'portal',
    action: 'customer.verify',
    subject: '7',
    reason: 'otp',
    detail: JSON.stringify({ mac: '02:00:00:00:00:ad', challenge: 'c2' }),
  }),
  'customer.export': row({ actor: 'user:maria', action: 'customer.export', subject: '7' }),
  'customer.erase': row({
    actor: 'user:root',
    action: 'customer.erase',
    subject: '7',
    reason: 'arco-request',
  }),
  'visits.export': row({
    actor: 'user:maria',
    action: 'visits.export',
    detail: JSON.stringify({ from: '2026-02-25', to: '2026-03-02', format: 'csv' }),
  }),
  'campaign.import': row({
    actor: 'user:maria',
    action: 'campaign.import',
    detail: JSON.stringify({ rows: 5, added: 4, campaigns: ['Marzo', 'Hoy'] }),
  }),
  'console.login': row({
    actor: 'user:maria',
    action: 'console.login',
    subject: 'maria',
    detail: JSON.stringify({ ip: '192.168.50.10' }),
  }),
  'console.login.failed': row({
    actor: 'console',
    action: 'console.login.failed',
    subject: 'mario',
    reason: 'unknown-user',
    detail: JSON.stringify({ ip: '192.168.50.11' }),
  }),
  'console.login.throttled': row({
    actor: 'console',
    action: 'console.login.throttled',
    subject: 'maria',
    detail: JSON.stringify({ ip: '192.168.50.11' }),
  }),
  'console.logout': row({ actor: 'user:maria', action: 'console.logout', subject: 'maria' }),
  'console.user.add': row({
    actor: 'cli:root',
    action: 'console.user.add',
    subject: 'maria',
    detail: JSON.stringify({ role: 'manager' }),
  }),
  'console.user.remove': row({ actor: 'cli:root', action: 'console.user.remove', subject: 'beto' }),
  'console.user.passwd': row({
    actor: 'user:maria',
    action: 'console.user.passwd',
    subject: 'maria',
  }),
  'sms.breaker.open': row({
    actor: 'system',
    action: 'sms.breaker.open',
    reason: '40 codes in the last hour (limit 40)',
    detail: JSON.stringify({ until: Date.parse('2026-03-02T16:00:00Z') }),
  }),
  'sms.prefix.block': row({
    actor: 'system',
    action: 'sms.prefix.block',
    subject: '+52551234',
    reason: '1 of 12 numbers verified (8%, normal 60%)',
    detail: JSON.stringify({ until: Date.parse('2026-03-02T16:00:00Z') }),
  }),
  'sms.hold.lift': row({
    actor: 'cli:ana',
    action: 'sms.hold.lift',
    reason: 'sms-resume',
    detail: JSON.stringify({ scope: 'branch', until: 1 }),
  }),
  // Privacy (issue 15).
  'customer.block': row({
    actor: 'system',
    action: 'customer.block',
    subject: '7',
    reason: 'retention',
    detail: JSON.stringify({ deleteAfter: 1 }),
  }),
  'customer.delete': row({
    actor: 'system',
    action: 'customer.delete',
    subject: '7',
    reason: 'blocking-ended',
    detail: JSON.stringify({ visits: 12 }),
  }),
  'consent.withdraw': row({
    actor: 'portal',
    action: 'consent.withdraw',
    subject: '7',
    reason: 'portal',
  }),
  'consent.renew': row({
    actor: 'portal',
    action: 'consent.renew',
    subject: '7',
    reason: 'notice-changed',
    detail: JSON.stringify({ noticeVersion: '2026-06' }),
  }),
  'customer.rename': row({
    actor: 'user:maria',
    action: 'customer.rename',
    subject: '7',
    reason: 'rectification',
  }),
  'rights.record': row({
    actor: 'user:maria',
    action: 'rights.record',
    subject: '7',
    reason: 'access',
    detail: JSON.stringify({ request: 3, identityCheck: 'official-id', dueAt: 1 }),
  }),
  'rights.done': row({
    actor: 'user:maria',
    action: 'rights.done',
    subject: '7',
    reason: 'cancellation',
    detail: JSON.stringify({ request: 3, late: false }),
  }),
  'rights.refuse': row({
    actor: 'user:maria',
    action: 'rights.refuse',
    subject: null,
    reason: 'opposition',
    detail: JSON.stringify({ request: 4, late: false }),
  }),
  'retention.capped': row({
    actor: 'system',
    action: 'retention.capped',
    reason: 'clock-step',
    detail: JSON.stringify({
      clockAt: Date.parse('2031-03-02T15:00:00Z'),
      effectiveAt: Date.parse('2026-03-09T15:00:00Z'),
    }),
  }),
  'marketing.export': row({ actor: 'user:maria', action: 'marketing.export' }),
  'device.rate': row({
    actor: 'system',
    action: 'device.rate',
    subject: '02:00:00:00:00:ad',
    reason: 'quota',
    detail: JSON.stringify({
      rate: { downKbps: 256, upKbps: 256 },
      slowed: true,
      tier: 'verified',
    }),
  }),
  'unverified.grant': row({
    actor: 'portal',
    action: 'unverified.grant',
    subject: '02:00:00:00:00:ad',
    reason: 'paused',
    detail: JSON.stringify({ grant: 1, until: 1 }),
  }),
  'pass.issue': row({
    actor: 'user:maria',
    action: 'pass.issue',
    subject: '7',
    detail: JSON.stringify({ minutes: 240, redeemBy: 1, named: true }),
  }),
  'pass.revoke': row({ actor: 'user:maria', action: 'pass.revoke', subject: '7' }),
  'pass.exhausted': row({
    actor: 'portal',
    action: 'pass.exhausted',
    subject: '7',
    detail: JSON.stringify({ mac: '02:00:00:00:00:ad' }),
  }),
}

describe('the audit log in the manager’s language', () => {
  it('has a sentence for every action the code records', () => {
    const recorded = recordedActions()
    expect(recorded.length).toBeGreaterThanOrEqual(22)
    expect(recorded.filter((a) => !DESCRIBED_ACTIONS.includes(a))).toEqual([])
    expect(Object.keys(SAMPLES).sort()).toEqual([...DESCRIBED_ACTIONS].sort())
  })

  it('says each action as a sentence in Spanish and English: no codes, no JSON, no placeholders', () => {
    for (const [action, r] of Object.entries(SAMPLES)) {
      for (const locale of ['es', 'en'] as const) {
        const text = say(r, locale)
        expect(text, `${action} (${locale})`).not.toMatch(/[{}[\]]|"\w+":|user:|cli:|\bundefined\b/)
        expect(text, `${action} (${locale})`).not.toContain(action)
      }
    }
  })

  it('reads as a manager would say it', () => {
    expect(say(SAMPLES['device.revoke']!)).toBe(
      'ana revocó el acceso de 02:00:00:00:00:ad — motivo: revocado a mano',
    )
    expect(say(SAMPLES['device.revoke']!, 'en')).toBe(
      'ana revoked the access of 02:00:00:00:00:ad — reason: revoked by hand',
    )
    expect(say(SAMPLES['device.allow']!)).toBe(
      'El portal dio acceso a 02:00:00:00:00:ad (cliente #7) hasta el 2 mar 2026, 5:00 p.m. — motivo: entró con el código SMS',
    )
    expect(say(SAMPLES['device.allow.failed']!)).toBe(
      'root (línea de comandos) no pudo dar acceso a 02:00:00:00:00:ad: el firewall respondió «nft: Operation not permitted» — motivo: acceso dado a mano',
    )
    expect(say(SAMPLES['console.login.failed']!)).toBe(
      'Entrada fallida a la consola como «mario» desde 192.168.50.11 — motivo: usuario desconocido',
    )
    expect(say(SAMPLES['console.user.passwd']!)).toBe('maria cambió su contraseña')
    expect(say(SAMPLES['visits.export']!, 'en')).toBe(
      'maria exported the visits from Wed, Feb 25, 2026 to Mon, Mar 2, 2026 (CSV)',
    )
    expect(say(SAMPLES['campaign.import']!)).toBe(
      'maria importó 5 envíos de promociones (4 nuevos): Marzo, Hoy',
    )
    expect(say(SAMPLES['sms.hold.lift']!)).toBe(
      'ana (línea de comandos) reanudó el envío de códigos SMS',
    )
  })

  it('still writes a sentence for an action it does not know, or detail it cannot read', () => {
    expect(say(row({ actor: 'system', action: 'sync.park', subject: 'e-1' }))).toBe(
      'El sistema — sync.park (e-1)',
    )
    expect(
      say(row({ actor: 'user:ana', action: 'device.revoke', subject: 'aa', detail: '{broken' })),
    ).toBe('ana revocó el acceso de aa — motivo: —')
  })

  it('shows sentences on the audit page, MACs kept whole and customers linked', async () => {
    h = consoleHarness()
    h.db
      .prepare(
        `INSERT INTO audit_log (at, actor, action, subject, reason, detail) VALUES (@at, @actor, @action, @subject, @reason, @detail)`,
      )
      .run({ ...SAMPLES['device.revoke']!, id: undefined })
    h.db
      .prepare(
        `INSERT INTO audit_log (at, actor, action, subject, reason, detail) VALUES (@at, @actor, @action, @subject, @reason, @detail)`,
      )
      .run({ ...SAMPLES['customer.create']!, id: undefined })
    const admin = await h.signedIn('root', 'admin')
    const html = await (await admin.get('/audit')).text()
    const table = html.split('<table id="audit">')[1]!.split('</table>')[0]!
    expect(table).toContain(
      'ana revocó el acceso de <span class="mac">02:00:00:00:00:ad</span> — motivo: revocado a mano',
    )
    expect(table).toContain('El portal registró al cliente <a href="/customers/7">#7</a>')
    expect(table).toContain('root entró a la consola desde 192.168.50.10')
    const visible = table.replace(/<[^>]+>/g, '')
    expect(visible).not.toMatch(/device\.revoke|console\.login|\{"|user:/)
    const en = await (await admin.get('/audit?lang=en')).text()
    expect(en).toContain('root signed in to the console from 192.168.50.10')
  })
})
