import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'
import { OperatorError } from '../errors.js'
import {
  privacyLawOf,
  rightsDeadlineOf,
  type PrivacyLaw,
  type RightsDeadline,
} from '../customers/config.js'
import type { Locale } from '../i18n/messages.js'

/** A notice file named in privacy.fullNoticeFiles cannot be read: said at start, exit 2. */
export class NoticeFileError extends OperatorError {
  constructor(key: string, file: string, why: string) {
    super(`${key}: cannot read the privacy notice ${file}: ${why}`)
    this.name = 'NoticeFileError'
  }
}

/** The full privacy notice in one language: its version and its paragraphs (plain text). */
export interface FullNotice {
  version: string
  paragraphs: string[]
}

/**
 * The full (second-layer) privacy notice per language, served by branchgate before login at
 * /aviso-de-privacidad: from privacy.fullNoticeFiles (plain text, read now: an unreadable file
 * stops the start with one sentence), else privacy.fullNotice, else built from the config (who,
 * what, why, the legal basis, who receives it, how long, the rights and where to exercise them).
 * Paragraphs are separated by blank lines; every line is escaped when shown.
 */
export function fullNotices(
  config: Config,
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): Record<Locale, FullNotice> {
  const p = config.privacy
  const out = {} as Record<Locale, FullNotice>
  for (const locale of ['es', 'en'] as const) {
    let text: string | undefined
    const file = p.fullNoticeFiles?.[locale]
    if (file) {
      try {
        text = read(file)
      } catch (err) {
        throw new NoticeFileError(
          `privacy.fullNoticeFiles.${locale}`,
          file,
          (err as NodeJS.ErrnoException).code ?? (err as Error).message,
        )
      }
    }
    // A language the operator left out is built from the config, in that language.
    text ??= p.fullNotice?.[locale] ?? defaultNotice(config, locale)
    out[locale] = {
      version: p.noticeVersion,
      paragraphs: text
        .replace(/\r\n?/g, '\n')
        .split(/\n\s*\n/)
        .map((s) => s.trim())
        .filter(Boolean),
    }
  }
  return out
}

/** The notice built from the config, when the operator gave none: by the branch's law. */
export function defaultNotice(config: Config, locale: Locale): string {
  const law = privacyLawOf(config)
  const deadline = rightsDeadlineOf(config.privacy, law)
  const usted = config.spanishAddress === 'usted'
  if (law === 'gdpr')
    return locale === 'en' ? gdprNoticeEn(config, deadline) : gdprNoticeEs(config, deadline, usted)
  return locale === 'en'
    ? lfpdpppNoticeEn(config, deadline)
    : lfpdpppNoticeEs(config, deadline, usted)
}

/** "20 business days", "one month" (GDPR: with its extension). */
function deadlineEn(d: RightsDeadline, law: PrivacyLaw): string {
  if ('months' in d) {
    const span = d.months === 1 ? 'one month' : `${d.months} months`
    return law === 'gdpr'
      ? `${span} of receiving your request (extendable by two further months when requests are complex or numerous; we would tell you why within the first month)`
      : span
  }
  return `${d.days} ${d.businessDays ? 'business' : 'calendar'} days`
}

/** "20 días hábiles", "un mes" (RGPD: con su prórroga), in the customer's form of address. */
function deadlineEs(d: RightsDeadline, law: PrivacyLaw, usted: boolean): string {
  if ('months' in d) {
    const span = d.months === 1 ? 'un mes' : `${d.months} meses`
    return law === 'gdpr'
      ? `${span} desde que recibimos ${usted ? 'su' : 'tu'} solicitud (prorrogable otros dos meses si es compleja o son muchas; ${usted ? 'se lo diríamos' : 'te lo diríamos'}, con el motivo, dentro del primer mes)`
      : span
  }
  return `${d.days} días ${d.businessDays ? 'hábiles' : 'naturales'}`
}

