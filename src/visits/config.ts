import { z } from '../config-kit.js'
import type { KeyProblem } from '../config-kit.js'

/** The `visits` and `presence` keys: the visit rules and the presence sweep that feeds them. */

/** The `visits` key: when a visit ends and what counts as a pass-by. */
export const visitsConfig = z
  .object({
    /** Minutes of absence that end a visit; the visit ends at the last activity before it. Fractions allowed (tests). */
    idleMinutes: z.number().min(0.1).max(240).default(15),
    /** Visits shorter than this many minutes are kept but marked as pass-bys (not in dwell averages). */
    minMinutes: z.number().min(0).max(60).default(2),
  })
  .strict()
  .prefault({})

/** The `presence` key: how often the branch looks for devices. */
export const presenceConfig = z
  .object({
    /** Seconds between two presence sweeps (neighbour table + firewall counters). */
    intervalSeconds: z.number().min(1).max(600).default(30),
  })
  .strict()
  .prefault({})

export type VisitsConfig = z.infer<typeof visitsConfig>
export type PresenceConfig = z.infer<typeof presenceConfig>

/** The sweep must be quick enough for the visit rules: a rule across the two keys. */
export function presenceProblems(presence: PresenceConfig, visits: VisitsConfig): KeyProblem[] {
  // A sweep gap as long as the idle gap would read as an absence between every two sweeps.
  if (presence.intervalSeconds * 2 <= visits.idleMinutes * 60) return []
  return [
    {
      path: ['presence', 'intervalSeconds'],
      message: `must be at most half of visits.idleMinutes (${visits.idleMinutes} min), got ${presence.intervalSeconds} s`,
    },
  ]
}
