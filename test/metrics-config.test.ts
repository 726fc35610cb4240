import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

function problemsOf(raw: unknown): string[] {
  try {
    loadConfig(JSON.stringify(raw))
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('the metrics and log keys', () => {
  it('default to metrics on the console listener, no token, plain-text logs', () => {
    const c = loadConfig(null)
    expect(c.metrics).toEqual({ enabled: true, token: null, listen: null })
    expect(c.log).toEqual({ format: 'text' })
  })

  it('take a listener of its own on the management LAN and a bearer token', () => {
    const c = loadConfig(
      JSON.stringify({
        metrics: { token: 'a-long-enough-token', listen: { host: '10.20.0.2' } },
        log: { format: 'json' },
      }),
    )
    expect(c.metrics.listen).toEqual({ host: '10.20.0.2', port: 9464 })
    expect(c.log.format).toBe('json')
  })

  it('refuse a wildcard metrics listener, a short token and an unknown log format, naming the key', () => {
    expect(problemsOf({ metrics: { listen: { host: '0.0.0.0' } } })).toEqual([
      'metrics.listen.host must be an address of the management LAN or loopback, not a wildcard (it would include the guest network)',
    ])
    expect(problemsOf({ metrics: { listen: { host: '::' } } })).toHaveLength(1)
    expect(problemsOf({ metrics: { token: 'short' } })[0]).toMatch(/^metrics\.token: .*16/)
    expect(problemsOf({ log: { format: 'xml' } })[0]).toMatch(/^log\.format/)
    expect(problemsOf({ metrics: { port: 9100 } })).toEqual(['metrics: unknown key(s) port'])
  })
})