function lfpdpppNoticeEn(config: Config, deadline: RightsDeadline): string {
  const p = config.privacy
  const r = p.retention
  const who = p.controller ?? config.branch.name
  const crm = config.sync.adapter.type !== 'none'
  return [
    `Privacy notice of the guest Wi-Fi — ${config.branch.name}. Version ${p.noticeVersion}.`,
    `Who is responsible: ${who}.`,
    `What we collect: your name and mobile number (you type them), the one-time code we text you (kept only as a hash), your device's network address (MAC) and when you arrive and leave while connected.`,
    `Why (necessary purposes, on the basis of the service you ask for): to give you internet access, to confirm your number, to keep the network secure and to know when you visit the branch. Voluntary purpose, only if you tick it: to send you offers by SMS or WhatsApp. You can refuse or withdraw it at any time without losing the Wi-Fi.`,
    `Who receives it: the SMS provider that texts your code (your number only)${crm ? '; the company’s customer system (CRM), which receives your name, number, consents and visits (device addresses only as a keyed hash)' : ''}. Nobody else, and never sold.`,
    `How long: customers not seen for ${r.customersInactiveMonths} months are blocked; visits are kept ${r.visitsMonths} months, then only as anonymous figures; device addresses and codes ${r.rawDeviceDays} days; the record of what was done with your data ${r.auditMonths} months. When you ask to cancel your data, or its time ends, it is first blocked (kept only for legal claims, used for nothing) for ${p.blockingDays} days and then deleted.`,
    `Your rights: access, rectification, cancellation, opposition and portability, and to withdraw consent. Ask at any branch (bring an ID); we answer within ${deadlineEn(deadline, 'lfpdppp')}. To stop offers right now, open “I don’t want offers anymore” on this Wi-Fi’s page: it asks for a code sent to your number, like signing in.`,
    `Changes: when this notice changes, its version changes and we ask you to accept it on your next visit.`,
  ].join('\n\n')
}

/**
 * Mexico: the LFPDPPP's notice (arts. 15 and 16), in the form of address the rest of the portal
 * uses (`spanishAddress`: "tú" by default, or "usted").
 */
function lfpdpppNoticeEs(config: Config, deadline: RightsDeadline, usted: boolean): string {
  const p = config.privacy
  const r = p.retention
  const who = p.controller ?? config.branch.name
  const crm = config.sync.adapter.type !== 'none'
  // Each phrase that addresses the customer, with "tú" or with "usted".
  const v = (tu: string, ud: string) => (usted ? ud : tu)
  return [
    `Aviso de privacidad del Wi-Fi para clientes — ${config.branch.name}. Versión ${p.noticeVersion}.`,
    `Responsable: ${who}.`,
    `Qué datos tratamos: ${v('tu nombre y tu número celular (los escribes tú)', 'su nombre y su número celular (los escribe usted)')}, el código que ${v('te', 'le')} enviamos por SMS (solo guardamos su huella), la dirección de red de ${v('tu', 'su')} dispositivo (MAC) y cuándo ${v('llegas y te vas mientras estás conectado', 'llega y se va mientras está conectado')}.`,
    `Para qué (finalidades necesarias, para ${v('darte', 'darle')} el servicio que ${v('pides', 'pide')}): ${v('darte', 'darle')} acceso a internet, confirmar ${v('tu', 'su')} número, mantener segura la red y saber cuándo ${v('visitas', 'visita')} la sucursal. Finalidad voluntaria, solo si ${v('la marcas', 'la marca')}: ${v('enviarte', 'enviarle')} promociones por SMS o WhatsApp. ${v('Puedes negarte o retirarla', 'Puede negarse o retirarla')} en cualquier momento sin perder el Wi-Fi.`,
    `A quién se comunican: al proveedor de SMS que ${v('te', 'le')} envía el código (solo ${v('tu', 'su')} número)${crm ? `; al sistema de clientes de la empresa (CRM), que recibe ${v('tu', 'su')} nombre, número, consentimientos y visitas (la dirección del dispositivo solo como huella con clave)` : ''}. A nadie más, y nunca se venden.`,
    `Cuánto tiempo: si no ${v('vienes', 'viene')} en ${r.customersInactiveMonths} meses, ${v('tus', 'sus')} datos se bloquean; las visitas se guardan ${r.visitsMonths} meses y después solo como cifras anónimas; las direcciones de dispositivos y los códigos, ${r.rawDeviceDays} días; el registro de lo que se hizo con ${v('tus', 'sus')} datos, ${r.auditMonths} meses. Cuando ${v('pides', 'pide')} cancelar ${v('tus', 'sus')} datos, o se acaba su plazo, primero se bloquean (se guardan solo para atender reclamaciones legales y no se usan para nada) durante ${p.blockingDays} días y después se eliminan.`,
    `${v('Tus', 'Sus')} derechos: acceso, rectificación, cancelación, oposición y portabilidad (ARCO), y retirar ${v('tu', 'su')} consentimiento. ${v('Pídelo', 'Pídalo')} en cualquier sucursal con una identificación; respondemos en ${deadlineEs(deadline, 'lfpdppp', usted)}. Para dejar de recibir promociones ahora mismo, ${v('abre', 'abra')} «Ya no quiero recibir promociones» en la página de este Wi-Fi: ${v('te', 'le')} pide un código que llega a ${v('tu', 'su')} número, como al ${v('conectarte', 'conectarse')}.`,
    `Cambios: si este aviso cambia, cambia su versión y ${v('te', 'le')} pediremos aceptarlo en ${v('tu', 'su')} siguiente visita.`,
  ].join('\n\n')
}

