import { z } from '../config-kit.js'

/**
 * The `otp`, `remember` and `reverify` keys: the codes the splash page asks for, and when a known
 * device or number may skip them.
 */

/** The `otp` key: one-time codes and how often a number or device may ask for one. */
export const otpConfig = z
  .object({
    /** Digits in a code, 4–8. */
    digits: z.number().int().min(4).max(8).default(6),
    /** Seconds a code stays valid. */
    ttlSeconds: z.number().int().min(60).max(3600).default(300),
    /** Wrong tries allowed per code; then a new code is needed. */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /** Seconds before "send again" is allowed. */
    resendAfterSeconds: z.number().int().min(0).max(600).default(30),
    /** Codes per number within `perNumberWindowMinutes`. */
    perNumberMax: z.number().int().min(1).default(3),
    /** Minutes of the per-number window. */
    perNumberWindowMinutes: z.number().int().min(1).default(15),
    /** Codes per device (MAC) per hour. */
    perDevicePerHour: z.number().int().min(1).default(10),
    /** Codes per number per calendar day (UTC, rolling 24 h). */
    perNumberPerDay: z.number().int().min(1).default(10),
  })
  .strict()
  .prefault({})

/** The `remember` key: how long a verified device is recognised. */
export const rememberConfig = z
  .object({
    /** Days a verified device is recognised ("welcome back", no new code); 0 means never. */
    days: z.number().int().min(0).max(365).default(30),
  })
  .strict()
  .prefault({})

/** The `reverify` key: how long a verified number is trusted on a known device. */
export const reverifyConfig = z
  .object({
    /** Days after a number's last verification when a code is asked again, even on a known device. */
    days: z.number().int().min(1).max(3650).default(180),
  })
  .strict()
  .prefault({})

export type OtpConfig = z.infer<typeof otpConfig>
