import { z, pemFiles } from '../config-kit.js'
import { parseAuthority } from '../host-check.js'

/** The `console` keys: manager sessions, sign-in throttling, report windows, TLS and host names. */
export const consoleConfig = z
  .object({
    /** Minutes without a request after which a console session ends. */
    sessionIdleMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(30),
    /** Hours after sign-in when a console session ends whatever the activity. */
    sessionMaxHours: z.number().min(1).max(72).default(12),
    /** Failed sign-ins per user name within `loginWindowMinutes` before the name is locked. */
    maxFailuresPerUser: z.number().int().min(1).max(100).default(5),
    /** Failed sign-ins per client address within `loginWindowMinutes` before it is locked. */
    maxFailuresPerIp: z.number().int().min(1).max(1000).default(20),
    /** Minutes of the sign-in throttling window (and of the lock-out). */
    loginWindowMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15),
    /** Days after a campaign send within which a visit counts as a walk-in. */
    walkInDays: z.number().int().min(1).max(90).default(7),
    /** Minutes since an open visit was last seen for the customer to count as "at the branch now". */
    hereNowMinutes: z.number().int().min(1).max(240).default(15),
    /** TLS for the console listener with the operator's PEM files; null: plain HTTP. */
    tls: z.object(pemFiles).strict().nullable().default(null),
    /**
     * Host names the console answers to besides loopback names and its listener's own
     * address (DNS-rebinding defence): `name` on any port, `name:port` on that port only.
     */
    hosts: z
      .array(
        z
          .string()
          .refine(
            (h) => parseAuthority(h, 'http') !== null,
            'must be host names such as consola.sucursal.lan or consola.sucursal.lan:8443',
          ),
      )
      .default([]),
  })
  .strict()
  .prefault({})

export type ConsoleConfig = z.infer<typeof consoleConfig>