/**
 * Spain: the information GDPR arts. 13 and 14 and LOPDGDD art. 11 ask for, under the headings
 * of the AEPD's guide (responsable, finalidad, legitimación, destinatarios, derechos, plazo de
 * conservación), with Spain's words ("móvil", "supresión", "política de privacidad") and the
 * form of address the rest of the portal uses (`spanishAddress`).
 */
function gdprNoticeEs(config: Config, deadline: RightsDeadline, usted: boolean): string {
  const p = config.privacy
  const r = p.retention
  const who = p.controller ?? config.branch.name
  const crm = config.sync.adapter.type !== 'none'
  // Each phrase that addresses the customer, with "tú" or with "usted".
  const v = (tu: string, ud: string) => (usted ? ud : tu)
  return [
    `Política de privacidad del Wi-Fi para clientes — ${config.branch.name}. Versión ${p.noticeVersion}.`,
    `Responsable del tratamiento: ${who}.`,
    `Datos que tratamos: ${v('tu nombre y tu número de móvil (los escribes tú)', 'su nombre y su número de móvil (los escribe usted)')}, el código que ${v('te', 'le')} enviamos por SMS (solo guardamos su huella), la dirección de red de ${v('tu', 'su')} dispositivo (MAC) y cuándo ${v('llegas y te vas mientras estás conectado', 'llega y se va mientras está conectado')}.`,
    `Finalidad: ${v('darte', 'darle')} acceso a internet, comprobar que el número es ${v('tuyo', 'suyo')}, mantener segura la red y saber cuándo ${v('visitas', 'visita')} la sucursal. Solo si ${v('lo marcas', 'lo marca')} aparte: ${v('enviarte', 'enviarle')} promociones por SMS o WhatsApp.`,
    `Legitimación: ${v('tu consentimiento al conectarte', 'su consentimiento al conectarse')} (art. 6.1.a RGPD) para el acceso y las visitas; nuestro interés legítimo en proteger la red (art. 6.1.f RGPD); y ${v('tu', 'su')} consentimiento aparte para las promociones. ${v('Puedes retirar tu', 'Puede retirar su')} consentimiento cuando ${v('quieras', 'quiera')}, sin perder el Wi-Fi y sin que afecte a lo tratado antes.`,
    `Destinatarios: el proveedor de SMS que ${v('te', 'le')} envía el código, que solo recibe ${v('tu', 'su')} número y lo trata por nuestra cuenta (encargado del tratamiento)${crm ? `; el sistema de clientes de la entidad (CRM), que recibe ${v('tu', 'su')} nombre, número, consentimientos y visitas (la dirección del dispositivo solo como huella con clave)` : ''}. No se ceden datos a terceros salvo obligación legal, y nunca se venden. Si un proveedor trata el número fuera del Espacio Económico Europeo, lo hace con las garantías del RGPD (arts. 44 a 49), sobre las que ${v('puedes', 'puede')} pedirnos información.`,
    `Plazo de conservación: si no ${v('vienes', 'viene')} en ${r.customersInactiveMonths} meses, ${v('tus', 'sus')} datos se bloquean; las visitas se guardan ${r.visitsMonths} meses y después solo como cifras anónimas; las direcciones de dispositivos y los códigos, ${r.rawDeviceDays} días; el registro de lo que se hizo con ${v('tus', 'sus')} datos, ${r.auditMonths} meses. Cuando ${v('pides', 'pide')} la supresión de ${v('tus', 'sus')} datos, o se acaba su plazo, primero se bloquean (art. 32 LOPDGDD: se guardan solo a disposición de jueces, tribunales y autoridades para atender posibles responsabilidades, y no se usan para nada más) durante ${p.blockingDays} días y después se eliminan.`,
    `Derechos: ${v('puedes', 'puede')} ejercer ${v('tus', 'sus')} derechos de acceso, rectificación, supresión, oposición, limitación del tratamiento y portabilidad, y retirar ${v('tu', 'su')} consentimiento, en cualquier sucursal con ${v('tu', 'su')} DNI, NIE o pasaporte. ${v('Te', 'Le')} respondemos en ${deadlineEs(deadline, 'gdpr', usted)}. Para dejar de recibir promociones ahora mismo, ${v('abre', 'abra')} «Ya no quiero recibir promociones» en la página de este Wi-Fi: ${v('te', 'le')} pide un código que llega a ${v('tu', 'su')} móvil, como al ${v('conectarte', 'conectarse')}.`,
    `Reclamación: si ${v('crees', 'cree')} que no hemos tratado bien ${v('tus', 'sus')} datos, ${v('puedes', 'puede')} presentar una reclamación ante la Agencia Española de Protección de Datos (AEPD, www.aepd.es).`,
    `Cambios: si esta política cambia, cambia su versión y ${v('te', 'le')} pediremos que la ${v('aceptes', 'acepte')} en ${v('tu', 'su')} próxima visita.`,
  ].join('\n\n')
}

