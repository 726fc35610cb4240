import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { readConfig, readPem } from '../src/config-file.js'
import { credentialPath } from '../src/config-secrets.js'
import { tempDir } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

function folder() {
  const t = tempDir()
  cleanups.push(t.remove)
  return t.dir
}

const TWILIO_SID = 'AC' + '0'.repeat(32)
const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/** Writes the config and the secret files, mode 0600 as a fleet tool would; reads it back. */
function configWith(dir: string, config: object, files: Record<string, string>, env = {}) {
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), text)
    chmodSync(path.join(dir, name), 0o600)
  }
  const file = path.join(dir, 'branchgate.json')
  writeFileSync(file, JSON.stringify(config))
  return readConfig(['--config', file], env).config
}

function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('secrets out of the JSON', () => {
  it('reads every secret key from its …File: SMS tokens, header lines, webhook secrets, Salesforce, the MAC salt', () => {
    const dir = folder()
    const s = (name: string) => path.join(dir, name)
    const config = configWith(
      dir,
      {
        sms: {
          providers: [
            {
              type: 'twilio',
              accountSid: TWILIO_SID,
              authTokenFile: s('twilio'),
              from: '+15005550006',
            },
            {
              type: 'infobip',
              baseUrl: 'https://x.api.infobip.com',
              apiKeyFile: s('infobip'),
              from: 'Banco',
            },
            {
              type: 'http',
              url: 'https://sms.example/send',
              headersFile: s('headers'),
              body: { to: '{to}', text: '{text}' },
            },
          ],
        },
        sync: {
          adapter: { type: 'webhook', url: 'https://crm.example/hook', secretsFile: s('whsec') },
          macSaltFile: s('salt'),
        },
      },
      {
        twilio: 'tok-twilio\n',
        infobip: 'key-infobip',
        headers: '# the aggregator\nAuthorization: Bearer abc.def\nX-Account: 42\n',
        whsec: `${WHSEC}\n\n`,
        salt: 'a-salt-of-sixteen-chars-or-more\n',
      },
    )
    const [twilio, infobip, http] = config.sms.providers as any[]
    expect(twilio.authToken).toBe('tok-twilio')
    expect(infobip.apiKey).toBe('key-infobip')
    expect(http.headers).toEqual({ authorization: 'Bearer abc.def', 'x-account': '42' })
    expect((config.sync.adapter as any).secrets).toEqual([WHSEC])
    expect(config.sync.macSalt).toBe('a-salt-of-sixteen-chars-or-more')

    const sf = configWith(
      folder(),
      {
        sync: {
          adapter: {
            type: 'salesforce',
            loginUrl: 'https://acme.my.salesforce.com',
            clientId: 'id',
            clientSecretFile: path.join(dir, 'twilio'),
          },
        },
      },
      {},
    )
    expect((sf.sync.adapter as any).clientSecret).toBe('tok-twilio')
  })

  it('reads $CREDENTIALS_DIRECTORY/name as the systemd credential (LoadCredential=), the TLS key too', () => {
    const creds = folder()
    writeFileSync(path.join(creds, 'whatsapp-token'), 'EAAG-token\n')
    writeFileSync(path.join(creds, 'portal.key'), '-----BEGIN PRIVATE KEY-----\n')
    const config = configWith(
      folder(),
      {
        sms: {
          providers: [
            { type: 'console' },
            {
              type: 'whatsapp',
              phoneNumberId: '1234567890',
              accessTokenFile: '$CREDENTIALS_DIRECTORY/whatsapp-token',
              templateName: 'codigo',
            },
          ],
        },
      },
      {},
      { CREDENTIALS_DIRECTORY: creds },
    )
    expect((config.sms.providers[1] as any).accessToken).toBe('EAAG-token')
    expect(
      readPem('listen.tls.keyFile', '$CREDENTIALS_DIRECTORY/portal.key', {
        CREDENTIALS_DIRECTORY: creds,
      }).toString(),
    ).toContain('PRIVATE KEY')
    expect(() => readPem('listen.tls.keyFile', '$CREDENTIALS_DIRECTORY/portal.key', {})).toThrow(
      /cannot read listen\.tls\.keyFile \$CREDENTIALS_DIRECTORY\/portal\.key \(CREDENTIALS_DIRECTORY is not set/,
    )
  })

  it("reads a credential by hand (no CREDENTIALS_DIRECTORY) from the unit's or the role's folder", () => {
    expect(
      credentialPath('$CREDENTIALS_DIRECTORY/twilio-token', {}, (p) =>
        p.startsWith('/etc/branchgate/'),
      ),
    ).toBe('/etc/branchgate/credentials/twilio-token')
    expect(credentialPath('$CREDENTIALS_DIRECTORY/twilio-token', {}, () => true)).toBe(
      '/run/credentials/branchgate.service/twilio-token',
    )
    expect(credentialPath('/etc/secrets/x', {})).toBe('/etc/secrets/x')
  })

  it('refuses both forms at once, a missing or empty file and an unset credentials folder, naming the key', () => {
    const dir = folder()
    writeFileSync(path.join(dir, 'empty'), '\n')
    const webhook = (adapter: object) => ({
      sync: { adapter: { type: 'webhook', url: 'https://crm.example/hook', ...adapter } },
    })
    expect(
      problems(() =>
        configWith(folder(), webhook({ secrets: [WHSEC], secretsFile: path.join(dir, 'x') }), {}),
      ),
    ).toEqual(['sync.adapter.secretsFile: give sync.adapter.secrets or secretsFile, not both'])
    expect(
      problems(() => configWith(folder(), webhook({ secretsFile: path.join(dir, 'missing') }), {})),
    ).toEqual([`sync.adapter.secretsFile: cannot read ${path.join(dir, 'missing')}: ENOENT`])
    expect(
      problems(() => configWith(folder(), webhook({ secretsFile: path.join(dir, 'empty') }), {})),
    ).toEqual([`sync.adapter.secretsFile: ${path.join(dir, 'empty')} holds no line`])
    expect(
      problems(() =>
        configWith(folder(), webhook({ secretsFile: '$CREDENTIALS_DIRECTORY/whsec' }), {}),
      ),
    ).toEqual([
      'sync.adapter.secretsFile: cannot read $CREDENTIALS_DIRECTORY/whsec: CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=) and whsec is in none of /run/credentials/branchgate.service, /etc/branchgate/credentials',
    ])
    // What the file holds is validated like an inline value.
    writeFileSync(path.join(dir, 'bad'), 'not-a-whsec\n')
    expect(
      problems(() => configWith(folder(), webhook({ secretsFile: path.join(dir, 'bad') }), {})),
    ).toEqual(['sync.adapter.secrets.0 must be whsec_ followed by base64, got "not-a-whsec"'])
  })

  it('keeps inline secrets working, and loadConfig alone (pure) reads no file', () => {
    const inline = loadConfig(
      JSON.stringify({
        sync: { adapter: { type: 'webhook', url: 'https://crm.example/h', secrets: [WHSEC] } },
      }),
    )
    expect((inline.sync.adapter as any).secrets).toEqual([WHSEC])
    expect(() => loadConfig(JSON.stringify({ sync: { macSaltFile: '/etc/passwd' } }))).toThrow(
      'sync.macSaltFile: secret files are not read here',
    )
  })
})
