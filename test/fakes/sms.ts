import { SmsSendError } from '../../src/errors.js'
import type { SmsMessage, SmsSender } from '../../src/sms/sender.js'

/** Keeps every message; can be told to fail, or to take its time. */
export class FakeSms implements SmsSender {
  readonly name = 'fake'
  readonly sent: SmsMessage[] = []
  failing = false
  /** Sends asked for so far, answered or not. */
  asked = 0
  private answer: Promise<void> | null = null
  /** Until the returned function is called, every send waits (a slow provider). */
  holdAnswers(): () => void {
    let release!: () => void
    this.answer = new Promise((r) => (release = r))
    return () => {
      this.answer = null
      release()
    }
  }
  /** Resolves once `n` sends have been asked for. */
  async untilAsked(n: number): Promise<void> {
    while (this.asked < n) await new Promise((r) => setImmediate(r))
  }
  async send(m: SmsMessage) {
    this.asked++
    if (this.answer) await this.answer
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