/** Spain's notice in English: the same headings, the GDPR's rights, the AEPD. */
function gdprNoticeEn(config: Config, deadline: RightsDeadline): string {
  const p = config.privacy
  const r = p.retention
  const who = p.controller ?? config.branch.name
  const crm = config.sync.adapter.type !== 'none'
  return [
    `Privacy policy of the guest Wi-Fi — ${config.branch.name}. Version ${p.noticeVersion}.`,
    `Controller: ${who}.`,
    `What we process: your name and mobile number (you type them), the one-time code we text you (kept only as a hash), your device's network address (MAC) and when you arrive and leave while connected.`,
    `Purposes: to give you internet access, to confirm the number is yours, to keep the network secure and to know when you visit the branch. Only if you tick it separately: to send you offers by SMS or WhatsApp.`,
    `Legal basis: your consent when you connect (GDPR art. 6(1)(a)) for access and visits; our legitimate interest in protecting the network (art. 6(1)(f)); and your separate consent for offers. You may withdraw your consent at any time, without losing the Wi-Fi and without affecting what was done before.`,
    `Recipients: the SMS provider that texts your code, which receives only your number and handles it on our behalf (processor)${crm ? '; the company’s customer system (CRM), which receives your name, number, consents and visits (device addresses only as a keyed hash)' : ''}. No data is disclosed to third parties unless the law requires it, and it is never sold. If a provider handles the number outside the European Economic Area, it does so under the GDPR's safeguards (arts. 44–49), about which you may ask us.`,
    `How long we keep it: customers not seen for ${r.customersInactiveMonths} months are blocked; visits are kept ${r.visitsMonths} months, then only as anonymous figures; device addresses and codes ${r.rawDeviceDays} days; the record of what was done with your data ${r.auditMonths} months. When you ask for erasure, or its time ends, your data is first blocked (LOPDGDD art. 32: kept only for courts and authorities to address possible liabilities, used for nothing else) for ${p.blockingDays} days and then deleted.`,
    `Your rights: access, rectification, erasure, objection, restriction of processing and portability, and to withdraw consent, at any branch with your ID card or passport. We answer within ${deadlineEn(deadline, 'gdpr')}. To stop offers right now, open “I don’t want offers anymore” on this Wi-Fi’s page: it asks for a code sent to your mobile, like signing in.`,
    `Complaints: if you think we have not handled your data properly, you may complain to the Spanish Data Protection Agency (AEPD, www.aepd.es).`,
    `Changes: when this policy changes, its version changes and we ask you to accept it on your next visit.`,
  ].join('\n\n')
}
