import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { passByMinutesOf } from '../src/console/index.js'

describe('console configuration', () => {
  it('has defaults with their units', () => {
    const c = loadConfig(null)
    expect(c.console).toEqual({
      sessionIdleMinutes: 30,
      sessionMaxHours: 12,
      maxFailuresPerUser: 5,
      maxFailuresPerIp: 20,
      loginWindowMinutes: 15,
      walkInDays: 7,
      hereNowMinutes: 15,
      tls: null,
      hosts: [],
    })
    expect(passByMinutesOf(c)).toBe(2)
  })

  it('refuses half a TLS setting and out-of-range values, naming the key', () => {
    expect(() =>
      loadConfig(JSON.stringify({ console: { tls: { certFile: '/etc/c.crt' } } })),
    ).toThrow(/console\.tls\.keyFile is required/)
    expect(() => loadConfig(JSON.stringify({ console: { walkInDays: 0 } }))).toThrow(
      /console\.walkInDays must be between 1 and 90, got 0/,
    )
    expect(() => loadConfig(JSON.stringify({ console: { colour: 'red' } }))).toThrow(ConfigError)
  })

  it('reads the pass-by threshold from visits.minMinutes once the visits feature adds it', () => {
    expect(passByMinutesOf({ visits: { minMinutes: 5 } } as never)).toBe(5)
  })
})
