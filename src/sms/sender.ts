import type { SmsProviderConfig } from './config.js'
import { RecipientUnreachableError, SmsSendError, type SmsFailureKind } from '../errors.js'
import { t, type Locale } from '../i18n/messages.js'

/** How a code reaches the phone. */
export type SmsChannel = 'sms' | 'whatsapp'

/** One text message carrying a one-time code. */
export interface SmsMessage {
  /** E.164 number. */
  to: string
  /** The full text, ending with the origin-bound line `@host #code`. */
  text: string
  code: string
  locale: Locale
  /** The channel the customer asked for; absent means SMS. */
  channel?: SmsChannel
}

export interface SendOptions {
  /** Aborted when the customer's time budget is spent: the request must stop. */
  signal?: AbortSignal
}

export interface Delivery {
  provider: string
  messageId?: string
  /** The channel that carried it; absent means SMS. */
  channel?: SmsChannel
}

/**
 * A way to deliver a message: one implementation per provider. Throws SmsSendError when the
 * provider failed (the next one may succeed) and RecipientUnreachableError when the number
 * itself cannot receive it.
 */
export interface SmsSender {
  readonly name: string
  /** What it sends; absent means SMS. */
  readonly channel?: SmsChannel
  send(message: SmsMessage, options?: SendOptions): Promise<Delivery>
}

/**
 * The localized text of a code message. The last line is the origin-bound one
 * (`@portal.host #123456`) so phones can offer the code for that site only; it is always kept,
 * whatever the template says.
 */
export function composeCodeText(p: {
  locale: Locale
  branchName: string
  code: string
  ttlMinutes: number
  portalHost: string
  /** Template with {branch}, {code}, {minutes}; default: the catalog's `sms.text`. */
  template?: string
}): string {
  const params: Record<string, string | number> = {
    branch: p.branchName,
    code: p.code,
    minutes: p.ttlMinutes,
  }
  const body =
    p.template === undefined
      ? t(p.locale, 'sms.text', params)
      : p.template.replace(/\{(branch|code|minutes)\}/g, (_, k: string) => String(params[k]))
  return `${body.trimEnd()}\n\n@${p.portalHost} #${p.code}`
}

/** Whether the customer may ask for the code by WhatsApp: a whatsapp provider is configured. */
export function offersWhatsapp(providers: readonly SmsProviderConfig[]): boolean {
  return providers.some((p) => p.type === 'whatsapp')
}

/** One try of one provider, reported for the per-provider figures. */
export interface SendAttempt {
  provider: string
  channel: SmsChannel
  /** Milliseconds from the request to the answer (or the give-up). */
  latencyMs: number
  outcome: 'sent' | 'failed' | 'unreachable'
  /** Why it failed (outcome 'failed' only), for the provider's health. */
  kind?: SmsFailureKind
  detail?: string
}

export interface FailoverOptions {
  /** Milliseconds for the whole chain; the customer gets one answer within it. Default 10 000. */
  budgetMs?: number
  /** Called after every try, for the figures. Must not throw. */
  onAttempt?: (a: SendAttempt) => void
  /** Monotonic milliseconds, for latencies. */
  monotonic?: () => number
}

/**
 * Tries each sender in order within one time budget; the first that delivers wins.
 *
 * - A provider-side failure (timeout, 5xx, throttling, credentials, credit) or a refusal that
 *   belongs to this sender (an opt-out from it, a pair it cannot connect) moves on to the next.
 * - A number that cannot receive the message from anyone (invalid, not a mobile) stops the
 *   chain: another provider would be refused too, and the customer must be told to use
 *   another number.
 * - For `channel: 'whatsapp'`, WhatsApp senders go first and SMS ones follow as a fallback;
 *   for SMS, only SMS senders are used (unless nothing but WhatsApp is configured).
 */
/** Milliseconds below which starting another provider is pointless. */
const MIN_TRY_MS = 50

export function createFailoverSender(
  senders: readonly SmsSender[],
  opts: FailoverOptions = {},
): SmsSender {
  const budgetMs = opts.budgetMs ?? 10_000
  const monotonic = opts.monotonic ?? (() => performance.now())
  const channelOf = (s: SmsSender): SmsChannel => s.channel ?? 'sms'
  const sms = senders.filter((s) => channelOf(s) === 'sms')
  const whatsapp = senders.filter((s) => channelOf(s) === 'whatsapp')
  const chains: Record<SmsChannel, readonly SmsSender[]> = {
    sms: sms.length ? sms : whatsapp,
    whatsapp: whatsapp.length ? [...whatsapp, ...sms] : sms,
  }
  return {
    name: senders.map((s) => s.name).join('>'),
    channel: chains.sms[0] ? channelOf(chains.sms[0]) : 'sms',
    async send(message, options = {}) {
      const chain = chains[message.channel ?? 'sms']
      const started = monotonic()
      // Made only when every try failed: an Error's stack costs a login more than its SMS row.
      let last: unknown = null
      for (const sender of chain) {
        const remaining = budgetMs - (monotonic() - started)
        // Timers can fire a millisecond early; a provider given a sliver of time cannot answer
        // anyway, so below MIN_TRY_MS the budget counts as spent.
        if (remaining < MIN_TRY_MS) {
          last = new SmsSendError(sender.name, `time budget of ${budgetMs} ms spent`, 'timeout')
          break
        }
        const t0 = monotonic()
        const report = (
          outcome: SendAttempt['outcome'],
          detail?: string,
          kind?: SmsFailureKind,
        ) => {
          const a: SendAttempt = {
            provider: sender.name,
            channel: channelOf(sender),
            latencyMs: monotonic() - t0,
            outcome,
          }
          if (kind !== undefined) a.kind = kind
          if (detail !== undefined) a.detail = detail
          opts.onAttempt?.(a)
        }
        try {
          const sent = await withDeadline(sender, message, remaining, options.signal)
          report('sent')
          return { ...sent, channel: sent.channel ?? channelOf(sender) }
        } catch (err) {
          last = err
          if (err instanceof RecipientUnreachableError) {
            report('unreachable', err.detail)
            throw err
          }
          if (err instanceof SmsSendError) report('failed', err.detail, err.kind)
          else report('failed', String(err), 'unavailable')
          if (options.signal?.aborted) break
        }
      }
      if (last === null) throw new SmsSendError('none', 'no provider configured')
      throw last instanceof SmsSendError || last instanceof RecipientUnreachableError
        ? last
        : new SmsSendError('chain', String(last))
    },
  }
}

/**
 * Runs one sender with an abort signal that fires after `ms` (or with the caller's), and gives
 * up on it at that moment even if the sender ignores the signal.
 */
async function withDeadline(
  sender: SmsSender,
  message: SmsMessage,
  ms: number,
  outer: AbortSignal | undefined,
): Promise<Delivery> {
  const ctl = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const onOuter = () => ctl.abort(outer?.reason)
  outer?.addEventListener('abort', onOuter, { once: true })
  const expired = new Promise<never>((_, reject) => {
    const fail = () =>
      reject(new SmsSendError(sender.name, `no answer within ${Math.round(ms)} ms`, 'timeout'))
    timer = setTimeout(() => {
      ctl.abort()
      fail()
    }, ms)
    ctl.signal.addEventListener('abort', fail, { once: true })
  })
  try {
    return await Promise.race([sender.send(message, { signal: ctl.signal }), expired])
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', onOuter)
    expired.catch(() => {})
  }
}
