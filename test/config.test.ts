import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

function problemsOf(text: string | null, env = {}): string[] {
  try {
    loadConfig(text, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('configuration', () => {
  it('needs nothing in demo mode', () => {
    const c = loadConfig(null, {})
    expect(c.listen.portal).toEqual({ host: '0.0.0.0', port: 8080 })
    expect(c.listen.admin).toEqual({ host: '127.0.0.1', port: 8081 })
    expect(c.defaultLocale).toBe('es-MX')
    expect(c.phone).toEqual({ defaultRegion: 'MX', allowedRegions: ['MX'] })
    expect(c.otp.digits).toBe(6)
    expect(c.sms.providers).toEqual([{ type: 'console' }])
    expect(c.gate).toEqual({ backend: 'dry-run' })
    expect(c.session.hours).toBe(8)
  })

  it('lets PORT, ADMIN_PORT and BRANCHGATE_DATA_DIR override the file', () => {
    const c = loadConfig('{"listen":{"portal":{"port":80}},"dataDir":"/var/lib/x"}', {
      PORT: '9080',
      ADMIN_PORT: '9081',
      BRANCHGATE_DATA_DIR: '/tmp/bg',
    })
    expect(c.listen.portal.port).toBe(9080)
    expect(c.listen.admin.port).toBe(9081)
    expect(c.dataDir).toBe('/tmp/bg')
  })

  it('points publicUrl at the port the portal listens on, unless it is configured', () => {
    expect(loadConfig(null, {}).publicUrl).toBe('http://localhost:8080')
    expect(loadConfig(null, { PORT: '9080' }).publicUrl).toBe('http://localhost:9080')
    expect(loadConfig('{"listen":{"portal":{"port":8000}}}', {}).publicUrl).toBe(
      'http://localhost:8000',
    )
    expect(loadConfig('{"listen":{"portal":{"port":8000}}}', { PORT: '9080' }).publicUrl).toBe(
      'http://localhost:9080',
    )
    const configured = '{"publicUrl":"http://portal.branch.lan:8080"}'
    expect(loadConfig(configured, { PORT: '9080' }).publicUrl).toBe('http://portal.branch.lan:8080')
  })

  it('keeps defaults for the keys a partial group leaves out', () => {
    const c = loadConfig('{"otp":{"digits":8},"branch":{"id":"mx-cdmx-042"}}')
    expect(c.otp).toMatchObject({ digits: 8, ttlSeconds: 300, maxAttempts: 5 })
    expect(c.branch).toMatchObject({ id: 'mx-cdmx-042', name: 'Sucursal Demo' })
  })

  it('names the key and what is wrong', () => {
    expect(problemsOf('{"otp":{"digits":12}}')).toEqual([
      'otp.digits must be between 4 and 8, got 12',
    ])
    expect(problemsOf('{"otp":{"digits":"6"}}')).toEqual([
      'otp.digits: expected number, received string, got "6"',
    ])
    expect(problemsOf(null, { PORT: 'eighty' })).toEqual([
      'PORT must be a port number between 0 and 65535, got "eighty"',
    ])
    expect(problemsOf('{"branch":{"timeZone":"Mars/Olympus"}}')[0]).toMatch(
      /^branch\.timeZone must be an IANA time zone/,
    )
    expect(problemsOf('{"phone":{"defaultRegion":"US"}}')[0]).toMatch(
      /^phone\.defaultRegion must be one of phone\.allowedRegions/,
    )
    expect(problemsOf('{"colour":"blue"}')).toEqual(['unknown key(s) colour'])
  })

  it('takes a logo only as a data: image, which works before the guest has internet', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo='
    expect(loadConfig(JSON.stringify({ branch: { logoUrl: png } })).branch.logoUrl).toBe(png)
    expect(problemsOf('{"branch":{"logoUrl":"https://cdn.example/logo.png"}}')[0]).toMatch(
      /^branch\.logoUrl must be a data:image\/… URL/,
    )
  })

  it('refuses a half-filled SMS provider', () => {
    expect(problemsOf('{"sms":{"providers":[{"type":"http"}]}}')).toEqual([
      'sms.providers.0.url is required (expected string, received undefined)',
    ])
    expect(problemsOf('{"sms":{"providers":[{"type":"carrier-pigeon"}]}}')[0]).toMatch(
      /^sms\.providers\.0\.type: must be one of/,
    )
  })

  it('explains a file that is not JSON', () => {
    expect(problemsOf('{ "otp": ')[0]).toMatch(/^the file is not valid JSON/)
    expect(problemsOf('[1,2]')).toEqual(['the file must hold one JSON object'])
  })

  it('returns a frozen config', () => {
    const c = loadConfig(null)
    expect(Object.isFrozen(c.otp)).toBe(true)
  })

  it('accepts the example file shipped in deploy/', () => {
    const text = readFileSync(new URL('../deploy/branchgate.example.json', import.meta.url), 'utf8')
    expect(loadConfig(text).branch.id).toBe('mx-cdmx-042')
  })
})
