import {
  ChallengeNotFoundError,
  CodeExpiredError,
  DeviceUnknownError,
  GateError,
  InvalidCodeError,
  InvalidPassError,
  NotExtendableError,
  PassUnusableError,
  WithoutCodeRefusedError,
  RateLimitedError,
  RecipientUnreachableError,
  SendingPausedError,
  SmsSendError,
  TooManyAttemptsError,
  ValidationError,
} from '../errors.js'
import { osFamilyOf, type OsFamily } from '../os-family.js'

/**
 * The closed sets every metric label comes from. Nothing a customer sends or is (a number, a
 * name, a MAC, an address, a User-Agent) becomes a label value: it is mapped to one of these
 * first, so the number of series is fixed by the code and the config, whatever the traffic.
 */

/**
 * The operating-system groups the funnel is split by: the families of the one reader
 * (src/os-family.ts) folded into four, so the series stay few.
 */
export const OS_GROUPS = ['ios_macos', 'android', 'windows', 'other'] as const
export type OsGroup = (typeof OS_GROUPS)[number]

/** Each family's group: Apple's together; ChromeOS with Android (it shares Android's probe). */
export const OS_GROUP_OF: Record<OsFamily, OsGroup> = {
  ios: 'ios_macos',
  macos: 'ios_macos',
  android: 'android',
  chromeos: 'android',
  windows: 'windows',
  linux: 'other',
  other: 'other',
}

/**
 * The customer's steps through the portal, in order:
 * probe (the OS's captive check reached us), splash (the first page served), code_requested
 * (POST /login or /resend), code_sent (a provider took it), verified (the right code),
 * welcome_back (a remembered device, one tap), let_through (the firewall let the device through);
 * let_through_unverified (without a code, issue 17) and let_through_pass (a staff pass) apart.
 */
export const FUNNEL_STEPS = [
  'probe',
  'splash',
  'code_requested',
  'code_sent',
  'verified',
  'welcome_back',
  'let_through',
  // Issue 17: let through without a verified number, counted apart from let_through.
  'let_through_unverified',
  'let_through_pass',
] as const
export type FunnelStep = (typeof FUNNEL_STEPS)[number]

/** Why a customer was refused, one per refused request (see refusalReasonOf). */
export const REFUSAL_REASONS = [
  'invalid_name',
  'invalid_phone',
  'no_consent',
  'code_format',
  'code_wrong',
  'code_expired',
  'code_attempts',
  'code_gone',
  'limit_resend',
  'limit_number',
  'limit_device',
  'limit_number_daily',
  'fraud_prefix_rate',
  'fraud_prefix_conversion',
  'fraud_breaker',
  'budget_spent',
  'provider_failure',
  'number_unreachable',
  'device_unknown',
  'firewall',
  // Issue 17: staff passes, access without a code, extension, sms.mode paused.
  'pass_wrong',
  'pass_unusable',
  'limit_pass',
  'limit_pass_branch',
  'without_code_refused',
  'not_extendable',
  'sms_paused',
  'error',
] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/** The routes whose latency is measured. */
export const TIMED_ROUTES = ['login', 'verify'] as const
export type TimedRoute = (typeof TIMED_ROUTES)[number]

/** The SMS channels. */
export const CHANNELS = ['sms', 'whatsapp'] as const

/** What a provider's try ended in (src/sms/sender.ts SendAttempt). */
export const SEND_OUTCOMES = ['sent', 'failed', 'unreachable'] as const

/** What a CRM batch ended in (src/sync/adapter.ts). */
export const BATCH_OUTCOMES = ['acked', 'rejected', 'transient'] as const

/** The probe table's `os` (src/portal/probes.ts) as a group. */
export function osGroupOfProbe(os: string): OsGroup {
  if (os.startsWith('iOS')) return 'ios_macos'
  if (os.startsWith('Android')) return 'android'
  if (os.startsWith('Windows')) return 'windows'
  return 'other'
}

/** A User-Agent's group: its family by the one reader, folded (OS_GROUP_OF). */
export function osGroupOfUserAgent(ua: string | undefined): OsGroup {
  return OS_GROUP_OF[osFamilyOf(ua)]
}

const RATE_LIMIT_REASON: Record<RateLimitedError['scope'], RefusalReason> = {
  resend: 'limit_resend',
  number: 'limit_number',
  device: 'limit_device',
  numberDaily: 'limit_number_daily',
  prefix: 'fraud_prefix_rate',
  pass: 'limit_pass',
  passBranch: 'limit_pass_branch',
}

const PAUSE_REASON: Record<SendingPausedError['reason'], RefusalReason> = {
  breaker: 'fraud_breaker',
  budget: 'budget_spent',
  prefix: 'fraud_prefix_conversion',
  paused: 'sms_paused',
}

/** The reason a refusal is counted under; every error the portal can answer with has one. */
export function refusalReasonOf(err: unknown): RefusalReason {
  if (err instanceof ValidationError) {
    const f = err.fields
    if (f.phone) return 'invalid_phone'
    if (f.name) return 'invalid_name'
    if (f.consent) return 'no_consent'
    return 'code_format'
  }
  if (err instanceof InvalidCodeError) return 'code_wrong'
  if (err instanceof CodeExpiredError) return 'code_expired'
  if (err instanceof TooManyAttemptsError) return 'code_attempts'
  if (err instanceof ChallengeNotFoundError) return 'code_gone'
  if (err instanceof RateLimitedError) return RATE_LIMIT_REASON[err.scope]
  if (err instanceof SendingPausedError) return PAUSE_REASON[err.reason]
  if (err instanceof SmsSendError) return 'provider_failure'
  if (err instanceof RecipientUnreachableError) return 'number_unreachable'
  if (err instanceof DeviceUnknownError) return 'device_unknown'
  if (err instanceof GateError) return 'firewall'
  if (err instanceof InvalidPassError) return 'pass_wrong'
  if (err instanceof PassUnusableError) return 'pass_unusable'
  if (err instanceof WithoutCodeRefusedError) return 'without_code_refused'
  if (err instanceof NotExtendableError) return 'not_extendable'
  return 'error'
}
