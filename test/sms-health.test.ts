import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { smsStatusCommand } from '../src/cli/sms-status.js'
import { statusCommand } from '../src/cli/status.js'
import { smsStatements } from '../src/db/sms.js'
import { SMS_FAILURE_KINDS } from '../src/errors.js'
import { smsHealth } from '../src/sms/status.js'
import { consoleHarness } from './console-harness.js'
import { FAKE_CREDENTIALS, FakeProviders } from './fakes/sms-providers.js'
import { smsPortal } from './fakes/sms-portal.js'
import { challengeOf } from './helpers.js'

const fake = new FakeProviders()
beforeAll(() => fake.start())
afterAll(() => fake.stop())
beforeEach(() => fake.reset())

const twilio = (extra: Record<string, unknown> = {}) => ({
  type: 'twilio',
  accountSid: FAKE_CREDENTIALS.twilio.accountSid,
  authToken: FAKE_CREDENTIALS.twilio.authToken,
  from: '+15005550006',
  baseUrl: fake.base,
  // Long: a provider that answers must never time out on a busy machine.
  timeoutMs: 10_000,
  ...extra,
})
const infobip = () => ({
  type: 'infobip',
  baseUrl: fake.base,
  apiKey: FAKE_CREDENTIALS.infobip.apiKey,
  timeoutMs: 10_000,
})

let portal: ReturnType<typeof smsPortal> | undefined
afterEach(() => {
  portal?.close()
  portal = undefined
})
/** Provider tries are written once per event-loop turn. */
const afterThisTurn = () => new Promise((r) => setImmediate(r))

/** Runs a CLI command against the portal's own database, with the same providers. */
async function cli(
  command: typeof statusCommand,
  providers: unknown[],
  p: NonNullable<typeof portal>,
): Promise<string[]> {
  const file = path.join(p.config.dataDir, 'branchgate.json')
  writeFileSync(file, JSON.stringify({ dataDir: p.config.dataDir, sms: { providers } }))
  const lines: string[] = []
  expect(await command.run(['--config', file], {}, (l) => lines.push(l))).toBe(0)
  return lines
}

describe("each SMS provider's health", () => {
  it('shows a wrong Twilio token in sms-status and status, with its time and kind, while failover hides it', async () => {
    const providers = [twilio({ authToken: 'not-the-token' }), infobip()]
    portal = smsPortal({ sms: { providers } })
    const res = await portal.login('55 1234 5678')
    // The customer never notices: the backup provider sent the code.
    expect(res.status).toBe(200)
    await afterThisTurn()
    const expected =
      'sms twilio: last error 2026-03-02 09:00, credentials refused (check the account ID and ' +
      'token in sms.providers) — HTTP 401: {"code":20003,"message":"Authenticate",' +
      '"more_info":"https://www.twilio.com/docs/errors/20003","status":401}; ' +
      'NOTHING DELIVERED THROUGH IT SINCE (last delivery: none on record)'
    for (const command of [smsStatusCommand(portal.clock), statusCommand]) {
      const lines = await cli(command, providers, portal)
      expect(lines).toContain(expected)
      expect(lines).toContain('sms infobip: no error on record')
      const text = lines.join('\n')
      expect(text).not.toContain('not-the-token')
      expect(text).not.toContain('5512345678')
    }
  })

  it('says when a provider delivers again after its last error', async () => {
    // 2 s: long enough that the same Twilio answers in time later on a busy machine.
    portal = smsPortal({ sms: { providers: [twilio({ timeoutMs: 2000 }), infobip()] } })
    fake.mode.twilio = 'hang'
    expect((await portal.login('55 1234 5678')).status).toBe(200)
    await afterThisTurn()
    const failing = smsHealth(portal.db, portal.config, portal.clock.now()).health[0]!
    expect(failing).toMatchObject({
      provider: 'twilio',
      lastError: { kind: 'timeout', detail: 'no answer within 2000 ms' },
      lastSentAt: null,
      failing: true,
    })
    fake.mode.twilio = 'ok'
    portal.clock.advance({ minutes: 5 })
    const res = await portal.login('55 8765 4321', 2)
    expect(res.status).toBe(200)
    challengeOf(await res.text())
    await afterThisTurn()
    const lines = await cli(smsStatusCommand(portal.clock), [twilio(), infobip()], portal)
    expect(lines).toContain(
      'sms twilio: last error 2026-03-02 09:00, no answer in time — no answer within 2000 ms; ' +
        'delivering again (last delivery: 2026-03-02 09:05)',
    )
  })

  it('keeps only the newest error of a provider, of whatever kind', () => {
    portal = smsPortal({ sms: { providers: [twilio()] } })
    const sms = smsStatements(portal.db)
    const at = portal.clock.now()
    const failed = (t: number, kind: 'noCredit' | 'credentials') => ({
      at: t,
      provider: 'twilio',
      channel: 'sms' as const,
      outcome: 'failed' as const,
      latency_ms: 10,
      detail: kind,
      kind,
    })
    sms.recordAttempts([failed(at, 'credentials'), failed(at - 60_000, 'noCredit')])
    expect(sms.lastErrors()).toEqual([
      { provider: 'twilio', at, kind: 'credentials', channel: 'sms', detail: 'credentials' },
    ])
    // The table takes every kind there is.
    for (const [i, kind] of SMS_FAILURE_KINDS.entries()) {
      sms.recordAttempts([{ ...failed(at + i + 1, 'credentials'), kind }])
      expect(sms.lastErrors()[0]!.kind).toBe(kind)
    }
  })
})

describe("the console's SMS panel", () => {
  it("shows each provider's last error with its time and kind, and which deliver nothing since", async () => {
    const h = consoleHarness({ sms: { providers: [twilio(), infobip()] } }, { realSmsStats: true })
    try {
      smsStatements(h.db).recordAttempts([
        {
          at: h.clock.now() - 60_000,
          provider: 'twilio',
          channel: 'sms',
          outcome: 'failed',
          latency_ms: 120,
          detail: 'HTTP 401: {"code":20003,"message":"<Authenticate>"}',
          kind: 'credentials',
        },
        {
          at: h.clock.now() - 50_000,
          provider: 'infobip',
          channel: 'sms',
          outcome: 'sent',
          latency_ms: 90,
          detail: null,
        },
      ])
      const admin = await h.signedIn('root', 'admin')
      const html = await (await admin.get('/sync')).text()
      const table = /<table id="sms-health">[\s\S]*?<\/table>/.exec(html)?.[0] ?? ''
      expect(table).toMatch(
        /<tr class="failing"><td>twilio<\/td><td>[^<]*8:59[^<]*<\/td><td>Credenciales rechazadas \(revisa la cuenta y el token\)<br><strong>NO ENTREGA desde su último error<\/strong><\/td>/,
      )
      // The provider's answer is shown escaped.
      expect(table).toContain('&lt;Authenticate&gt;')
      expect(table).toMatch(
        /<tr><td>infobip<\/td><td colspan="3">Sin errores registrados<\/td><td>[^<]*8:59/,
      )
    } finally {
      h.close?.()
    }
  })
})
