import type { DeviceAccess } from '../access/device-access.js'
import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { Db } from '../db/open.js'
import type { TierStatements, UnverifiedGrantRow } from '../db/tiers.js'
import { ValidationError, WithoutCodeRefusedError } from '../errors.js'
import type { Locale } from '../i18n/messages.js'
import type { Mac } from '../mac.js'
import { normalizeName } from '../customers/name.js'
import { parsePhone, type PhoneRules } from '../customers/phone.js'
import type { SendingBlock, SendingCheck } from '../sms/availability.js'
import { localDate } from '../time.js'
import type { LoginForm } from './login.js'

/**
 * The degraded tier (issue 17): when no code can be sent (sending paused, the breaker open, the
 * budget spent, every provider failing), the splash page offers "Conectarme sin código" after
 * name, number and consent: `tiers.unverified.minutes` of access at `tiers.unverified.kbps`,
 * once per device and once per number per day. The number is kept as typed and unverified,
 * apart from customers: nothing of it goes to the CRM. When codes work again, the customer
 * verifies from the portal and the same device is upgraded without reconnecting.
 *
 * The server decides, never the form: the offer is only honoured while sending is blocked now,
 * and, when the block is failing providers, only after a code for this device and number failed
 * to go in the last minutes.
 */
export interface WithoutCodeDeps {
  db: Db
  clock: Clock
  rows: TierStatements
  sending: SendingCheck
  access: Pick<DeviceAccess, 'setDeviceState' | 'live'>
  audit: AuditStatements
  policy: { enabled: boolean; minutes: number }
  phoneRules: PhoneRules
  noticeVersion: string
  timeZone: string
  /** Until when a device let through now may stay (closing time). */
  sessionUntil: (now: number) => number
}

/** Minutes a failed send for this device and number keeps the offer open. */
export const FAILED_SEND_WINDOW_MINUTES = 15

export function createWithoutCode(deps: WithoutCodeDeps) {
  const { rows, clock } = deps
  const dayOf = (now: number) => localDate(now, deps.timeZone)

  const grant = deps.db.transaction(
    (
      g: { phone: string; name: string; locale: Locale; marketing: boolean; mac: Mac },
      why: string,
      until: number,
      now: number,
    ) => {
      if (rows.grantsOn(dayOf(now), g.mac, g.phone) > 0)
        throw new WithoutCodeRefusedError('usedToday')
      const id = rows.insertGrant({
        ...g,
        noticeVersion: deps.noticeVersion,
        day: dayOf(now),
        now,
        until,
        why,
      })
      deps.audit.record({
        at: now,
        actor: 'portal',
        action: 'unverified.grant',
        subject: g.mac,
        reason: why,
        detail: { grant: id, until },
      })
    },
  )

  return {
    /**
     * Whether the splash may offer access without a code to this device and the number it
     * typed: the tier is on, sending is blocked (`failedNow`: the request's own send just failed
     * for that reason, which the providers' recorded tries may not show yet), and neither had
     * it today.
     */
    offered(mac: Mac, typedPhone: string, failedNow: SendingBlock | null = null): boolean {
      if (!deps.policy.enabled) return false
      const now = clock.now()
      if ((failedNow ?? deps.sending.blocked(now)) === null) return false
      const phone = parsePhone(typedPhone, deps.phoneRules)
      return rows.grantsOn(dayOf(now), mac, phone.ok ? phone.e164 : '') === 0
    },

    /** Lets the device through without a code, if the server agrees it may (see above). */
    async grant(form: LoginForm, mac: Mac, locale: Locale): Promise<{ until: number }> {
      if (!deps.policy.enabled) throw new WithoutCodeRefusedError('off')
      const fields: Record<string, string> = {}
      const name = normalizeName(form.name)
      if (!name.ok) fields.name = `error.name.${name.reason}`
      const phone = parsePhone(form.phone, deps.phoneRules)
      if (!phone.ok) fields.phone = `error.phone.${phone.reason}`
      if (!form.consent) fields.consent = 'error.consent.required'
      if (!name.ok || !phone.ok || Object.keys(fields).length) throw new ValidationError(fields)
      const now = clock.now()
      const why = deps.sending.blocked(now)
      if (
        why === null ||
        (why === 'providers' &&
          !rows.failedSendSince(mac, phone.e164, now - FAILED_SEND_WINDOW_MINUTES * 60_000))
      )
        throw new WithoutCodeRefusedError('codesWork')
      if (rows.grantsOn(dayOf(now), mac, phone.e164) > 0)
        throw new WithoutCodeRefusedError('usedToday')
      const until = Math.min(now + deps.policy.minutes * 60_000, deps.sessionUntil(now))
      await deps.access.setDeviceState(
        {
          next: 'allowed',
          mac,
          customerId: null,
          until,
          reason: 'unverified',
          actor: 'portal',
          tier: 'unverified',
        },
        (at) => {
          grant(
            { phone: phone.e164, name: name.name, locale, marketing: form.marketing, mac },
            why,
            until,
            at,
          )
          return { customerId: null }
        },
      )
      return { until }
    },

    /** The grant this device is using now, if it is let through without a code. */
    current(mac: Mac): UnverifiedGrantRow | null {
      if (deps.access.live(mac)?.tier !== 'unverified') return null
      return rows.grantOf(mac, dayOf(clock.now())) ?? null
    },

    /** The device verified its number: its grant of today becomes that customer's. */
    upgraded(mac: Mac, customerId: number, now = clock.now()): void {
      rows.markUpgraded(mac, customerId, now, now - 24 * 3_600_000)
    },

    /** Whether codes can be sent now (the upgrade button shows only then). */
    codesWork: () => deps.sending.blocked(clock.now()) === null,
  }
}
export type WithoutCode = ReturnType<typeof createWithoutCode>
