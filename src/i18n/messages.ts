/** Customer-facing text, Spanish first. Keys are shared; `{name}` placeholders are filled by t(). */
const es = {
  'lang.name': 'Español',
  'lang.switch': 'English',
  'splash.title': 'Wi-Fi para clientes',
  'splash.lead':
    'Conéctate gratis mientras esperas. Te enviaremos un código por SMS para confirmar tu número.',
  'splash.name': 'Tu nombre',
  'splash.name.hint': 'Como quieres que te llamemos.',
  'splash.phone': 'Tu celular',
  'splash.phone.hint': 'A 10 dígitos, por ejemplo 55 1234 5678.',
  'splash.consent': 'Acepto los términos de uso y el aviso de privacidad.',
  'splash.marketing': 'Quiero recibir promociones por SMS o WhatsApp (opcional).',
  'splash.notice.more': 'Leer el aviso de privacidad completo',
  'splash.submit': 'Enviarme el código',
  'code.title': 'Escribe tu código',
  'code.lead': 'Te enviamos un código de {digits} dígitos por SMS al {phone}.',
  'code.label': 'Código',
  'code.submit': 'Conectarme',
  'code.resend': 'Enviar otro código',
  'code.resend.wait': 'Podrás pedir otro código en {wait} segundos.',
  'code.resent': 'Te enviamos un código nuevo. El anterior ya no sirve.',
  'code.lead.whatsapp': 'Te enviamos un código de {digits} dígitos por WhatsApp al {phone}.',
  'code.resent.whatsapp': 'Te enviamos un código nuevo por WhatsApp. El anterior ya no sirve.',
  'code.via.whatsapp': 'Enviármelo por WhatsApp',
  'code.via.sms': 'Enviármelo por SMS',
  'code.change': 'Cambiar mi número',
  'welcome.title': '¡Listo, {name}!',
  'welcome.lead': 'Ya tienes internet hasta las {until}.',
  'welcome.close': 'Puedes cerrar esta ventana y seguir navegando.',
  'returning.title': 'Bienvenido de nuevo, {name}',
  'returning.lead': 'Conéctate con un toque. No hace falta otro código.',
  'returning.submit': 'Conectarme',
  'returning.notYou': '¿No eres tú?',
  // Privacy (issue 15): the full notice, stopping promotions, a new notice on return.
  'notice.title': 'Aviso de privacidad',
  'notice.version': 'Versión {version}',
  'notice.back': 'Volver',
  'notice.changed': 'Actualizamos nuestro aviso de privacidad.',
  'notice.accept': 'Acepto el aviso de privacidad actualizado.',
  'notice.acceptNeeded': 'Para conectarte, marca que aceptas el aviso actualizado.',
  'optout.link': 'Ya no quiero recibir promociones',
  'optout.title': 'Ya no quiero recibir promociones',
  'optout.lead':
    'Escribe tu número. Te enviaremos un código por SMS para confirmar que es tuyo, como al conectarte.',
  'optout.submit': 'Enviarme el código',
  'optout.submitCode': 'Confirmar',
  'optout.done': 'Listo: ya no te enviaremos promociones.',
  'optout.doneTitle': 'Listo',
  'optout.doneLead': 'Este número ya no recibirá promociones de {branch}.',
  'staff.title': 'Dispositivo del personal',
  'staff.lead': 'Este dispositivo ya tiene internet sin registrarse.',
  'error.title': 'Algo salió mal',
  'error.validation': 'Revisa los datos marcados.',
  'error.name.required': 'Escribe tu nombre.',
  'error.name.tooLong': 'Tu nombre no puede tener más de 80 caracteres.',
  'error.name.invalid': 'Tu nombre tiene caracteres que no podemos usar.',
  'error.phone.required': 'Escribe tu número de celular.',
  'error.phone.invalid':
    'Ese número no parece válido. Escríbelo a 10 dígitos, por ejemplo 55 1234 5678.',
  'error.phone.region': 'Solo podemos enviar códigos a números de {regions}.',
  'error.phone.notMobile': 'Ese número no puede recibir SMS. Usa un número de celular.',
  'error.consent.required':
    'Para conectarte necesitas aceptar los términos y el aviso de privacidad.',
  'error.code.required': 'Escribe el código que te enviamos.',
  'error.code.format': 'El código tiene {digits} dígitos, solo números.',
  'error.code.wrong': 'Ese código no es correcto. Te quedan {triesLeft} intentos.',
  'error.code.expired': 'Ese código ya venció. Pide uno nuevo.',
  'error.code.tooManyTries': 'Demasiados intentos con ese código. Pide uno nuevo.',
  'error.code.gone': 'Ese código ya no es válido. Vuelve a empezar para recibir uno nuevo.',
  'error.limit.resend': 'Espera {wait} segundos antes de pedir otro código.',
  'error.limit.number':
    'Ya enviamos varios códigos a este número. Intenta de nuevo en {minutes} minutos.',
  'error.limit.device':
    'Se han pedido demasiados códigos desde este teléfono. Intenta de nuevo en {minutes} minutos.',
  'error.limit.numberDaily':
    'Este número ya recibió el máximo de códigos por hoy. Intenta de nuevo mañana.',
  'error.sms.failed': 'No pudimos enviar el código. Intenta de nuevo en un momento.',
  'error.sms.busy': 'Nuestro servicio de mensajes está saturado. Intenta de nuevo en un minuto.',
  'error.sms.unreachable':
    'Este número no puede recibir SMS. Revisa que sea un celular o usa otro número.',
  'error.whatsapp.unreachable':
    'Este número no puede recibir mensajes de WhatsApp. Pide el código por SMS.',
  'error.limit.prefix':
    'Se han pedido muchos códigos para números parecidos a este. Intenta de nuevo en {minutes} minutos.',
  'error.sms.paused.breaker':
    'Por ahora no podemos enviar códigos desde esta sucursal. Intenta de nuevo en {minutes} minutos o pide ayuda al personal.',
  'error.sms.paused.budget':
    'Lo sentimos: hoy ya no podemos enviar más códigos desde esta sucursal. Pide ayuda al personal o vuelve mañana.',
  'error.sms.paused.prefix':
    'Por ahora no podemos enviar códigos a este número. Intenta más tarde o pide ayuda al personal.',
  'error.device.unknown':
    'No pudimos reconocer tu dispositivo en la red de la sucursal. Desconéctate del Wi-Fi, vuelve a conectarte e inténtalo otra vez.',
  'error.gate':
    'No pudimos darte acceso en este momento. Intenta de nuevo o pide ayuda al personal.',
  'error.unexpected': 'Tuvimos un problema. Intenta de nuevo en un momento.',
  'error.notFound': 'Esta página no existe.',
  'error.back': 'Volver al inicio',
  'sms.text': 'Tu código para el Wi-Fi de {branch} es {code}. Vence en {minutes} minutos.',
} as const

