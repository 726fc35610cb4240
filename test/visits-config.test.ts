import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'

const problems = (cfg: unknown) => {
  try {
    loadConfig(JSON.stringify(cfg))
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('visit, presence, session and remember settings', () => {
  it('has the documented defaults', () => {
    const c = loadConfig(null)
    expect(c.visits).toEqual({ idleMinutes: 15, minMinutes: 2 })
    expect(c.presence).toEqual({ intervalSeconds: 30 })
    expect(c.session).toEqual({
      hours: 8,
      idleMinutes: 30,
      extend: { times: 1, minutes: 60, withinMinutes: 30 },
    })
    expect(c.remember).toEqual({ days: 30 })
    expect(c.reverify).toEqual({ days: 180 })
    expect(c.branch.openingHours).toBeNull()
  })

  it('accepts opening hours per weekday with several ranges', () => {
    const c = loadConfig(
      JSON.stringify({
        branch: { openingHours: { mon: '09:00-14:00,16:00-19:00', sat: '10:00-24:00' } },
      }),
    )
    expect(c.branch.openingHours).toEqual({ mon: '09:00-14:00,16:00-19:00', sat: '10:00-24:00' })
  })

  it('names what is wrong with opening hours', () => {
    expect(problems({ branch: { openingHours: { mon: '9-17' } } })).toEqual([
      'branch.openingHours.mon must be ranges like "09:00-17:00" or "09:00-14:00,16:00-19:00", got "9-17"',
    ])
    expect(problems({ branch: { openingHours: { mon: '17:00-09:00' } } })).toEqual([
      'branch.openingHours.mon each range must close after it opens',
    ])
    expect(problems({ branch: { openingHours: { monday: '09:00-17:00' } } })).toEqual([
      'branch.openingHours: unknown key(s) monday',
    ])
  })

  it('refuses a sweep interval that would read as an absence between two sweeps', () => {
    expect(problems({ visits: { idleMinutes: 1 }, presence: { intervalSeconds: 31 } })).toEqual([
      'presence.intervalSeconds must be at most half of visits.idleMinutes (1 min), got 31 s',
    ])
  })

  it('states the range of a number out of bounds', () => {
    expect(problems({ session: { idleMinutes: -1 } })).toEqual([
      'session.idleMinutes must be between 0 and 1440, got -1',
    ])
  })
})
