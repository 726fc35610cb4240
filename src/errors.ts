/**
 * Typed errors of the domain. Domain code throws these; one boundary (app.onError) turns them
 * into a status and a page in the customer's language. `key` names the message in src/i18n.
 */
export abstract class DomainError extends Error {
  abstract readonly status: 400 | 403 | 404 | 409 | 410 | 422 | 429 | 502 | 503
  abstract readonly key: string
  readonly params: Record<string, string | number> = {}
}

/** One or more form fields are wrong; `fields` maps each field to its message key. */
export class ValidationError extends DomainError {
  readonly status = 422
  readonly key = 'error.validation'
  constructor(readonly fields: Record<string, string>) {
    super(
      `invalid input: ${Object.entries(fields)
        .map(([f, k]) => `${f}=${k}`)
        .join(', ')}`,
    )
    this.name = 'ValidationError'
  }
}

export class InvalidCodeError extends DomainError {
  readonly status = 422
  readonly key = 'error.code.wrong'
  constructor(readonly triesLeft: number) {
    super(`wrong code, ${triesLeft} tries left`)
    this.name = 'InvalidCodeError'
    this.params.triesLeft = triesLeft
  }
}

export class CodeExpiredError extends DomainError {
  readonly status = 410
  readonly key = 'error.code.expired'
  constructor() {
    super('code expired')
    this.name = 'CodeExpiredError'
  }
}

export class TooManyAttemptsError extends DomainError {
  readonly status = 429
  readonly key = 'error.code.tooManyTries'
  constructor() {
    super('too many wrong tries for this code')
    this.name = 'TooManyAttemptsError'
  }
}

/** The code page no longer matches a live challenge (used, replaced or never existed). */
export class ChallengeNotFoundError extends DomainError {
  readonly status = 410
  readonly key = 'error.code.gone'
  constructor() {
    super('no live challenge')
    this.name = 'ChallengeNotFoundError'
  }
}

export type RateLimitScope =
  | 'resend'
  | 'number'
  | 'device'
  | 'numberDaily'
  | 'prefix'
  // Wrong staff-pass codes (issue 17): per device, and for the whole branch.
  | 'pass'
  | 'passBranch'

export class RateLimitedError extends DomainError {
  readonly status = 429
  readonly key: string
  constructor(
    readonly scope: RateLimitScope,
    readonly retryAfterSeconds: number,
  ) {
    super(`rate limited (${scope}), retry after ${retryAfterSeconds}s`)
    this.name = 'RateLimitedError'
    this.key = `error.limit.${scope}`
    this.params.wait = retryAfterSeconds
  }
}

/**
 * Why a provider did not deliver. All of these are the provider's side (or this sender's), so the
 * next provider is tried, and the operator sees the kind of each provider's last error:
 * - 'timeout': no answer in time; 'unavailable': 5xx or a network error;
 * - 'rateLimited': 429 or the provider's throttling code;
 * - 'credentials': the provider refused our credentials (wrong or expired token, no permission);
 * - 'noCredit': the account is out of credit or suspended;
 * - 'senderRefused': this sender (number, sender ID, account route) cannot reach this number,
 *   e.g. the customer once replied STOP to it, or the pair cannot be connected;
 * - 'rejected': any other refusal of the request (a template or parameter the provider refuses).
 * The table of each provider's codes is in docs/sms.md.
 */
export type SmsFailureKind =
  | 'timeout'
  | 'unavailable'
  | 'rateLimited'
  | 'credentials'
  | 'noCredit'
  | 'senderRefused'
  | 'rejected'

/** Every SmsFailureKind, in the order status pages list them. */
export const SMS_FAILURE_KINDS: readonly SmsFailureKind[] = [
  'credentials',
  'noCredit',
  'senderRefused',
  'rejected',
  'rateLimited',
  'timeout',
  'unavailable',
]

/** The SMS provider failed or did not answer in time. */
export class SmsSendError extends DomainError {
  readonly status = 502
  readonly key: string
  constructor(
    readonly provider: string,
    readonly detail: string,
    readonly kind: SmsFailureKind = 'unavailable',
  ) {
    super(`sms provider ${provider} failed: ${detail}`)
    this.name = 'SmsSendError'
    this.key = kind === 'rateLimited' ? 'error.sms.busy' : 'error.sms.failed'
  }
}

/**
 * The provider says this number cannot receive the message (invalid, not a mobile, not on
 * WhatsApp): whoever sends it. It is the number, not the provider: no other provider is tried.
 * A refusal that depends on the sender (an opt-out from that sender, a pair that cannot be
 * connected) is an SmsSendError of kind 'senderRefused' instead.
 */
export class RecipientUnreachableError extends DomainError {
  readonly status = 422
  readonly key: string
  constructor(
    readonly provider: string,
    readonly channel: 'sms' | 'whatsapp',
    readonly detail: string,
  ) {
    super(`${provider}: the number cannot receive ${channel}: ${detail}`)
    this.name = 'RecipientUnreachableError'
    this.key = channel === 'whatsapp' ? 'error.whatsapp.unreachable' : 'error.sms.unreachable'
  }
}

