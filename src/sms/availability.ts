import type { Config } from '../config.js'
import type { SmsStatements } from '../db/sms.js'
import { startOfLocalDay } from '../time.js'
import { createSenders } from './providers.js'

/**
 * Why no code can be sent from the branch now, for the degraded tier (issue 17): the operator
 * paused sending (`sms.mode: "paused"`), the circuit breaker is open, the day's budget is spent,
 * or every SMS provider is failing (its last try failed, and none has delivered since).
 */
export type SendingBlock = 'paused' | 'breaker' | 'budget' | 'providers'

export interface SendingCheck {
  /** What stops codes from being sent now, or null when they can be. */
  blocked(now: number): SendingBlock | null
}

export function createSendingCheck(deps: {
  sms: SmsStatements
  config: Pick<Config, 'sms' | 'branch'>
}): SendingCheck {
  const { sms, config } = deps
  // The providers a code goes by SMS through (WhatsApp only sends when the customer asks).
  const names = [
    ...new Set(
      createSenders(config.sms.providers.filter((p) => p.type !== 'whatsapp')).map((s) => s.name),
    ),
  ]
  return {
    blocked(now) {
      if (config.sms.mode === 'paused') return 'paused'
      if (sms.activeHold('branch', '', now)) return 'breaker'
      const budget = config.sms.fraud.dailyBudget
      if (budget > 0 && sms.sentSince(startOfLocalDay(now, config.branch.timeZone) - 1) >= budget)
        return 'budget'
      if (names.length === 0) return null
      const errors = new Map(sms.lastErrors().map((e) => [e.provider, e.at]))
      const failing = names.every((name) => {
        const errorAt = errors.get(name)
        if (errorAt === undefined) return false
        const sentAt = sms.lastSentAt(name)
        return sentAt === null || sentAt < errorAt
      })
      return failing ? 'providers' : null
    },
  }
}
