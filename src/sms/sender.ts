import { SmsSendError } from '../errors.js'
import { t, type Locale } from '../i18n/messages.js'

/** One text message carrying a one-time code. */
export interface SmsMessage {
  /** E.164 number. */
  to: string
  /** The full text, ending with the origin-bound line `@host #code`. */
  text: string
  code: string
  locale: Locale
}

/** A way to deliver a message: one implementation per provider. Throws SmsSendError on failure. */
export interface SmsSender {
  readonly name: string
  send(message: SmsMessage): Promise<{ provider: string; messageId?: string }>
}

/**
 * The localized text of a code message. The last line is the origin-bound one
 * (`@portal.host #123456`) so phones can offer the code for that site only.
 */
export function composeCodeText(p: {
  locale: Locale
  branchName: string
  code: string
  ttlMinutes: number
  portalHost: string
}): string {
  const body = t(p.locale, 'sms.text', { branch: p.branchName, code: p.code, minutes: p.ttlMinutes })
  return `${body}\n\n@${p.portalHost} #${p.code}`
}

/** Tries each sender in order; the first that delivers wins. Fails with the last error. */
export function createFailoverSender(senders: readonly SmsSender[]): SmsSender {
  if (senders.length === 1) return senders[0]!
  return {
    name: senders.map((s) => s.name).join('>'),
    async send(message) {
      let last: unknown = new SmsSendError('none', 'no provider configured')
      for (const sender of senders) {
        try {
          return await sender.send(message)
        } catch (err) {
          last = err
        }
      }
      throw last
    },
  }
}
