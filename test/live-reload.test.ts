import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { planReload } from '../src/reload.js'
import { createDryRunGate } from '../src/gate/dry-run.js'
import { createServices } from '../src/services.js'
import { tempDb, tempDir } from './helpers.js'
import { FakeClock } from './fakes/clock.js'
import { FAKE_CREDENTIALS, FakeProviders } from './fakes/sms-providers.js'
import { WebhookReceiver } from './fakes/webhook-receiver.js'
import { startService, until } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

describe('planning a reload', () => {
  it('applies the walled garden, staff, SMS and CRM keys now and names the rest as needing a restart', () => {
    const gate = { backend: 'nftables', guestInterface: 'enp2s0' }
    const running = loadConfig(JSON.stringify({ gate }))
    const wanted = loadConfig(
      JSON.stringify({
        gate: { ...gate, walledGarden: { hosts: ['aviso.banco.example'] } },
        staffMacs: ['02:00:00:00:00:aa'],
        sms: { fraud: { dailyBudget: 50 }, templates: { es: 'Clave {code} en {branch}' } },
        sync: {
          adapter: {
            type: 'webhook',
            url: 'https://crm.example/h',
            secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
          },
          schedule: '*/10 * * * *',
        },
        otp: { digits: 8 },
        listen: { portal: { port: 9090 } },
      }),
    )
    const plan = planReload(running, wanted)
    expect(plan.live).toEqual([
      'gate.walledGarden.hosts',
      'sms.fraud.dailyBudget',
      'sms.templates.es',
      'staffMacs',
      'sync.adapter.secrets',
      'sync.adapter.type',
      'sync.adapter.url',
    ])
    expect(plan.restart).toEqual(['listen.portal.port', 'otp.digits', 'publicUrl', 'sync.schedule'])
    // The config to run with: live keys new, the rest as it runs now.
    expect(plan.next.sms.templates.es).toBe('Clave {code} en {branch}')
    expect(plan.next.staffMacs).toEqual(['02:00:00:00:00:aa'])
    expect(plan.next.otp.digits).toBe(running.otp.digits)
    expect(plan.next.listen.portal.port).toBe(8080)
    expect(plan.next.sync.schedule).toBe(running.sync.schedule)
  })

  it('leaves the walled garden of a backend change to the restart it needs', () => {
    const running = loadConfig('{}')
    const plan = planReload(
      running,
      loadConfig(JSON.stringify({ gate: { backend: 'nftables', guestInterface: 'enp2s0' } })),
    )
    expect(plan.live).toEqual([])
    expect(plan.restart).toContain('gate.backend')
    expect(plan.restart).toContain('gate.walledGarden')
    // The whole gate stays as it runs (a dry-run gate, with the rate and quota defaults).
    expect(plan.next.gate).toEqual(running.gate)
    expect(plan.next.gate.backend).toBe('dry-run')
  })
})

