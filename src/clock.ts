/** The time source. Tests pass a clock they can advance; nothing sleeps to wait for time. */
export interface Clock {
  /** Milliseconds since the UNIX epoch (UTC). */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
