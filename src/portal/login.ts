import type { Clock } from '../clock.js'
import type { ArrivalKind, ArrivalStatements, OsFamily } from '../db/arrivals.js'
import type { CustomerRow, CustomerStatements } from '../db/customers.js'
import type { Db } from '../db/open.js'
import { ridersOf } from '../db/riders.js'
import type { OtpStatements, ChallengeRow } from '../db/otp.js'
import {
  ChallengeNotFoundError,
  CodeExpiredError,
  InvalidCodeError,
  RateLimitedError,
  RecipientUnreachableError,
  SendingPausedError,
  SmsSendError,
  TooManyAttemptsError,
  ValidationError,
} from '../errors.js'
import type { DeviceAccess } from '../access/device-access.js'
import { opaqueId } from '../ids.js'
import type { Locale } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { logEvent } from '../log.js'
import type { SendGuard } from '../sms/guard.js'
import { composeCodeText, type SmsChannel, type SmsSender } from '../sms/sender.js'
import { normalizeName } from '../customers/name.js'
import { checkSendLimits, codeMatches, generateCode, hashCode, type OtpPolicy } from './otp.js'
import { maskPhone, parsePhone, type PhoneRules } from '../customers/phone.js'
import type { CustomerBook } from '../customers/book.js'
import { standingOf, type DeviceStanding, type RememberPolicy } from './returning.js'

export interface LoginDeps {
  db: Db
  clock: Clock
  otp: OtpStatements
  customers: CustomerStatements
  /** Records a verified number as a customer (src/customers/book.ts). */
  book: CustomerBook
  access: DeviceAccess
  sms: SmsSender
  secret: Buffer
  policy: OtpPolicy
  phoneRules: PhoneRules
  branch: { id: string; name: string }
  portalHost: string
  /** Until when a device let through now stays through (session.hours, closing time). */
  sessionUntil: (now: number) => number
  remember: RememberPolicy
  /** Staff MACs from the config (canonical form). */
  staffMacs: ReadonlySet<string>
  /** Lets a staff device through (session jobs' admitStaff). */
  admitStaff?: (mac: Mac, now: number) => Promise<unknown>
  log: (line: string) => void
  /** Fraud and cost defences, checked in the transaction that records the challenge. */
  guard?: SendGuard
  /** Where "welcome back" arrivals are counted (code logins are counted by the book). */
  arrivals?: ArrivalStatements
  /** Code message text per locale ({branch}, {code}, {minutes}); default: the catalog's. */
  templates?: Partial<Record<Locale, string>>
  /**
   * Stops promotions to a number just proven with an opt-out code (issue 15): withdraws the
   * marketing consent of its customer, if there is one. Called inside the code's commit.
   */
  optOut?: (phone: string, now: number) => void
  /** `sms.mode: "paused"`: the operator stopped sending; no provider is called (issue 17). */
  paused?: boolean
  /**
   * A device through without a code is now verified (issue 17): called inside the commit that
   * lets it through as the customer, so the two are one change (and one commit less per login).
   */
  upgraded?: (mac: Mac, customerId: number, now: number) => void
}

/** What the customer typed on the splash page, as received. */
export interface LoginForm {
  name: string
  phone: string
  consent: boolean
  marketing: boolean
}

export interface Challenge {
  id: string
  phone: string
  /** A login, or stopping promotions. */
  purpose: 'login' | 'opt-out'
  digits: number
  /** Epoch ms when "send again" becomes possible. */
  resendAt: number
  /** How the code was sent. */
  channel: SmsChannel
  /** The provider that took it (when just sent). */
  provider?: string
}

const MINUTE = 60_000
/** A wrong code read outside a transaction: to be counted in one (see checkCode). */
const COUNT_IT = Symbol('count the wrong try')

/**
 * The customer's flow: ask for a code, send it again, check it. Every limit and refusal is a
 * typed error; the route layer shows it in the customer's language.
 */
