import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigError, configSchema, loadConfig } from '../src/config.js'

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
  it('is parsed without zod writing code at run time (its JIT costs a one-off parse more than it saves)', () => {
    // Whoever imports the config's schemas gets zod's jitless mode (src/config-kit.ts).
    expect(z.config().jitless).toBe(true)
    const made = new Set<string>()
    const Real = Function
    const spy = new Proxy(Real, {
      construct(target, args) {
        made.add(String(args.at(-1)).slice(0, 40))
        return Reflect.construct(target, args)
      },
    })
    globalThis.Function = spy
    try {
      loadConfig(JSON.stringify({ dataDir: '/tmp/branchgate-config-test' }))
    } finally {
      globalThis.Function = Real
    }
    expect([...made]).toEqual([])
  })

  it('needs nothing in demo mode', () => {
    const c = loadConfig(null, {})
    expect(c.listen.portal).toEqual({ host: '0.0.0.0', port: 8080 })
    expect(c.listen.admin).toEqual({ host: '127.0.0.1', port: 8081 })
    expect(c.defaultLocale).toBe('es-MX')
    expect(c.phone).toEqual({ defaultRegion: 'MX', allowedRegions: ['MX'] })
    expect(c.otp.digits).toBe(6)
    expect(c.sms.providers).toEqual([{ type: 'console' }])
    expect(c.gate).toEqual({
      backend: 'dry-run',
      rate: { downKbps: null, upKbps: null, totalDownKbps: null, totalUpKbps: null },
      quota: { dailyMB: null, floorKbps: 256 },
    })
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

  it('names both bounds of a ranged key, as its schema states them', () => {
    expect(problemsOf('{"console":{"sessionMaxHours":0}}')).toEqual([
      'console.sessionMaxHours must be between 1 and 72, got 0',
    ])
    expect(problemsOf('{"sync":{"backoffBaseMs":700000}}')).toEqual([
      'sync.backoffBaseMs must be between 1 and 600000, got 700000',
    ])
    expect(problemsOf('{"session":{"hours":0}}')).toEqual([
      'session.hours must be between 0.1 and 168, got 0',
    ])
    const http = { type: 'http', url: 'http://127.0.0.1:9/sms', timeoutMs: 50 }
    expect(problemsOf(JSON.stringify({ sms: { providers: [http] } }))).toEqual([
      'sms.providers.0.timeoutMs must be between 100 and 10000, got 50',
    ])
    // A key with one bound says which.
    expect(problemsOf('{"otp":{"perNumberMax":0}}')).toEqual([
      'otp.perNumberMax must be at least 1, got 0',
    ])
    expect(problemsOf('{"otp":{"perNumberMax":1e20}}')).toEqual([
      'otp.perNumberMax must be at most 9007199254740991, got 100000000000000000000',
    ])
  })

  it('gives every key with two bounds both of them in its message', () => {
    const ranged: { path: string; min: number; max: number }[] = []
    const bound = (n: number | null) =>
      n !== null && Number.isFinite(n) && Math.abs(n) !== Number.MAX_SAFE_INTEGER
    const walk = (schema: z.ZodType, path: string[]): void => {
      if (schema instanceof z.ZodObject) {
        for (const [key, inner] of Object.entries(schema.shape))
          walk(inner as z.ZodType, [...path, key])
      } else if (
        schema instanceof z.ZodDefault ||
        schema instanceof z.ZodPrefault ||
        schema instanceof z.ZodNullable ||
        schema instanceof z.ZodOptional
      ) {
        walk(schema.unwrap() as z.ZodType, path)
      } else if (
        schema instanceof z.ZodNumber &&
        bound(schema.minValue) &&
        bound(schema.maxValue)
      ) {
        ranged.push({ path: path.join('.'), min: schema.minValue!, max: schema.maxValue! })
      }
    }
    walk(configSchema, [])
    expect(ranged.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        'listen.portal.port',
        'otp.digits',
        'sms.fraud.conversion.cooldownMinutes',
        'session.hours',
        'visits.idleMinutes',
        'remember.days',
        'sync.keepDeliveredHours',
        'console.sessionMaxHours',
      ]),
    )
    for (const { path, min, max } of ranged) {
      const input: Record<string, unknown> = {}
      const keys = path.split('.')
      let at = input
      for (const key of keys.slice(0, -1)) at = (at[key] = {}) as Record<string, unknown>
      at[keys.at(-1)!] = max + 1
      expect(problemsOf(JSON.stringify(input))).toContain(
        `${path} must be between ${min} and ${max}, got ${max + 1}`,
      )
    }
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
