import { z } from '../config-kit.js'
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

/** The default short notice for Mexico (LFPDPPP's simplified notice, in brief). */
const NOTICE_MX = {
  es: 'Usamos tu nombre y tu número para darte acceso a la red y saber cuándo nos visitas. Puedes pedir que borremos tus datos en cualquier sucursal.',
  en: 'We use your name and number to give you network access and to know when you visit. You can ask any branch to erase your data.',
}

/**
 * The default first-layer notice for Spain: the basic information GDPR art. 13 and LOPDGDD
 * art. 11 ask for at collection (controller, purposes, legal basis, recipients, rights, where to
 * complain), as the AEPD's layered-notice guidance lays it out.
 */
const NOTICE_ES = {
  es: 'Protección de datos. Responsable: la entidad titular de esta sucursal. Finalidad: darte acceso a la red wifi, saber cuándo nos visitas y, solo si lo marcas, enviarte promociones. Legitimación: tu consentimiento (art. 6.1.a RGPD), que puedes retirar cuando quieras. Destinatarios: nadie, salvo obligación legal; el proveedor de SMS trata tu número por nuestra cuenta. Derechos: acceso, rectificación, supresión, oposición, limitación y portabilidad, en cualquier sucursal; también puedes reclamar ante la Agencia Española de Protección de Datos (aepd.es).',
  en: 'Data protection. Controller: the company that runs this branch. Purpose: to give you Wi-Fi access, to know when you visit and, only if you tick it, to send you offers. Legal basis: your consent (GDPR art. 6(1)(a)), which you may withdraw at any time. Recipients: nobody, unless the law requires it; the SMS provider handles your number on our behalf. Your rights: access, rectification, erasure, objection, restriction and portability, at any branch; you may also complain to the Spanish Data Protection Agency (aepd.es).',
}

/** The same notices addressing the customer as "usted". */
const NOTICE_MX_USTED = {
  ...NOTICE_MX,
  es: 'Usamos su nombre y su número para darle acceso a la red y saber cuándo nos visita. Puede pedir que borremos sus datos en cualquier sucursal.',
}
const NOTICE_ES_USTED = {
  ...NOTICE_ES,
  es: 'Protección de datos. Responsable: la entidad titular de esta sucursal. Finalidad: darle acceso a la red wifi, saber cuándo nos visita y, solo si lo marca, enviarle promociones. Legitimación: su consentimiento (art. 6.1.a RGPD), que puede retirar cuando quiera. Destinatarios: nadie, salvo obligación legal; el proveedor de SMS trata su número por nuestra cuenta. Derechos: acceso, rectificación, supresión, oposición, limitación y portabilidad, en cualquier sucursal; también puede reclamar ante la Agencia Española de Protección de Datos (aepd.es).',
}

/** The notice used when `privacy.notice` is not configured: by the branch's country and form of address. */
export function defaultNotice(region: string, usted: boolean): Record<'es' | 'en', string> {
  if (region === 'ES') return usted ? NOTICE_ES_USTED : NOTICE_ES
  return usted ? NOTICE_MX_USTED : NOTICE_MX
}

