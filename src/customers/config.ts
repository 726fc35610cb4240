import { z } from 'zod'
import type { KeyProblem } from '../config-kit.js'

/** The `phone` and `privacy` keys: whose numbers are accepted, and the notice they consent to. */

const REGION_RE = /^[A-Z]{2}$/
const localeCode = z.enum(['es', 'en'])

/** The `phone` key: which numbers may sign in, and how a number without a country code is read. */
export const phoneConfig = z
  .object({
    /** Region assumed for numbers typed without a country code (ISO 3166 alpha-2). */
    defaultRegion: z
      .string()
      .regex(REGION_RE, 'must be a two-letter region such as MX')
      .default('MX'),
    /** Regions whose numbers may sign in. */
    allowedRegions: z
      .array(z.string().regex(REGION_RE, 'must be two-letter regions such as MX'))
      .min(1)
      .default(['MX']),
  })
  .strict()
  .prefault({})

/** The `privacy` key: the notice a customer consents to. */
export const privacyConfig = z
  .object({
    /** Version of the privacy notice; recorded with every consent. Change it when the text changes. */
    noticeVersion: z.string().min(1).max(40).default('2026-01'),
    /** Short notice text per locale, shown on the splash page. */
    notice: z.record(localeCode, z.string().min(1)).default({
      es: 'Usamos tu nombre y tu número para darte acceso a la red y saber cuándo nos visitas. Puedes pedir que borremos tus datos en cualquier sucursal.',
      en: 'We use your name and number to give you network access and to know when you visit. You can ask any branch to erase your data.',
    }),
    /** Optional link to the full notice (reachable before login via the walled garden). */
    noticeUrl: z.url().nullable().default(null),
  })
  .strict()
  .prefault({})

export type PhoneConfig = z.infer<typeof phoneConfig>

/** The default region must itself be allowed. */
export function phoneProblems(phone: PhoneConfig): KeyProblem[] {
  if (phone.allowedRegions.includes(phone.defaultRegion)) return []
  return [
    {
      path: ['phone', 'defaultRegion'],
      message: `must be one of phone.allowedRegions (${phone.allowedRegions.join(', ')}), got ${phone.defaultRegion}`,
    },
  ]
}
