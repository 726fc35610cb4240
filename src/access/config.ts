import { z } from '../config-kit.js'
import { parseMac } from '../mac.js'

/**
 * The `session`, `branch.openingHours` and `staffMacs` keys: how long access lasts, and whose
 * devices are let through without a code.
 */

/** The `session` key: how long a verified device stays let through. */
export const sessionConfig = z
  .object({
    /** Hours a verified device stays let through (cut at closing time when opening hours are set). */
    hours: z
      .number()
      .min(0.1)
      .max(24 * 7)
      .default(8),
    /** Minutes without any sign of a device before its access is revoked; 0 means never. */
    idleMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(30),
    /** Extending a session once it nears its end, without a new code (RFC 8908 can-extend-session). */
    extend: z
      .object({
        /** Extensions one session may get; 0 turns extension off. */
        times: z.number().int().min(0).max(10).default(1),
        /** Minutes each extension adds (still cut at closing time). */
        minutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(60),
        /** Minutes before the end from which the portal offers it. */
        withinMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})

/** Optional per-tier rates in kbit/s (null: the `gate.rate` value). */
const tierKbps = z.number().int().min(64).max(10_000_000).nullable().default(null)

/**
 * The `tiers` key: kinds of access besides a verified number. `unverified`: the degraded tier
 * offered when codes cannot be sent; `pass`: staff-issued passes; `verified`: optional rates of
 * customers who verified their number (default: `gate.rate`).
 */
export const tiersConfig = z
  .object({
    verified: z.object({ downKbps: tierKbps, upKbps: tierKbps }).strict().prefault({}),
    unverified: z
      .object({
        /** false: the portal never offers access without a code (branches that must not). */
        enabled: z.boolean().default(true),
        /** Minutes of access without a code, once per device and per number per day. */
        minutes: z.number().int().min(1).max(240).default(30),
        /** kbit/s each way without a code. */
        kbps: z.number().int().min(64).max(1_000_000).default(1000),
      })
      .strict()
      .prefault({}),
    pass: z
      .object({
        /** Minutes of access a pass gives its one device. */
        minutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(240),
        downKbps: tierKbps,
        upKbps: tierKbps,
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({})
export type TiersConfig = z.infer<typeof tiersConfig>

const HOURS_RE =
  /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d(,([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d)*$/
const dayHours = z
  .string()
  .regex(HOURS_RE, 'must be ranges like "09:00-17:00" or "09:00-14:00,16:00-19:00"')
  .refine(rangesAscend, 'each range must close after it opens')
/** `branch.openingHours`: ranges per weekday in the branch time zone; a day left out is closed. */
export const openingHours = z
  .object({
    mon: dayHours,
    tue: dayHours,
    wed: dayHours,
    thu: dayHours,
    fri: dayHours,
    sat: dayHours,
    sun: dayHours,
  })
  .partial()
  .strict()

function rangesAscend(text: string): boolean {
  const minutes = (hm: string) => Number(hm.slice(0, 2)) * 60 + Number(hm.slice(3, 5))
  return text.split(',').every((r) => {
    const [open = '', close = ''] = r.split('-')
    return minutes(close) > minutes(open)
  })
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i

/** The `staffMacs` key: MACs of staff devices (aa:bb:cc:dd:ee:ff), kept in canonical form. */
export const staffMacsConfig = z
  .array(
    z
      .string()
      .regex(MAC_RE, 'must be MAC addresses like aa:bb:cc:dd:ee:ff')
      .refine(
        (mac) => parseMac(mac) !== null,
        "must be a device's MAC (not multicast or all zeros)",
      )
      .transform((mac) => parseMac(mac)!),
  )
  .default([])

export type SessionConfig = z.infer<typeof sessionConfig>
export type OpeningHours = z.infer<typeof openingHours>
