import path from 'node:path'
import { createApp } from '../src/app.js'
import { createServices } from '../src/services.js'
import { loadConfig } from '../src/config.js'
import { auditStatements } from '../src/db/audit.js'
import { closeDb, openDb, type Db } from '../src/db/open.js'
import { smsStatements } from '../src/db/sms.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { createSendGuard } from '../src/sms/guard.js'
import { attemptRecorder } from '../src/sms/metrics.js'
import { createSmsChain } from '../src/sms/providers.js'
import { createFailoverSender, type SmsMessage, type SmsSender } from '../src/sms/sender.js'
import { FakeClock } from '../test/fakes/clock.js'
import { FakeNeighbours } from '../test/fakes/neighbours.js'
import { FAKE_CREDENTIALS, FakeProviders } from '../test/fakes/sms-providers.js'
import { tempDir } from '../test/helpers.js'
import { figure } from './figures.js'
import type { BenchSection } from './run.js'

/**
 * The send path's own overhead on a login: the fraud guard (its reads inside the challenge's
 * transaction), the failover wrapper and the per-try record, with a provider answering at once.
 * Then whole logins through the portal: with a bare instant sender and the guard turned off
 * (baseline), with everything on, and with the real Twilio client against a local HTTP fake.
 */
const instant: SmsSender = {
  name: 'instant',
  async send() {
    return { provider: 'instant' }
  },
}
const message: SmsMessage = {
  to: '+525512345678',
  text: 'x\n\n@h #123456',
  code: '123456',
  locale: 'es',
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!
  return { p50: at(0.5), p95: at(0.95), n: s.length }
}
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`)
const line = (label: string, samples: number[]) => {
  const r = stats(samples)
  console.log(
    `${label.padEnd(58)} p50 ${fmt(r.p50).padStart(9)}  p95 ${fmt(r.p95).padStart(9)}  (n=${r.n})`,
  )
  return r
}

/** A day of traffic: 400 codes over 24 h across many prefixes, a quarter unverified. */
function seed(db: Db, now: number) {
  const insert = db.prepare(
    `INSERT INTO otp_challenges (id, phone_e164, mac, name, locale, marketing, code_hmac, created_at, expires_at, status)
     VALUES (@id, @phone, @mac, 'Ana', 'es', 0, 'h', @at, @exp, @status)`,
  )
  db.transaction(() => {
    for (let i = 0; i < 400; i++) {
      const at = now - 86_400_000 + i * 216_000
      insert.run({
        id: `seed-${i}`,
        phone: `+52551${String(i % 97).padStart(3, '0')}${String(1000 + i).slice(-4)}`,
        mac: `3a:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        at,
        exp: at + 300_000,
        status: i % 4 === 0 ? 'superseded' : 'verified',
      })
    }
  })()
}

