import { describe, expect, it } from 'vitest'
import { RateLimitedError } from '../src/errors.js'
import {
  checkSendLimits,
  codeMatches,
  generateCode,
  hashCode,
  type OtpPolicy,
} from '../src/portal/otp.js'
import { FakeClock } from './fakes/clock.js'

const policy: OtpPolicy = {
  digits: 6,
  ttlSeconds: 300,
  maxAttempts: 5,
  resendAfterSeconds: 30,
  perNumberMax: 3,
  perNumberWindowMinutes: 15,
  perDevicePerHour: 10,
  perNumberPerDay: 10,
}
const secret = Buffer.alloc(32, 1)

function limitOf(fn: () => void): RateLimitedError | null {
  try {
    fn()
    return null
  } catch (err) {
    if (err instanceof RateLimitedError) return err
    throw err
  }
}

describe('one-time codes', () => {
  it('draws codes of the configured length, keeping leading zeros', () => {
    for (const digits of [4, 6, 8]) {
      for (let i = 0; i < 200; i++)
        expect(generateCode(digits)).toMatch(new RegExp(`^\\d{${digits}}$`))
    }
  })

  it('draws different codes (no fixed or short-cycle generator)', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateCode(6)))
    expect(seen.size).toBeGreaterThan(190)
  })

  it('stores an HMAC bound to the challenge, never the code', () => {
    const h = hashCode(secret, 'ch1', '123456')
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(h).not.toContain('123456')
    expect(hashCode(secret, 'ch2', '123456')).not.toBe(h)
    expect(hashCode(Buffer.alloc(32, 2), 'ch1', '123456')).not.toBe(h)
  })

  it('matches only the right code for the right challenge', () => {
    const stored = hashCode(secret, 'ch1', '042042')
    expect(codeMatches(secret, 'ch1', '042042', stored)).toBe(true)
    expect(codeMatches(secret, 'ch1', '042043', stored)).toBe(false)
    expect(codeMatches(secret, 'ch2', '042042', stored)).toBe(false)
    expect(codeMatches(secret, 'ch1', '042042', 'abcd')).toBe(false)
  })
})

describe('sending limits', () => {
  it('lets the first code go', () => {
    const clock = new FakeClock()
    expect(
      limitOf(() =>
        checkSendLimits(policy, { toNumberLastDay: [], fromDeviceLastHour: [] }, clock.now()),
      ),
    ).toBeNull()
  })

  it('refuses "send again" before 30 seconds and says how long to wait', () => {
    const clock = new FakeClock()
    const sent = clock.now()
    clock.advance({ seconds: 12 })
    const err = limitOf(() =>
      checkSendLimits(policy, { toNumberLastDay: [sent], fromDeviceLastHour: [sent] }, clock.now()),
    )
    expect(err?.scope).toBe('resend')
    expect(err?.retryAfterSeconds).toBe(18)
    clock.advance({ seconds: 18 })
    expect(
      limitOf(() =>
        checkSendLimits(
          policy,
          { toNumberLastDay: [sent], fromDeviceLastHour: [sent] },
          clock.now(),
        ),
      ),
    ).toBeNull()
  })

  it('allows 3 codes per number in 15 minutes, then names when the oldest leaves the window', () => {
    const clock = new FakeClock()
    const t0 = clock.now()
    const sent = [t0, t0 + 60_000, t0 + 120_000]
    clock.advance({ minutes: 5 })
    const err = limitOf(() =>
      checkSendLimits(policy, { toNumberLastDay: sent, fromDeviceLastHour: sent }, clock.now()),
    )
    expect(err?.scope).toBe('number')
    expect(err?.retryAfterSeconds).toBe(10 * 60)
    clock.advance({ minutes: 10 })
    expect(
      limitOf(() =>
        checkSendLimits(policy, { toNumberLastDay: sent, fromDeviceLastHour: sent }, clock.now()),
      ),
    ).toBeNull()
  })

  it('allows 10 codes per device per hour', () => {
    const clock = new FakeClock()
    const t0 = clock.now()
    const fromDevice = Array.from({ length: 10 }, (_, i) => t0 + i * 60_000)
    clock.advance({ minutes: 20 })
    const err = limitOf(() =>
      checkSendLimits(policy, { toNumberLastDay: [], fromDeviceLastHour: fromDevice }, clock.now()),
    )
    expect(err?.scope).toBe('device')
    expect(err?.retryAfterSeconds).toBe(40 * 60)
    clock.advance({ minutes: 40 })
    expect(
      limitOf(() =>
        checkSendLimits(
          policy,
          { toNumberLastDay: [], fromDeviceLastHour: fromDevice },
          clock.now(),
        ),
      ),
    ).toBeNull()
  })

  it('caps codes per number per day', () => {
    const clock = new FakeClock()
    const t0 = clock.now()
    // 10 codes spread out so neither the 15-minute nor the resend limit applies.
    const sent = Array.from({ length: 10 }, (_, i) => t0 + i * 20 * 60_000)
    clock.advance({ hours: 4 })
    const err = limitOf(() =>
      checkSendLimits(policy, { toNumberLastDay: sent, fromDeviceLastHour: [] }, clock.now()),
    )
    expect(err?.scope).toBe('numberDaily')
    expect(err?.retryAfterSeconds).toBe(20 * 60 * 60)
    clock.advance({ hours: 20 })
    expect(
      limitOf(() =>
        checkSendLimits(policy, { toNumberLastDay: sent, fromDeviceLastHour: [] }, clock.now()),
      ),
    ).toBeNull()
  })
})