export type MessageKey = keyof typeof es

const en: Record<MessageKey, string> = {
  'lang.name': 'English',
  'lang.switch': 'Español',
  'splash.title': 'Guest Wi-Fi',
  'splash.lead':
    'Get online for free while you wait. We will text you a code to confirm your number.',
  'splash.name': 'Your name',
  'splash.name.hint': 'What you would like us to call you.',
  'splash.phone': 'Your mobile number',
  'splash.phone.hint': '10 digits, for example 55 1234 5678.',
  'splash.consent': 'I accept the terms of use and the privacy notice.',
  'splash.marketing': 'Send me offers by SMS or WhatsApp (optional).',
  'splash.notice.more': 'Read the full privacy notice',
  'splash.submit': 'Text me the code',
  'code.title': 'Enter your code',
  'code.lead': 'We texted a {digits}-digit code to {phone}.',
  'code.label': 'Code',
  'code.submit': 'Connect',
  'code.resend': 'Send another code',
  'code.resend.wait': 'You can ask for another code in {wait} seconds.',
  'code.resent': 'We sent you a new code. The previous one no longer works.',
  'code.lead.whatsapp': 'We sent a {digits}-digit code by WhatsApp to {phone}.',
  'code.resent.whatsapp': 'We sent you a new code by WhatsApp. The previous one no longer works.',
  'code.via.whatsapp': 'Send it by WhatsApp',
  'code.via.sms': 'Send it by SMS',
  'code.change': 'Change my number',
  'welcome.title': 'You are online, {name}!',
  'welcome.lead': 'Your access lasts until {until}.',
  'welcome.close': 'You may close this window and keep browsing.',
  'returning.title': 'Welcome back, {name}',
  'returning.lead': 'Connect with one tap. No new code needed.',
  'returning.submit': 'Connect',
  'returning.notYou': 'Not you?',
  // Privacy (issue 15): the full notice, stopping promotions, a new notice on return.
  'notice.title': 'Privacy notice',
  'notice.version': 'Version {version}',
  'notice.back': 'Back',
  'notice.changed': 'We updated our privacy notice.',
  'notice.accept': 'I accept the updated privacy notice.',
  'notice.acceptNeeded': 'To connect, tick that you accept the updated notice.',
  'optout.link': 'I don’t want offers anymore',
  'optout.title': 'I don’t want offers anymore',
  'optout.lead':
    'Type your number. We will text you a code to confirm it is yours, as when you connect.',
  'optout.submit': 'Send me the code',
  'optout.submitCode': 'Confirm',
  'optout.done': 'Done: we will not send you offers anymore.',
  'optout.doneTitle': 'Done',
  'optout.doneLead': 'This number will get no more offers from {branch}.',
  'staff.title': 'Staff device',
  'staff.lead': 'This device is online without signing in.',
  'error.title': 'Something went wrong',
  'error.validation': 'Please check the highlighted fields.',
  'error.name.required': 'Please enter your name.',
  'error.name.tooLong': 'Your name cannot be longer than 80 characters.',
  'error.name.invalid': 'Your name has characters we cannot use.',
  'error.phone.required': 'Please enter your mobile number.',
  'error.phone.invalid':
    'That number does not look right. Type it with 10 digits, for example 55 1234 5678.',
  'error.phone.region': 'We can only send codes to numbers from {regions}.',
  'error.phone.notMobile': 'That number cannot receive text messages. Please use a mobile number.',
  'error.consent.required': 'To connect you need to accept the terms and the privacy notice.',
  'error.code.required': 'Please enter the code we sent you.',
  'error.code.format': 'The code has {digits} digits, numbers only.',
  'error.code.wrong': 'That code is not right. You have {triesLeft} tries left.',
  'error.code.expired': 'That code has expired. Ask for a new one.',
  'error.code.tooManyTries': 'Too many tries with that code. Ask for a new one.',
  'error.code.gone': 'That code is no longer valid. Start again to get a new one.',
  'error.limit.resend': 'Please wait {wait} seconds before asking for another code.',
  'error.limit.number':
    'We already sent several codes to this number. Try again in {minutes} minutes.',
  'error.limit.device':
    'Too many codes were requested from this phone. Try again in {minutes} minutes.',
  'error.limit.numberDaily':
    'This number has had the most codes allowed today. Please try again tomorrow.',
  'error.sms.failed': 'We could not send the code. Please try again in a moment.',
  'error.sms.busy': 'Our messaging service is busy. Please try again in a minute.',
  'error.sms.unreachable':
    'This number cannot receive SMS. Check that it is a mobile number or use another one.',
  'error.whatsapp.unreachable':
    'This number cannot receive WhatsApp messages. Ask for the code by SMS.',
  'error.limit.prefix':
    'Many codes were requested for numbers like this one. Try again in {minutes} minutes.',
  'error.sms.paused.breaker':
    'We cannot send codes from this branch right now. Try again in {minutes} minutes or ask the staff for help.',
  'error.sms.paused.budget':
    'Sorry: this branch cannot send any more codes today. Please ask the staff for help or come back tomorrow.',
  'error.sms.paused.prefix':
    'We cannot send codes to this number right now. Try again later or ask the staff for help.',
  'error.device.unknown':
    'We could not recognise your device on the branch network. Disconnect from the Wi-Fi, reconnect and try again.',
  'error.gate': 'We could not let you online right now. Try again or ask the staff for help.',
  'error.unexpected': 'We had a problem. Please try again in a moment.',
  'error.notFound': 'This page does not exist.',
  'error.back': 'Back to the start',
  'sms.text': 'Your {branch} Wi-Fi code is {code}. It expires in {minutes} minutes.',
}