async function logins(opts: {
  fraudOn: boolean
  sms: (db: Db, clock: FakeClock, cfg: ReturnType<typeof loadConfig>) => SmsSender
  n: number
}) {
  const t = tempDir('branchgate-bench-')
  const fraud = opts.fraudOn
    ? { branchPerHour: 1_000_000, dailyBudget: 1_000_000 }
    : { perPrefixPerHour: 0, branchPerHour: 0, dailyBudget: 0, conversion: { minNumbers: 0 } }
  const config = loadConfig(
    JSON.stringify({ dataDir: t.dir, sms: { fraud }, otp: { perDevicePerHour: 1000 } }),
  )
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  const clock = new FakeClock()
  seed(db, clock.now())
  const neighbours = new FakeNeighbours()
  for (let i = 0; i < opts.n; i++)
    neighbours.set(
      `10.9.${i >> 8}.${i & 255}`,
      `3a:99:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    )
  const services = createServices({
    config,
    db,
    gate: createDryRunGate(clock),
    sms: opts.sms(db, clock, config),
    clock,
    secret: Buffer.alloc(32, 1),
    log: () => {},
  })
  const app = createApp(services, { neighbours })
  const samples: number[] = []
  for (let i = 0; i < opts.n; i++) {
    // A fresh prefix per login, so the per-prefix limit is never what is measured.
    const phone = `55 ${String(2000 + i).padStart(4, '0')} ${String(1000 + (i % 9000)).padStart(4, '0')}`
    const body = new URLSearchParams({ name: 'Ana', phone, consent: 'yes' }).toString()
    const t0 = performance.now()
    const res = await app.portal.request(
      '/login',
      { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { incoming: { socket: { remoteAddress: `10.9.${i >> 8}.${i & 255}` } } },
    )
    await res.text()
    samples.push(performance.now() - t0)
    if (res.status !== 200) throw new Error(`login ${i} answered ${res.status}`)
    clock.advance({ seconds: 1 })
  }
  closeDb(db)
  t.remove()
  return samples.slice(Math.floor(opts.n / 10)) // drop warm-up
}

const section: BenchSection = {
  name: 'sms',
  async run() {
    console.log('(figures on a shared, busy machine; compare within one run)')
    // 1. The parts, in isolation.
    const t = tempDir('branchgate-bench-')
    const db = openDb(path.join(t.dir, 'b.db'))
    const clock = new FakeClock()
    seed(db, clock.now())
    const sms = smsStatements(db)
    const config = loadConfig(null)
    const guard = createSendGuard({
      sms,
      audit: auditStatements(db),
      policy: config.sms.fraud,
      timeZone: config.branch.timeZone,
      log: () => {},
    })
    const check = db.transaction((phone: string, now: number) => guard.check(phone, now))
    const guardSamples: number[] = []
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now()
      check(`+5255${String(3000 + (i % 5000)).padStart(4, '0')}1234`, clock.now())
      guardSamples.push(performance.now() - t0)
    }
    const g = line(
      'fraud guard check (in a transaction, 400 codes/day seeded)',
      guardSamples.slice(200),
    )
    const chain = createFailoverSender([instant], {
      onAttempt: attemptRecorder(sms, clock, () => {}),
    })
    const chainSamples: number[] = []
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now()
      await chain.send(message)
      chainSamples.push(performance.now() - t0)
    }
    const c = line('failover wrapper + per-try record, instant provider', chainSamples.slice(200))
    closeDb(db)
    t.remove()
    figure(
      'sendPath.p50',
      "send path's own overhead (guard + failover + record), p50",
      g.p50 + c.p50,
      'ms',
      {
        target: { op: '<=', value: 5 },
      },
    )
    console.log(`  (guard ${fmt(g.p50)}, chain and record ${fmt(c.p50)})`)

    // 2. Whole logins through the portal.
    const fake = await new FakeProviders().start()
    try {
      const base = line(
        'login, bare instant sender, fraud rules off (baseline)',
        await logins({ fraudOn: false, sms: () => instant, n: 300 }),
      )
      const full = line(
        'login, fraud rules on, failover chain, instant provider',
        await logins({
          fraudOn: true,
          sms: (db, clock, cfg) =>
            createFailoverSender([instant], {
              budgetMs: cfg.sms.sendBudgetMs,
              onAttempt: attemptRecorder(smsStatements(db), clock, () => {}),
            }),
          n: 300,
        }),
      )
      line(
        'login, fraud rules on, Twilio client -> local HTTP fake',
        await logins({
          fraudOn: true,
          sms: (db, clock, cfg) =>
            createSmsChain({
              config: loadConfig(
                JSON.stringify({
                  sms: {
                    providers: [
                      {
                        type: 'twilio',
                        accountSid: FAKE_CREDENTIALS.twilio.accountSid,
                        authToken: FAKE_CREDENTIALS.twilio.authToken,
                        from: '+15005550006',
                        baseUrl: fake.base,
                      },
                    ],
                  },
                }),
              ),
              sms: smsStatements(db),
              clock,
              log: () => {},
            }),
          n: 300,
        }),
      )
      figure(
        'login.added',
        'added to a login by the send path (p50 with − p50 baseline)',
        full.p50 - base.p50,
        'ms',
        {
          target: { op: '<=', value: 5 },
        },
      )
      console.log(`  (p50 ${fmt(full.p50)} with, ${fmt(base.p50)} without)`)
    } finally {
      await fake.stop()
    }
  },
}
export default section
