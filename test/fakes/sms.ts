import { SmsSendError } from '../../src/errors.js'
import type { SmsMessage, SmsSender } from '../../src/sms/sender.js'

/** Keeps every message; can be told to fail. */
export class FakeSms implements SmsSender {
  readonly name = 'fake'
  readonly sent: SmsMessage[] = []
  failing = false
  async send(m: SmsMessage) {
    if (this.failing) throw new SmsSendError(this.name, 'provider down (fake)')
    this.sent.push(m)
    return { provider: this.name }
  }
  lastCodeTo(phone: string): string {
    const m = [...this.sent].reverse().find((s) => s.to === phone)
    if (!m) throw new Error(`no SMS sent to ${phone}`)
    return m.code
  }
}
