import type { Clock } from '../../src/clock.js'

/** A clock tests move by hand. Starts at a fixed, readable instant. */
export class FakeClock implements Clock {
  constructor(public ms = Date.parse('2026-03-02T15:00:00Z')) {}
  now() {
    return this.ms
  }
  advance(p: { ms?: number; seconds?: number; minutes?: number; hours?: number; days?: number }) {
    this.ms +=
      (p.ms ?? 0) +
      (p.seconds ?? 0) * 1000 +
      (p.minutes ?? 0) * 60_000 +
      (p.hours ?? 0) * 3_600_000 +
      (p.days ?? 0) * 86_400_000
  }
}
