import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'
import { OperatorError } from '../errors.js'
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

/** The notice built from the config, when the operator gave none. */
export function defaultNotice(config: Config, locale: Locale): string {
  const p = config.privacy
  const r = p.retention
  const who = p.controller ?? config.branch.name
  const crm = config.sync.adapter.type !== 'none'
  if (locale === 'en') {
    return [
      `Privacy notice of the guest Wi-Fi — ${config.branch.name}. Version ${p.noticeVersion}.`,
      `Who is responsible: ${who}.`,
      `What we collect: your name and mobile number (you type them), the one-time code we text you (kept only as a hash), your device's network address (MAC) and when you arrive and leave while connected.`,
      `Why (necessary purposes, on the basis of the service you ask for): to give you internet access, to confirm your number, to keep the network secure and to know when you visit the branch. Voluntary purpose, only if you tick it: to send you offers by SMS or WhatsApp. You can refuse or withdraw it at any time without losing the Wi-Fi.`,
      `Who receives it: the SMS provider that texts your code (your number only)${crm ? '; the company’s customer system (CRM), which receives your name, number, consents and visits (device addresses only as a keyed hash)' : ''}. Nobody else, and never sold.`,
      `How long: customers not seen for ${r.customersInactiveMonths} months are blocked; visits are kept ${r.visitsMonths} months, then only as anonymous figures; device addresses and codes ${r.rawDeviceDays} days; the record of what was done with your data ${r.auditMonths} months. When you ask to cancel your data, or its time ends, it is first blocked (kept only for legal claims, used for nothing) for ${p.blockingDays} days and then deleted.`,
      `Your rights: access, rectification, cancellation, opposition and portability, and to withdraw consent. Ask at any branch (bring an ID); we answer within ${p.requestDeadlineDays} ${p.requestDeadlineBusinessDays ? 'business ' : ''}days. To stop offers right now, open “I don’t want offers anymore” on this Wi-Fi’s page: it asks for a code sent to your number, like signing in.`,
      `Changes: when this notice changes, its version changes and we ask you to accept it on your next visit.`,
    ].join('\n\n')
  }
  return [
    `Aviso de privacidad del Wi-Fi para clientes — ${config.branch.name}. Versión ${p.noticeVersion}.`,
    `Responsable: ${who}.`,
    `Qué datos tratamos: tu nombre y tu número celular (los escribes tú), el código que te enviamos por SMS (solo guardamos su huella), la dirección de red de tu dispositivo (MAC) y cuándo llegas y te vas mientras estás conectado.`,
    `Para qué (finalidades necesarias, para darte el servicio que pides): darte acceso a internet, confirmar tu número, mantener segura la red y saber cuándo visitas la sucursal. Finalidad voluntaria, solo si la marcas: enviarte promociones por SMS o WhatsApp. Puedes negarte o retirarla en cualquier momento sin perder el Wi-Fi.`,
    `A quién se comunican: al proveedor de SMS que te envía el código (solo tu número)${crm ? '; al sistema de clientes de la empresa (CRM), que recibe tu nombre, número, consentimientos y visitas (la dirección del dispositivo solo como huella con clave)' : ''}. A nadie más, y nunca se venden.`,
    `Cuánto tiempo: si no vienes en ${r.customersInactiveMonths} meses, tus datos se bloquean; las visitas se guardan ${r.visitsMonths} meses y después solo como cifras anónimas; las direcciones de dispositivos y los códigos, ${r.rawDeviceDays} días; el registro de lo que se hizo con tus datos, ${r.auditMonths} meses. Cuando pides cancelar tus datos, o se acaba su plazo, primero se bloquean (se guardan solo para atender reclamaciones legales y no se usan para nada) durante ${p.blockingDays} días y después se eliminan.`,
    `Tus derechos: acceso, rectificación, cancelación, oposición y portabilidad (ARCO), y retirar tu consentimiento. Pídelo en cualquier sucursal con una identificación; respondemos en ${p.requestDeadlineDays} días${p.requestDeadlineBusinessDays ? ' hábiles' : ''}. Para dejar de recibir promociones ahora mismo, abre «Ya no quiero recibir promociones» en la página de este Wi-Fi: te pide un código que llega a tu número, como al conectarte.`,
    `Cambios: si este aviso cambia, cambia su versión y te pediremos aceptarlo en tu siguiente visita.`,
  ].join('\n\n')
}