describe('reloading the running service (SIGHUP)', () => {
  it('applies templates, fraud limits and staff live, keeps a login in flight and the guests, and refuses a bad config', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const configFile = path.join(t.dir, 'branchgate.json')
    const base = {
      listen: { portal: { port: 0 }, admin: { port: 0 } },
      dataDir: t.dir,
      sms: { providers: [{ type: 'console' }], templates: { es: 'Antes {code} en {branch}' } },
    }
    writeFileSync(configFile, JSON.stringify(base))
    const { service, portal, post, login } = await runningPortal(configFile)
    const sent = (e164: string) =>
      [...service.output().matchAll(/\[sms\] to=(\S+) code=(\d+) text="([^"]*)"/g)]
        .filter((m) => m[1] === e164)
        .map((m) => ({ code: m[2]!, text: m[3]! }))
    const reloaded = async (n: number) => {
      service.child.kill('SIGHUP')
      await until(
        () =>
          (service.output().match(/reload(: applied| refused|: the config)/g) ?? []).length >= n,
      )
    }

    // A guest let through, and a login in flight (code sent under the old template).
    const first = await login('55 1234 5678')
    await until(() => sent('+525512345678').length === 1)
    expect(sent('+525512345678')[0]!.text).toMatch(/^Antes \d{6} en Sucursal Demo/)
    const firstCode = sent('+525512345678')[0]!.code

    writeFileSync(
      configFile,
      JSON.stringify({
        ...base,
        listen: { portal: { port: 0 }, admin: { port: 0, host: '127.0.0.2' } },
        staffMacs: ['02:00:00:00:00:aa'],
        sms: {
          ...base.sms,
          templates: { es: 'Despues {code} en {branch}' },
          fraud: { dailyBudget: 50 },
        },
      }),
    )
    await reloaded(1)
    expect(service.output()).toContain(
      'reload: applied sms.fraud.dailyBudget, sms.templates.es, staffMacs',
    )
    // Logged right after the "applied" line, but it may reach the pipe in a later chunk.
    await until(() => service.output().includes('reload: needs a restart'))
    expect(service.output()).toContain(
      'reload: needs a restart to apply listen.admin.host (systemctl restart branchgate; guests stay let through)',
    )
    // The login in flight goes through with the code it got before the reload.
    const welcome = await post('/verify', { challenge: first, code: firstCode })
    expect(welcome.status).toBe(200)
    expect(await welcome.text()).toContain('¡Listo, Ana!')
    // New codes use the new template.
    await login('55 8765 4321')
    await until(() => sent('+525587654321').length === 1)
    expect(sent('+525587654321')[0]!.text).toMatch(/^Despues \d{6} en Sucursal Demo/)
    // The new staff device was let through at once; nobody was revoked by the reload.
    const db = new Database(path.join(t.dir, 'branchgate.db'), { readonly: true })
    cleanups.push(() => db.close())
    const live = db
      .prepare(`SELECT mac, reason FROM authorizations WHERE ended_at IS NULL ORDER BY id`)
      .all() as Array<{ mac: string; reason: string }>
    // The staff device was let through by the reload, the guest by the code after it.
    expect(live.map((r) => r.reason)).toEqual(['staff', 'login'])
    expect(live[0]!.mac).toBe('02:00:00:00:00:aa')
    expect(
      db.prepare(`SELECT count(*) AS n FROM authorizations WHERE ended_at IS NOT NULL`).get(),
    ).toEqual({ n: 0 })

    // A bad config is refused whole; the running one stays.
    writeFileSync(configFile, JSON.stringify({ ...base, otp: { digits: 12 }, staffMacs: [] }))
    await reloaded(2)
    expect(service.output()).toContain(
      'reload refused, the running config stays: branchgate: invalid configuration:\n  - otp.digits must be between 4 and 8, got 12',
    )
    expect((await fetch(`${portal}/healthz`)).status).toBe(200)
    await login('55 1111 2222')
    await until(() => sent('+525511112222').length === 1)
    expect(sent('+525511112222')[0]!.text).toMatch(/^Despues /)
    await service.stop()
  })

  it('switches to a new SMS provider and a new CRM target live: the next code and the waiting events go there', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const providers = await new FakeProviders().start()
    cleanups.push(() => void providers.stop())
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
    const crm = await new WebhookReceiver([secret]).start()
    cleanups.push(() => void crm.stop())
    const configFile = path.join(t.dir, 'branchgate.json')
    const base = { listen: { portal: { port: 0 }, admin: { port: 0 } }, dataDir: t.dir }
    writeFileSync(configFile, JSON.stringify(base))
    const { service, portal, post, login } = await runningPortal(configFile)
    // A customer verified while no CRM is configured: their events wait in the outbox.
    const challenge = await login('55 1234 5678')
    let code: string | undefined
    await until(
      () =>
        (code = /\[sms\] to=\+525512345678 code=(\d{6})/.exec(service.output())?.[1]) !== undefined,
    )
    expect((await post('/verify', { challenge, code: code! })).status).toBe(200)
    expect(crm.requests).toBe(0)

    // The Twilio token comes from a file (a secret out of the JSON), read at the reload.
    writeFileSync(path.join(t.dir, 'twilio-token'), `${FAKE_CREDENTIALS.twilio.authToken}\n`)
    writeFileSync(
      configFile,
      JSON.stringify({
        ...base,
        sms: {
          providers: [
            {
              type: 'twilio',
              accountSid: FAKE_CREDENTIALS.twilio.accountSid,
              authTokenFile: path.join(t.dir, 'twilio-token'),
              from: '+15005550006',
              baseUrl: providers.base,
              timeoutMs: 10_000,
            },
          ],
        },
        sync: { adapter: { type: 'webhook', url: crm.url, secrets: [secret] } },
      }),
    )
    service.child.kill('SIGHUP')
    await until(() => service.output().includes('reload: applied'))
    expect(service.output()).toContain(
      'reload: applied sms.providers, sync.adapter.secrets, sync.adapter.type, sync.adapter.url',
    )
    // What waited goes to the new CRM at once, not at the next tick.
    await until(() => crm.accepted.some((e) => e.type === 'customer.verified'))
    // The next code goes through the new provider.
    await login('55 8765 4321')
    await until(() => providers.received.some((r) => r.provider === 'twilio'))
    expect(JSON.stringify(providers.received.find((r) => r.provider === 'twilio')!.body)).toContain(
      '+525587654321',
    )
    expect(service.output()).not.toMatch(/\[sms\] to=\+525587654321/)
    await service.stop()
  })
})

describe('live reload of the services (after the merge with issue 17)', () => {
  it('a reload to sms.mode "paused" reaches the login and the sending check that access without a code asks', () => {
    const { db, close } = tempDb()
    cleanups.push(close)
    const config = loadConfig('{}')
    const clock = new FakeClock(Date.UTC(2026, 0, 5, 15))
    const services = createServices({
      config,
      db,
      gate: createDryRunGate(clock),
      clock,
      secret: Buffer.alloc(32, 7),
      log: () => {},
    })
    const now = Date.UTC(2026, 0, 5, 15)
    expect(services.sending.blocked(now)).toBeNull()
    services.applyLiveConfig(
      planReload(config, loadConfig(JSON.stringify({ sms: { mode: 'paused' } }))).next,
    )
    expect(services.sending.blocked(now)).toBe('paused')
  })
})

/** The service started from `configFile`, killed after the test, and a guest's form posts to it. */
async function runningPortal(configFile: string) {
  const service = await startService(['--config', configFile])
  cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
  const portal = `http://127.0.0.1:${service.ports.portal}`
  const post = (p: string, fields: Record<string, string>) =>
    fetch(`${portal}${p}`, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  const login = async (phone: string) => {
    const page = await (await post('/login', { name: 'Ana', phone, consent: 'yes' })).text()
    return /name="challenge" value="([^"]+)"/.exec(page)![1]!
  }
  return { service, portal, post, login }
}
