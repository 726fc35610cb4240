import type { SendAttempt, SmsChannel } from '../sms/sender.js'
import type { FunnelStep, OsGroup, RefusalReason, TimedRoute } from './labels.js'

/**
 * What the services tell the metrics, at the few places where things happen: the portal's
 * routes (the funnel, refusals, request time), the SMS failover chain (each provider's try),
 * the one access path (each firewall change), the presence job and the CRM sync run. Label
 * values come from the closed sets of labels.ts; nothing personal is ever passed in.
 *
 * `noMetrics` is the one for tests and commands that don't care; the service's is
 * createPrometheusMetrics (src/observe/prometheus.ts).
 */
export interface Metrics {
  /**
   * One customer's step through the portal. `sent` names who carried a code (step
   * 'code_sent' only): a configured provider's name and the channel.
   */
  funnel(step: FunnelStep, os: OsGroup, sent?: { provider: string; channel: SmsChannel }): void
  /** A request the portal refused, by reason. */
  refusal(reason: RefusalReason, os: OsGroup): void
  /** One provider's try (the failover chain reports every one): counted and timed. */
  smsAttempt(a: SendAttempt): void
  /** How long one operation took, in seconds. */
  timing(op: TimedOperation, seconds: number): void
}

/** The operations whose duration is measured, with their one label. */
export type TimedOperation =
  | { op: 'portal'; route: TimedRoute }
  | { op: 'firewall'; change: 'allow' | 'revoke' }
  | { op: 'presence' }
  | { op: 'sync'; outcome: 'acked' | 'rejected' | 'transient' }

/** Metrics that go nowhere. */
export const noMetrics: Metrics = {
  funnel() {},
  refusal() {},
  smsAttempt() {},
  timing() {},
}

/** Seconds since a `performance.now()` reading. */
export const secondsSince = (t0: number): number => (performance.now() - t0) / 1000
