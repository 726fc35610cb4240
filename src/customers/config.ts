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
