import { createHmac, randomInt, timingSafeEqual } from 'node:crypto'
import { RateLimitedError } from '../errors.js'

/** The code policy: digits, lifetime, tries and sending limits. Seconds and counts as named. */
export interface OtpPolicy {
  digits: number
  ttlSeconds: number
  maxAttempts: number
  resendAfterSeconds: number
  perNumberMax: number
  perNumberWindowMinutes: number
  perDevicePerHour: number
  perNumberPerDay: number
}

/** A fresh code of `digits` digits from the CSPRNG, leading zeros kept. */
export function generateCode(digits: number): string {
  return String(randomInt(0, 10 ** digits)).padStart(digits, '0')
}

/** HMAC-SHA256 of the code bound to its challenge, hex. The code itself is never stored. */
export function hashCode(secret: Buffer, challengeId: string, code: string): string {
  return createHmac('sha256', secret).update(`${challengeId}:${code}`).digest('hex')
}

/** Constant-time comparison of a typed code against the stored HMAC. */
export function codeMatches(
  secret: Buffer,
  challengeId: string,
  typed: string,
  storedHex: string,
): boolean {
  const a = Buffer.from(hashCode(secret, challengeId, typed), 'hex')
  const b = Buffer.from(storedHex, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** What was sent before: creation times (epoch ms, ascending) of codes actually sent. */
export interface SendHistory {
  toNumberLastDay: number[]
  fromDeviceLastHour: number[]
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * Throws RateLimitedError when another code may not be sent now, naming the limit and when to
 * retry. Pure: the caller reads the history in the same transaction that records the new code.
 */
export function checkSendLimits(policy: OtpPolicy, history: SendHistory, now: number): void {
  const toNumber = history.toNumberLastDay.filter((t) => t > now - DAY)
  const fromDevice = history.fromDeviceLastHour.filter((t) => t > now - HOUR)
  const wait = (until: number) => Math.max(1, Math.ceil((until - now) / 1000))

  const last = toNumber[toNumber.length - 1]
  if (last !== undefined && now - last < policy.resendAfterSeconds * 1000) {
    throw new RateLimitedError('resend', wait(last + policy.resendAfterSeconds * 1000))
  }
  const windowMs = policy.perNumberWindowMinutes * MINUTE
  const inWindow = toNumber.filter((t) => t > now - windowMs)
  if (inWindow.length >= policy.perNumberMax) {
    throw new RateLimitedError(
      'number',
      wait(inWindow[inWindow.length - policy.perNumberMax]! + windowMs),
    )
  }
  if (fromDevice.length >= policy.perDevicePerHour) {
    throw new RateLimitedError(
      'device',
      wait(fromDevice[fromDevice.length - policy.perDevicePerHour]! + HOUR),
    )
  }
  if (toNumber.length >= policy.perNumberPerDay) {
    throw new RateLimitedError(
      'numberDaily',
      wait(toNumber[toNumber.length - policy.perNumberPerDay]! + DAY),
    )
  }
}
