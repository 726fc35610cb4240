import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { configHash, hashableConfig } from '../src/version.js'

/** Two branches' configs: the same settings, each with its own identity and credentials. */
function branchConfig(n: 1 | 2, change: Record<string, unknown> = {}) {
  return loadConfig(
    JSON.stringify({
      branch: { id: `branch-${n}`, name: `Sucursal ${n}`, timeZone: 'Europe/Madrid' },
      console: { tls: { certFile: '/etc/branchgate/console.crt', keyFile: `/etc/keys/b${n}.key` } },
      metrics: { token: `scrape-token-000${n}${n}${n}${n}${n}${n}${n}` },
      sms: {
        providers: [
          {
            type: 'http',
            url: `https://user${n}:pass${n}@sms.example.com/send?key=k${n}&from=bank`,
            headers: { Authorization: `Bearer h${n}` },
            body: { api_key: `b${n}`, to: '{to}', text: '{text}' },
          },
          { type: 'twilio', accountSid: `AC${'0'.repeat(32)}`, authToken: `tok${n}`, from: 'Bank' },
          {
            type: 'infobip',
            baseUrl: 'https://x.api.infobip.com',
            apiKey: `key${n}`,
            from: 'Bank',
          },
          {
            type: 'whatsapp',
            phoneNumberId: '123',
            accessToken: `wa${n}`,
            templateName: 'code',
          },
        ],
      },
      sync: {
        adapter: {
          type: 'webhook',
          url: 'https://crm.example.com/in',
          secrets: [`whsec_QUJD${n}A==`],
        },
        macSalt: `salt-salt-salt-0${n}`,
      },
      ...change,
    }),
  )
}

const SECRETS_OF_1 = [
  '/etc/keys/b1.key',
  'scrape-token-00011111111',
  'user1',
  'pass1',
  'k1',
  'Bearer h1',
  'b1',
  'tok1',
  'key1',
  'wa1',
  'whsec_QUJD1A==',
  'salt-salt-salt-01',
]

describe('the configuration fingerprint (config_hash)', () => {
  it('is the same for two branches with the same settings and different secrets', () => {
    expect(configHash(branchConfig(1))).toBe(configHash(branchConfig(2)))
  })

  it('changes when a setting changes', () => {
    const base = configHash(branchConfig(1))
    expect(configHash(branchConfig(1, { otp: { digits: 4 } }))).not.toBe(base)
    expect(configHash(branchConfig(1, { metrics: { token: null } }))).not.toBe(base)
  })

  it('hashes nothing of any secret: every one is replaced by one marker', () => {
    const hashed = JSON.stringify(hashableConfig(branchConfig(1)))
    for (const secret of SECRETS_OF_1) expect(hashed).not.toContain(secret)
    expect(hashed).toContain('"token":"(secret)"')
    expect(hashed).toContain('sms.example.com/send?key=%28secret%29&from=%28secret%29')
  })

  it('gives no way to find a short token by trying them all against the hash', () => {
    const withPin = (pin: string) =>
      configHash(branchConfig(1, { metrics: { token: `scrape-token-000000${pin}` } }))
    const published = withPin('4711')
    // Every candidate hashes alike: the published hash singles out none of them.
    const matches = ['0000', '1234', '4711', '9999'].filter((pin) => withPin(pin) === published)
    expect(matches).toEqual(['0000', '1234', '4711', '9999'])
  })
})