export type Locale = 'es' | 'en'
export const LOCALES: readonly Locale[] = ['es', 'en']

const catalogs: Record<Locale, Record<MessageKey, string>> = { es, en }

export function isMessageKey(key: string): key is MessageKey {
  return key in es
}

/** Looks up a message and fills its `{placeholders}`. Unknown keys fall back to the generic error. */
export function t(
  locale: Locale,
  key: string,
  params: Record<string, string | number> = {},
): string {
  const catalog = catalogs[locale]
  const text = isMessageKey(key) ? catalog[key] : catalog['error.unexpected']
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    params[name] === undefined ? m : String(params[name]),
  )
}

/**
 * Picks the locale: an explicit choice (query or cookie) first, then Accept-Language, then the default.
 */
export function pickLocale(
  explicit: string | undefined,
  acceptLanguage: string | undefined,
  fallback: Locale,
): Locale {
  const direct = asLocale(explicit)
  if (direct) return direct
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .split(',')
      .map((part, i) => {
        const [tag = '', ...rest] = part.trim().split(';')
        const q = rest.map((r) => r.trim()).find((r) => r.startsWith('q='))
        const weight = q ? Number(q.slice(2)) : 1
        return { tag, weight: Number.isFinite(weight) ? weight : 0, i }
      })
      .filter((r) => r.weight > 0)
      .sort((a, b) => b.weight - a.weight || a.i - b.i)
    for (const r of ranked) {
      const l = asLocale(r.tag)
      if (l) return l
    }
  }
  return fallback
}

export function asLocale(tag: string | undefined): Locale | null {
  if (!tag) return null
  const lang = tag.trim().toLowerCase().split(/[-_]/)[0]
  return lang === 'es' || lang === 'en' ? lang : null
}