/** The `privacy` key: the notice a customer consents to. */
export const privacyConfig = z
  .object({
    /** Version of the privacy notice; recorded with every consent. Change it when the text changes. */
    noticeVersion: z.string().min(1).max(40).default('2026-01'),
    /** Short notice text per locale, shown on the splash page. */
    notice: z.record(localeCode, z.string().min(1)).default(NOTICE_MX),
    /** Optional link to the full notice (reachable before login via the walled garden). */
    noticeUrl: z
      .url({ protocol: /^https?$/ })
      .nullable()
      .default(null),
    // Issue 15: the full notice, retention, block-then-delete, rights requests.
    /**
     * Full privacy notice per locale, served by branchgate at /aviso-de-privacidad before login.
     * null: built from the config (branch, retention, contact); see src/privacy/notice.ts.
     */
    // partialRecord: one language may be given alone (the other is built from the config).
    fullNotice: z
      .partialRecord(localeCode, z.string().min(1).max(100_000))
      .nullable()
      .default(null),
    /** Files holding the full notice per locale (plain text, read at start); wins over fullNotice. */
    fullNoticeFiles: z.partialRecord(localeCode, z.string().min(1)).nullable().default(null),
    /** Who is responsible for the data and how to reach them, as written in the full notice. */
    controller: z.string().min(1).max(500).nullable().default(null),
    /** How long each kind of personal data is kept (see README "Privacy"). */
    retention: z
      .object({
        /** Months without a visit or a code after which a customer is blocked, then deleted. */
        customersInactiveMonths: z.number().int().min(1).max(120).default(24),
        /** Months after which a visit is kept only as an anonymous tally. */
        visitsMonths: z.number().int().min(1).max(120).default(24),
        /**
         * Days after which raw device data goes: MACs are replaced by a keyed hash, device rows
         * and codes deleted, console IPs dropped. A device verified within remember.days stays
         * (it is what "welcome back" recognises).
         */
        rawDeviceDays: z.number().int().min(2).max(3650).default(90),
        /** Months the audit log (and the rights requests) are kept. */
        auditMonths: z.number().int().min(1).max(120).default(36),
        /** Days delivered CRM events (ids and hashes only) are kept for support; 0: pruned at once. */
        deliveredEventsDays: z.number().int().min(0).max(365).default(30),
      })
      .strict()
      .prefault({}),
    /** Days a blocked customer is kept (for legal claims only, invisible) before deletion. */
    blockingDays: z.number().int().min(1).max(3650).default(180),
    /**
     * Days of retention one daily run may catch up: a clock that jumps years ahead blocks and
     * deletes only this much more per run (and says so in the log and the audit log).
     */
    catchUpDays: z.number().int().min(1).max(365).default(7),
    /**
     * The legal deadline of a rights request: days after it was received. null (default): by the
     * branch's law (privacyLawOf): LFPDPPP's 20 business days in Mexico; in Spain GDPR's one
     * month (requestDeadlineMonths). A value set here wins.
     */
    requestDeadlineDays: z.number().int().min(1).max(90).nullable().default(null),
    /**
     * Whether those days are business days (Monday to Friday) or calendar days. null (default):
     * business days under LFPDPPP, calendar days under GDPR.
     */
    requestDeadlineBusinessDays: z.boolean().nullable().default(null),
    /**
     * The deadline in calendar months instead (GDPR art. 12.3: one month, to the same date of the
     * next month or its last day; extendable by two more, telling the customer why within the
     * first). null (default): 1 in Spain unless requestDeadlineDays is set, unused in Mexico.
     */
    requestDeadlineMonths: z.number().int().min(1).max(3).nullable().default(null),
  })
  .strict()
  .prefault({})

export type PhoneConfig = z.infer<typeof phoneConfig>
export type PrivacyConfig = z.infer<typeof privacyConfig>

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

/** Issue 15: a language's full notice comes from one place, text or file, never both. */
export function privacyProblems(privacy: PrivacyConfig): KeyProblem[] {
  const problems: KeyProblem[] = []
  // The rights-request deadline is counted in days or in months, not both.
  if (privacy.requestDeadlineMonths !== null && privacy.requestDeadlineDays !== null)
    problems.push({
      path: ['privacy', 'requestDeadlineMonths'],
      message: 'and privacy.requestDeadlineDays are both set: keep one (months or days)',
    })
  else if (privacy.requestDeadlineMonths !== null && privacy.requestDeadlineBusinessDays !== null)
    problems.push({
      path: ['privacy', 'requestDeadlineBusinessDays'],
      message: 'counts days only: set privacy.requestDeadlineDays with it, or remove it',
    })
  for (const locale of ['es', 'en'] as const) {
    if (
      privacy.fullNotice?.[locale] !== undefined &&
      privacy.fullNoticeFiles?.[locale] !== undefined
    )
      problems.push({
        path: ['privacy', 'fullNotice', locale],
        message: `and privacy.fullNoticeFiles.${locale} are both set: keep one (the text or the file)`,
      })
  }
  return problems
}

/**
 * The data-protection law a branch answers to: Spain's (GDPR and LOPDGDD) when its numbers
 * default to Spain's (+34) or its pages to Spain's Spanish, Mexico's (LFPDPPP) otherwise. It
 * chooses the default notices, the rights-request deadline and the console's wording.
 */
export type PrivacyLaw = 'gdpr' | 'lfpdppp'
export function privacyLawOf(config: {
  phone: Pick<PhoneConfig, 'defaultRegion'>
  defaultLocale: string
}): PrivacyLaw {
  return config.phone.defaultRegion === 'ES' || config.defaultLocale === 'es-ES'
    ? 'gdpr'
    : 'lfpdppp'
}

/** How long a branch has to answer a rights request. */
export type RightsDeadline = { months: number } | { days: number; businessDays: boolean }

/**
 * The deadline in force: what the config sets wins; the rest follows the law (LFPDPPP art. 32:
 * 20 business days; GDPR art. 12.3: one month, calendar days when counted in days).
 */
export function rightsDeadlineOf(
  privacy: Pick<
    PrivacyConfig,
    'requestDeadlineDays' | 'requestDeadlineBusinessDays' | 'requestDeadlineMonths'
  >,
  law: PrivacyLaw,
): RightsDeadline {
  if (privacy.requestDeadlineMonths !== null) return { months: privacy.requestDeadlineMonths }
  if (privacy.requestDeadlineDays === null && law === 'gdpr') return { months: 1 }
  return {
    days: privacy.requestDeadlineDays ?? 20,
    businessDays: privacy.requestDeadlineBusinessDays ?? law === 'lfpdppp',
  }
}
