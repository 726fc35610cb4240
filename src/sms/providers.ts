import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { SmsProviderConfig } from './config.js'
import { SmsSendError } from '../errors.js'
import type { Riders } from '../db/riders.js'
import type { SmsStatements } from '../db/sms.js'
import { createConsoleSender } from './console.js'
import { createHttpSender } from './http.js'
import { checkInfobipAccount, createInfobipSender } from './infobip.js'
import type { AccountCheck, Fetch } from './provider-http.js'
import { attemptRecorder } from './metrics.js'
import { noMetrics, type Metrics } from '../observe/metrics.js'
import { createFailoverSender, type SmsSender } from './sender.js'
import { checkTwilioAccount, createTwilioSender } from './twilio.js'
import { checkWhatsappAccount, createWhatsappSender } from './whatsapp.js'

/** One sender per configured provider, in the configured order. */
export function createSenders(
  providers: readonly SmsProviderConfig[],
  fetchImpl: Fetch = fetch,
): SmsSender[] {
  return providers.map((p) => {
    switch (p.type) {
      case 'console':
        return createConsoleSender()
      case 'http':
        return createHttpSender(p, fetchImpl)
      case 'twilio':
        return createTwilioSender(p, fetchImpl)
      case 'infobip':
        return createInfobipSender(p, fetchImpl)
      case 'whatsapp':
        return createWhatsappSender(p, fetchImpl)
    }
  })
}

/**
 * The configured providers as one failover chain within `sms.sendBudgetMs`, every try recorded
 * for the per-provider figures. What main.ts hands to createApp.
 */
export function createSmsChain(deps: {
  config: Config
  sms: SmsStatements
  clock: Clock
  log: (line: string) => void
  fetchImpl?: Fetch
  /** Every try counted and timed per provider; default: nowhere. */
  metrics?: Metrics
  /** The connection's riders: tries written in the commit that records the delivery. */
  riders?: Riders
}): SmsSender {
  const record = attemptRecorder(deps.sms, deps.clock, deps.log, setImmediate, deps.riders)
  const metrics = deps.metrics ?? noMetrics
  return createFailoverSender(createSenders(deps.config.sms.providers, deps.fetchImpl), {
    budgetMs: deps.config.sms.sendBudgetMs,
    onAttempt: (a) => {
      record(a)
      metrics.smsAttempt(a)
    },
  })
}

/**
 * Doctor's check of one provider's credentials with an authenticated read-only call (Twilio's
 * account, Infobip's balance, the WhatsApp phone-number ID); null for the types that have none
 * (console, a generic http aggregator). A network error or no answer is an 'unavailable' or
 * 'timeout' finding, never a throw.
 */
export async function checkProviderAccount(
  p: SmsProviderConfig,
  fetchImpl: Fetch = fetch,
): Promise<AccountCheck | null> {
  try {
    switch (p.type) {
      case 'twilio':
        return await checkTwilioAccount(p, fetchImpl)
      case 'infobip':
        return await checkInfobipAccount(p, fetchImpl)
      case 'whatsapp':
        return await checkWhatsappAccount(p, fetchImpl)
      default:
        return null
    }
  } catch (err) {
    if (err instanceof SmsSendError) return { ok: false, kind: err.kind, detail: err.detail }
    throw err
  }
}