/**
 * Sending is held back by a fraud or cost defence: the branch-wide circuit breaker ('breaker'),
 * the daily budget ('budget'), or a number prefix with too few verified codes ('prefix'); or the
 * operator paused it (`sms.mode: "paused"`, 'paused').
 */
export class SendingPausedError extends DomainError {
  readonly status = 503
  readonly key: string
  constructor(
    readonly reason: 'breaker' | 'budget' | 'prefix' | 'paused',
    readonly retryAfterSeconds: number,
  ) {
    super(`sending paused (${reason}), retry after ${retryAfterSeconds}s`)
    this.name = 'SendingPausedError'
    this.key = `error.sms.paused.${reason}`
    this.params.wait = retryAfterSeconds
  }
}

// Issue 17: staff passes, access without a code, session extension.

/** A pass code that is not one (or not any more): the same sentence either way. */
export class InvalidPassError extends DomainError {
  readonly status = 422
  readonly key = 'error.pass.wrong'
  constructor() {
    super('wrong or unknown pass code')
    this.name = 'InvalidPassError'
  }
}

/** A pass already used on another device, or one spent by too many wrong tries. */
export class PassUnusableError extends DomainError {
  readonly status = 409
  readonly key: string
  constructor(readonly why: 'used' | 'exhausted') {
    super(`pass ${why}`)
    this.name = 'PassUnusableError'
    this.key = `error.pass.${why}`
  }
}

/**
 * Access without a code refused: the branch turned it off ('off'), codes can be sent now
 * ('codesWork': ask for one), or this device or number had it today ('usedToday').
 */
export class WithoutCodeRefusedError extends DomainError {
  readonly status: 403 | 409
  readonly key: string
  constructor(readonly why: 'off' | 'codesWork' | 'usedToday') {
    super(`access without a code refused: ${why}`)
    this.name = 'WithoutCodeRefusedError'
    this.status = why === 'off' ? 403 : 409
    this.key = `error.withoutCode.${why}`
  }
}

/** The session cannot be extended (not near its end, already extended, or the branch closes). */
export class NotExtendableError extends DomainError {
  readonly status = 409
  readonly key = 'error.extend.no'
  constructor() {
    super('session not extendable')
    this.name = 'NotExtendableError'
  }
}

/** The client's MAC could not be found in the kernel's neighbour table. */
export class DeviceUnknownError extends DomainError {
  readonly status = 403
  readonly key = 'error.device.unknown'
  constructor(readonly ip: string) {
    super(`no MAC for ${ip}`)
    this.name = 'DeviceUnknownError'
  }
}

/** The firewall refused to apply a change. */
export class GateError extends DomainError {
  readonly status = 503
  readonly key = 'error.gate'
  constructor(detail: string) {
    super(`gate failed: ${detail}`)
    this.name = 'GateError'
  }
}

/**
 * What a portal route did not expect (the database still locked when its busy timeout ran out, a
 * full disk, a bug): not the guest's doing, and most often passing. The portal's boundary shows
 * it as one sentence on the page the guest was on, with 503 and when to try again, never as a
 * 500 or a stack trace; the cause goes to the log.
 */
export class UnavailableError extends DomainError {
  readonly status = 503
  readonly key = 'error.unexpected'
  readonly retryAfterSeconds = 5
  constructor(detail: string) {
    super(`unexpected: ${detail}`)
    this.name = 'UnavailableError'
  }
}

/**
 * Something the person running branchgate must fix before it can run: a bad command-line option,
 * a damaged or misplaced data file. Never shown to guests. The two process boundaries (src/cli.ts
 * and src/main.ts) print its one-sentence message and exit with status 2; whoever throws it has
 * changed nothing on disk.
 */
export abstract class OperatorError extends Error {
  readonly exitCode = 2
  /** The subcommand it concerns, printed as `branchgate <command>: …`. */
  command: string | null = null
}

/** A command-line option is unknown, given twice, lacks its value, or has one out of range. */
export class UsageError extends OperatorError {
  constructor(command: string, message: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/**
 * A file or folder in the data folder (or the folder itself) cannot be used as it is; `file` is
 * its path, and the message says what is wrong and what to do. branchgate left it untouched.
 */
export class DataFileError extends OperatorError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message)
    this.name = 'DataFileError'
  }
}

/**
 * What the process prints and exits with for an error that ended a command: an OperatorError's
 * own sentence and 2; anything else is a bug, reported with its stack and 1.
 */
export function fatalReport(err: unknown): { text: string; exitCode: number } {
  if (err instanceof OperatorError) {
    return {
      text: `branchgate${err.command ? ` ${err.command}` : ''}: ${err.message}`,
      exitCode: err.exitCode,
    }
  }
  const e = err instanceof Error ? err : new Error(String(err))
  return {
    text: `branchgate: unexpected error (a bug; please report it with these lines): ${e.stack ?? e.message}`,
    exitCode: 1,
  }
}