export function createLogin(deps: LoginDeps) {
  const { db, clock, otp, policy } = deps
  const codePattern = new RegExp(`^\\d{${policy.digits}}$`)
  // Devices that can be more than "new" on the splash page. Only this process links a device to a
  // customer (verify, below) or marks it staff (at start, from the config), so a MAC missing here
  // needs no database read: most splash and probe requests come from phones never seen before.
  // Read on first use: a one-shot command builds the login service and never asks.
  let linked: Set<string> | null = null
  const linkedMacs = () => (linked ??= new Set<string>(deps.customers.linkedMacs()))
  const deviceOf = (mac: Mac) =>
    linkedMacs().has(mac) || deps.staffMacs.has(mac)
      ? deps.customers.deviceWithCustomer(mac)
      : undefined

  /**
   * Checks the limits and records the challenge in one transaction, so parallel requests can't
   * slip past. A refusal is returned, not thrown: a hold the fraud guard decided must be kept.
   */
  const recordChallenge = db.transaction(
    (
      c: {
        phone: string
        mac: Mac
        name: string
        locale: Locale
        marketing: boolean
        code: string
        purpose: 'login' | 'opt-out'
      },
      now: number,
    ): string | Error => {
      try {
        checkSendLimits(
          policy,
          {
            // The limits only ever look at the newest N codes: no need to read more.
            toNumberLastDay: otp.sentToPhoneSince(
              c.phone,
              now - 24 * 60 * MINUTE,
              Math.max(policy.perNumberPerDay, policy.perNumberMax, 1),
            ),
            fromDeviceLastHour: otp.sentToMacSince(
              c.mac,
              now - 60 * MINUTE,
              policy.perDevicePerHour,
            ),
          },
          now,
        )
      } catch (err) {
        if (err instanceof RateLimitedError) return err
        throw err
      }
      const refused = deps.guard?.check(c.phone, now)
      if (refused) return refused
      const id = opaqueId()
      otp.insert({
        id,
        phone_e164: c.phone,
        mac: c.mac,
        name: c.name,
        locale: c.locale,
        marketing: c.marketing ? 1 : 0,
        code_hmac: hashCode(deps.secret, id, c.code),
        created_at: now,
        expires_at: now + policy.ttlSeconds * 1000,
        purpose: c.purpose,
      })
      return id
    },
  )

  /**
   * Who delivered, in one commit. Only a delivered code replaces the previous one: a failed resend
   * leaves it usable. The provider tries waiting to be written (src/sms/metrics.ts) go with it.
   */
  const riders = ridersOf(db)
  const recordDelivered = db.transaction(
    (id: string, provider: string, channel: SmsChannel, mac: Mac, phone: string, now: number) => {
      otp.setDelivered(id, provider, channel)
      otp.supersedeOthers(id, mac, phone, now)
      riders.board()
    },
  )

  async function sendCode(c: {
    phone: string
    mac: Mac
    name: string
    locale: Locale
    marketing: boolean
    channel: SmsChannel
    purpose: 'login' | 'opt-out'
  }): Promise<Challenge> {
    // Retry-After of a pause nobody scheduled: look again in ten minutes.
    if (deps.paused) throw new SendingPausedError('paused', 600)
    const code = generateCode(policy.digits)
    const now = clock.now()
    const recorded = recordChallenge({ ...c, code }, now)
    if (recorded instanceof Error) throw recorded
    const id = recorded
    const text = composeCodeText({
      locale: c.locale,
      branchName: deps.branch.name,
      code,
      ttlMinutes: Math.round(policy.ttlSeconds / 60),
      portalHost: deps.portalHost,
      ...(deps.templates?.[c.locale] === undefined ? {} : { template: deps.templates[c.locale] }),
    })
    let channel: SmsChannel
    let provider: string
    try {
      const sent = await deps.sms.send({
        to: c.phone,
        text,
        code,
        locale: c.locale,
        channel: c.channel,
      })
      channel = sent.channel ?? 'sms'
      provider = sent.provider
      recordDelivered(id, sent.provider, channel, c.mac, c.phone, clock.now())
      // Masked number, hashed MAC (by the log), never the code or the name.
      logEvent(deps.log, 'code.sent', { phone: maskPhone(c.phone), mac: c.mac, provider, channel })
    } catch (err) {
      otp.markSendFailed(id, clock.now())
      const e =
        err instanceof SmsSendError || err instanceof RecipientUnreachableError
          ? err
          : new SmsSendError(deps.sms.name, String(err))
      deps.log(`sms: sending to ${maskPhone(c.phone)} failed: ${e.message}`)
      throw e
    }
    return {
      id,
      phone: c.phone,
      purpose: c.purpose,
      digits: policy.digits,
      resendAt: now + policy.resendAfterSeconds * 1000,
      channel,
      provider,
    }
  }

  return {
    /** Validates the splash form and texts a code to the number. */
    async start(form: LoginForm, mac: Mac, locale: Locale): Promise<Challenge> {
      const fields: Record<string, string> = {}
      const name = normalizeName(form.name)
      if (!name.ok) fields.name = `error.name.${name.reason}`
      const phone = parsePhone(form.phone, deps.phoneRules)
      if (!phone.ok) fields.phone = `error.phone.${phone.reason}`
      if (!form.consent) fields.consent = 'error.consent.required'
      if (!name.ok || !phone.ok || Object.keys(fields).length) throw new ValidationError(fields)
      return sendCode({
        phone: phone.e164,
        mac,
        name: name.name,
        locale,
        marketing: form.marketing,
        channel: 'sms',
        purpose: 'login',
      })
    },

    /**
     * "Ya no quiero recibir promociones" (issue 15): the same code, limits and defences as a
     * login, for any number that can receive one. Nothing tells whether it is a customer's.
     */
    async startOptOut(phoneText: string, mac: Mac, locale: Locale): Promise<Challenge> {
      const phone = parsePhone(phoneText, deps.phoneRules)
      if (!phone.ok) throw new ValidationError({ phone: `error.phone.${phone.reason}` })
      return sendCode({
        phone: phone.e164,
        mac,
        name: '',
        locale,
        marketing: false,
        channel: 'sms',
        purpose: 'opt-out',
      })
    },

    /** Checks an opt-out code; on success promotions to the number stop (if it is a customer's). */
    verifyOptOut(challengeId: string, mac: Mac, typed: string): void {
      const code = typed.replace(/[\s-]/g, '')
      if (code === '') throw new ValidationError({ code: 'error.code.required' })
      if (!codePattern.test(code)) throw new ValidationError({ code: 'error.code.format' })
      const now = clock.now()
      const challenge = checkCode(challengeId, mac, code, now, 'opt-out')
      db.transaction(() => {
        if (!otp.closePending(challenge.id, 'verified', now)) throw new ChallengeNotFoundError()
        deps.optOut?.(challenge.phone_e164, now)
      })()
    },

    /**
     * Sends a new code for the same login (the previous one stops working), on the channel the
     * customer picked (default: the one used before).
     */
    async resend(challengeId: string, mac: Mac, channel?: SmsChannel): Promise<Challenge> {
      const old = otp.byId(challengeId)
      if (!old || old.mac !== mac || old.status === 'verified') throw new ChallengeNotFoundError()
      return sendCode({
        phone: old.phone_e164,
        mac,
        name: old.name,
        locale: old.locale as Locale,
        marketing: old.marketing === 1,
        channel: channel ?? old.channel,
        purpose: old.purpose,
      })
    },

    /** The challenge shown on the code page, if it still belongs to this device. */
    describe(challengeId: string, mac: Mac): Challenge | null {
      const c = otp.byId(challengeId)
      if (!c || c.mac !== mac) return null
      return {
        id: c.id,
        phone: c.phone_e164,
        purpose: c.purpose,
        digits: policy.digits,
        resendAt: c.created_at + policy.resendAfterSeconds * 1000,
        channel: c.channel,
      }
    },

    /** What the portal knows about this device: staff, remembered, known but expired, or unknown. */
    standing(mac: Mac): DeviceStanding {
      return standingOf(deviceOf(mac), clock.now(), deps.remember, deps.staffMacs.has(mac))
    },

    /**
     * "Welcome back": a remembered device is let through with one tap, no code and no SMS.
     * Returns null when the device is no longer remembered (the splash page then asks for a code).
     */
    async welcomeBack(mac: Mac, osFamily: OsFamily = 'other') {
      const now = clock.now()
      const standing = standingOf(deviceOf(mac), now, deps.remember, deps.staffMacs.has(mac))
      if (standing.kind !== 'remembered') return null
      const until = deps.sessionUntil(now)
      deps.customers.seenDevice(mac, now)
      deps.arrivals?.record({
        at: now,
        customerId: standing.customerId,
        kind: 'known-device',
        osFamily,
      })
      const { visitId } = await deps.access.setDeviceState({
        next: 'allowed',
        mac,
        customerId: standing.customerId,
        until,
        reason: 'returning',
        actor: 'portal',
      })
      logEvent(deps.log, 'device.let_through', { mac, reason: 'returning' })
      return { name: standing.name, until, visitId }
    },

    /** Lets a staff device through without the portal. */
    async letStaffThrough(mac: Mac): Promise<void> {
      await deps.admitStaff?.(mac, clock.now())
    },

    /** Checks the code; on success the customer is recorded and the device let through. */
    async verify(challengeId: string, mac: Mac, typed: string, osFamily: OsFamily = 'other') {
      const code = typed.replace(/[\s-]/g, '')
      if (code === '') throw new ValidationError({ code: 'error.code.required' })
      if (!codePattern.test(code)) {
        throw new ValidationError({ code: 'error.code.format' })
      }
      const now = clock.now()
      const challenge = checkCode(challengeId, mac, code, now, 'login')
      const until = deps.sessionUntil(now)
      // The firewall first; then the used code, the customer and the access in one commit. Until
      // that commit the code stays usable, so a refused firewall change costs the customer nothing.
      let customer: CustomerRow | undefined
      let arrival: ArrivalKind = 'new-customer'
      // A known number's allowance of the day counts from the first packet (issue 17).
      const known = deps.customers.byPhone(challenge.phone_e164)?.id ?? null
      const { visitId } = await deps.access.setDeviceState(
        { next: 'allowed', mac, customerId: known, until, reason: 'login', actor: 'portal' },
        () => {
          // A parallel request may have used or spent the code meanwhile: closed only if pending.
          if (!otp.closePending(challenge.id, 'verified', now)) throw new ChallengeNotFoundError()
          ;({ customer, arrival } = deps.book.recordVerified(
            {
              phone: challenge.phone_e164,
              name: challenge.name,
              locale: challenge.locale as Locale,
              mac,
              marketing: challenge.marketing === 1,
              challengeId: challenge.id,
              osFamily,
            },
            now,
          ))
          linkedMacs().add(mac)
          deps.upgraded?.(mac, customer.id, now)
          return { customerId: customer.id }
        },
      )
      logEvent(deps.log, 'device.let_through', {
        mac,
        reason: 'login',
        phone: maskPhone(challenge.phone_e164),
      })
      // "Returning" only once the code proved the number: see docs/console.md, returning customers.
      return { customer: customer!, until, visitId, returning: arrival !== 'new-customer' }
    },
  }

  /**
   * Checks the code: the right one is returned (and marked used later, in the commit that lets
   * the device through); a wrong one is counted and committed. A refusal is returned from the
   * transaction, not thrown: a throw would roll back the counted wrong try.
   */
  function checkCode(
    challengeId: string,
    mac: Mac,
    code: string,
    now: number,
    purpose: ChallengeRow['purpose'],
  ): ChallengeRow {
    // A right code writes nothing here, so it is read outside a write transaction (one BEGIN
    // IMMEDIATE and COMMIT less per login, issue 20): the commit that uses it checks again that it
    // is still pending, as it did when this read ran in its own transaction. Only a wrong code is
    // counted, in a transaction that reads the row again, so parallel wrong tries all count.
    const seen = codeOutcome(challengeId, mac, code, now, purpose, false)
    const outcome =
      seen === COUNT_IT
        ? db.transaction(() => codeOutcome(challengeId, mac, code, now, purpose, true))()
        : seen
    if (outcome instanceof Error) throw outcome
    if (outcome === COUNT_IT) throw new Error('unreachable: a counted try has an outcome')
    return outcome
  }

  function codeOutcome(
    challengeId: string,
    mac: Mac,
    code: string,
    now: number,
    purpose: ChallengeRow['purpose'],
    count: boolean,
  ): ChallengeRow | Error | typeof COUNT_IT {
    const c = otp.byId(challengeId)
    // An opt-out code never lets a device through, nor a login code stop promotions.
    if (!c || c.mac !== mac || c.purpose !== purpose) return new ChallengeNotFoundError()
    if (c.status === 'exhausted') return new TooManyAttemptsError()
    if (c.status !== 'pending') return new ChallengeNotFoundError()
    if (now >= c.expires_at) return new CodeExpiredError()
    if (c.attempts >= policy.maxAttempts) return new TooManyAttemptsError()
    if (codeMatches(deps.secret, c.id, code, c.code_hmac)) return c
    if (!count) return COUNT_IT
    const attempts = otp.countAttempt(c.id)
    if (attempts >= policy.maxAttempts) {
      otp.setStatus(c.id, 'exhausted', now)
      return new TooManyAttemptsError()
    }
    return new InvalidCodeError(policy.maxAttempts - attempts)
  }
}

export type Login = ReturnType<typeof createLogin>
