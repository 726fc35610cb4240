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
  // Issue 17: passes, access without a code, the online page, the daily allowance, extension.
  'splash.pass': '¿El personal te dio un pase? Escríbelo aquí',
  'welcome.anon': '¡Listo!',
  'withoutCode.offer':
    'Puedes conectarte ahora sin código: {minutes} minutos, a menor velocidad. Cuando podamos enviarte el código, confirmas tu número sin desconectarte.',
  'withoutCode.submit': 'Conectarme sin código',
  'withoutCode.welcome':
    'Tienes internet sin código hasta las {until}, a menor velocidad. Cuando podamos enviarte el código, vuelve a esta página para confirmar tu número.',
  'online.title': 'Ya tienes internet',
  'online.title.named': 'Ya tienes internet, {name}',
  'online.lead': 'Tu conexión dura hasta las {until}.',
  'online.unverified': 'Estás conectado sin código, a menor velocidad.',
  'online.verify': 'Confirmar mi número',
  'online.verify.hint':
    'Te enviaremos un código al {phone}. Con él tendrás la conexión completa, sin desconectarte.',
  'online.pass': 'Estás conectado con un pase del personal.',
  'allowance.left': 'Te quedan {left} de datos hoy.',
  'allowance.used':
    'Ya usaste los datos de hoy: sigues conectado, a menor velocidad, hasta mañana.',
  'extend.offer': 'Tu conexión termina pronto. Puedes extenderla sin otro código.',
  'extend.submit': 'Extender hasta las {until}',
  'extend.done': 'Listo: tu conexión dura ahora hasta las {until}.',
  'pass.title': 'Entrar con un pase',
  'pass.lead': 'Escribe el código de 8 dígitos que te dio el personal.',
  'pass.label': 'Código del pase',
  'pass.submit': 'Conectarme',
  'error.sms.paused.paused': 'Por ahora esta sucursal no envía códigos. Pide ayuda al personal.',
  'error.withoutCode.off': 'Esta sucursal no ofrece conexión sin código. Pide ayuda al personal.',
  'error.withoutCode.codesWork': 'Ya podemos enviarte un código: pídelo para conectarte.',
  'error.withoutCode.usedToday':
    'Este teléfono o este número ya usó hoy la conexión sin código. Pide ayuda al personal.',
  'error.extend.no': 'Esta conexión ya no se puede extender.',
  'error.pass.format': 'El código del pase tiene 8 dígitos, solo números.',
  'error.pass.wrong': 'Ese código de pase no es válido. Revísalo o pide ayuda al personal.',
  'error.pass.used': 'Ese pase ya se usa en otro dispositivo. Pide otro al personal.',
  'error.pass.exhausted': 'Ese pase ya no sirve. Pide otro al personal.',
  'error.limit.pass':
    'Demasiados intentos con pases desde este teléfono. Intenta de nuevo en {minutes} minutos.',
  'error.limit.passBranch':
    'Demasiados intentos con pases en esta sucursal. Intenta de nuevo en {minutes} minutos o pide ayuda al personal.',
  'sms.text': 'Tu código para el Wi-Fi de {branch} es {code}. Vence en {minutes} minutos.',
  // Accessibility, Spain and returning customers on a new address (issue 18)
  'error.titlePrefix': 'Error',
  'error.summary': 'Corrige esto para seguir:',
  'welcome.title.returning': '¡Hola de nuevo, {name}!',
  'splash.phone.hint.ES': 'Nueve cifras, por ejemplo 612 34 56 78.',
  'error.phone.invalid.ES':
    'Ese número no parece válido. Escríbelo con sus nueve cifras, por ejemplo 612 34 56 78.',
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
  // Issue 17: passes, access without a code, the online page, the daily allowance, extension.
  'splash.pass': 'Did the staff give you a pass? Enter it here',
  'welcome.anon': 'You are online!',
  'withoutCode.offer':
    'You can connect now without a code: {minutes} minutes, at a lower speed. Once we can text you the code, you confirm your number without disconnecting.',
  'withoutCode.submit': 'Connect without a code',
  'withoutCode.welcome':
    'You are online without a code until {until}, at a lower speed. Once we can text you the code, come back to this page to confirm your number.',
  'online.title': 'You are online',
  'online.title.named': 'You are online, {name}',
  'online.lead': 'Your access lasts until {until}.',
  'online.unverified': 'You are connected without a code, at a lower speed.',
  'online.verify': 'Confirm my number',
  'online.verify.hint':
    'We will text a code to {phone}. With it you get the full connection, without disconnecting.',
  'online.pass': 'You are connected with a pass from the staff.',
  'allowance.left': 'You have {left} of data left today.',
  'allowance.used':
    'You have used today’s data: you stay online, at a lower speed, until tomorrow.',
  'extend.offer': 'Your access ends soon. You can extend it without another code.',
  'extend.submit': 'Extend until {until}',
  'extend.done': 'Done: your access now lasts until {until}.',
  'pass.title': 'Sign in with a pass',
  'pass.lead': 'Type the 8-digit code the staff gave you.',
  'pass.label': 'Pass code',
  'pass.submit': 'Connect',
  'error.sms.paused.paused':
    'This branch is not sending codes right now. Please ask the staff for help.',
  'error.withoutCode.off':
    'This branch does not offer a connection without a code. Please ask the staff for help.',
  'error.withoutCode.codesWork': 'We can text you a code now: ask for one to connect.',
  'error.withoutCode.usedToday':
    'This phone or this number already had a connection without a code today. Please ask the staff for help.',
  'error.extend.no': 'This access cannot be extended any more.',
  'error.pass.format': 'The pass code has 8 digits, numbers only.',
  'error.pass.wrong': 'That pass code is not valid. Check it or ask the staff for help.',
  'error.pass.used': 'That pass is in use on another device. Ask the staff for another one.',
  'error.pass.exhausted': 'That pass no longer works. Ask the staff for another one.',
  'error.limit.pass':
    'Too many pass codes were tried from this phone. Try again in {minutes} minutes.',
  'error.limit.passBranch':
    'Too many pass codes were tried at this branch. Try again in {minutes} minutes or ask the staff for help.',
  'sms.text': 'Your {branch} Wi-Fi code is {code}. It expires in {minutes} minutes.',
  // Accessibility, Spain and returning customers on a new address (issue 18)
  'error.titlePrefix': 'Error',
  'error.summary': 'Fix this to go on:',
  'welcome.title.returning': 'Welcome back, {name}!',
  'splash.phone.hint.ES': 'Nine digits, for example 612 34 56 78.',
  'error.phone.invalid.ES':
    'That number does not look right. Type its nine digits, for example 612 34 56 78.',
}

// Spanish as spoken in Spain, and "usted" (issue 18). `es` is Mexico's Spanish with "tú"; these
// overlays replace only the messages that differ: "móvil" for "celular", the perfect tense,
// "caducar", the GDPR's "política de privacidad" for Mexico's "aviso de privacidad".
const esES: Partial<Record<MessageKey, string>> = {
  'splash.phone': 'Tu móvil',
  'splash.consent': 'Acepto las condiciones de uso y la política de privacidad.',
  'splash.notice.more': 'Leer la política de privacidad completa',
  'code.lead': 'Te hemos enviado un código de {digits} cifras por SMS al {phone}.',
  'code.lead.whatsapp': 'Te hemos enviado un código de {digits} cifras por WhatsApp al {phone}.',
  'code.resent': 'Te hemos enviado un código nuevo. El anterior ya no vale.',
  'code.resent.whatsapp': 'Te hemos enviado un código nuevo por WhatsApp. El anterior ya no vale.',
  'error.phone.required': 'Escribe tu número de móvil.',
  'error.phone.notMobile': 'Ese número no puede recibir SMS. Usa un número de móvil.',
  'error.consent.required':
    'Para conectarte tienes que aceptar las condiciones de uso y la política de privacidad.',
  'error.code.required': 'Escribe el código que te hemos enviado.',
  'error.code.format': 'El código tiene {digits} cifras, solo números.',
  'error.code.expired': 'Ese código ha caducado. Pide uno nuevo.',
  'error.limit.number':
    'Ya hemos enviado varios códigos a este número. Inténtalo de nuevo dentro de {minutes} minutos.',
  'error.sms.failed': 'No hemos podido enviar el código. Inténtalo de nuevo en un momento.',
  'error.sms.unreachable':
    'Este número no puede recibir SMS. Comprueba que sea un móvil o usa otro número.',
  'error.device.unknown':
    'No hemos podido reconocer tu dispositivo en la red de la sucursal. Desconéctate del Wi-Fi, vuelve a conectarte e inténtalo otra vez.',
  'error.gate':
    'No hemos podido darte acceso en este momento. Inténtalo de nuevo o pide ayuda al personal.',
  'error.unexpected': 'Hemos tenido un problema. Inténtalo de nuevo en un momento.',
  // Privacy (issue 15): Spain's "política de privacidad".
  'notice.title': 'Política de privacidad',
  'notice.changed': 'Hemos actualizado nuestra política de privacidad.',
  'notice.accept': 'Acepto la política de privacidad actualizada.',
  'notice.acceptNeeded': 'Para conectarte, marca que aceptas la política actualizada.',
}

/** "Usted" for every Spanish message that addresses the customer (`spanishAddress: "usted"`). */
const usted: Partial<Record<MessageKey, string>> = {
  'splash.lead':
    'Conéctese gratis mientras espera. Le enviaremos un código por SMS para confirmar su número.',
  'splash.name': 'Su nombre',
  'splash.name.hint': 'Cómo quiere que le llamemos.',
  'splash.phone': 'Su celular',
  'code.title': 'Escriba su código',
  'code.lead': 'Le enviamos un código de {digits} dígitos por SMS al {phone}.',
  'code.resend.wait': 'Podrá pedir otro código en {wait} segundos.',
  'code.resent': 'Le enviamos un código nuevo. El anterior ya no sirve.',
  'code.lead.whatsapp': 'Le enviamos un código de {digits} dígitos por WhatsApp al {phone}.',
  'code.resent.whatsapp': 'Le enviamos un código nuevo por WhatsApp. El anterior ya no sirve.',
  'welcome.lead': 'Ya tiene internet hasta las {until}.',
  'welcome.close': 'Puede cerrar esta ventana y seguir navegando.',
  'returning.lead': 'Conéctese con un toque. No hace falta otro código.',
  'returning.notYou': '¿No es usted?',
  'error.summary': 'Corrija esto para seguir:',
  'error.validation': 'Revise los datos marcados.',
  'error.name.required': 'Escriba su nombre.',
  'error.name.tooLong': 'Su nombre no puede tener más de 80 caracteres.',
  'error.name.invalid': 'Su nombre tiene caracteres que no podemos usar.',
  'error.phone.required': 'Escriba su número de celular.',
  'error.phone.invalid':
    'Ese número no parece válido. Escríbalo a 10 dígitos, por ejemplo 55 1234 5678.',
  'error.phone.invalid.ES':
    'Ese número no parece válido. Escríbalo con sus nueve cifras, por ejemplo 612 34 56 78.',
  'error.phone.notMobile': 'Ese número no puede recibir SMS. Use un número de celular.',
  'error.consent.required':
    'Para conectarse necesita aceptar los términos y el aviso de privacidad.',
  'error.code.required': 'Escriba el código que le enviamos.',
  'error.code.wrong': 'Ese código no es correcto. Le quedan {triesLeft} intentos.',
  'error.code.expired': 'Ese código ya venció. Pida uno nuevo.',
  'error.code.tooManyTries': 'Demasiados intentos con ese código. Pida uno nuevo.',
  'error.code.gone': 'Ese código ya no es válido. Vuelva a empezar para recibir uno nuevo.',
  'error.limit.resend': 'Espere {wait} segundos antes de pedir otro código.',
  'error.limit.number':
    'Ya enviamos varios códigos a este número. Intente de nuevo en {minutes} minutos.',
  'error.limit.device':
    'Se han pedido demasiados códigos desde este teléfono. Intente de nuevo en {minutes} minutos.',
  'error.limit.numberDaily':
    'Este número ya recibió el máximo de códigos por hoy. Intente de nuevo mañana.',
  'error.sms.failed': 'No pudimos enviar el código. Intente de nuevo en un momento.',
  'error.sms.busy': 'Nuestro servicio de mensajes está saturado. Intente de nuevo en un minuto.',
  'error.sms.unreachable':
    'Este número no puede recibir SMS. Revise que sea un celular o use otro número.',
  'error.whatsapp.unreachable':
    'Este número no puede recibir mensajes de WhatsApp. Pida el código por SMS.',
  'error.limit.prefix':
    'Se han pedido muchos códigos para números parecidos a este. Intente de nuevo en {minutes} minutos.',
  'error.sms.paused.breaker':
    'Por ahora no podemos enviar códigos desde esta sucursal. Intente de nuevo en {minutes} minutos o pida ayuda al personal.',
  'error.sms.paused.budget':
    'Lo sentimos: hoy ya no podemos enviar más códigos desde esta sucursal. Pida ayuda al personal o vuelva mañana.',
  'error.sms.paused.prefix':
    'Por ahora no podemos enviar códigos a este número. Intente más tarde o pida ayuda al personal.',
  'error.device.unknown':
    'No pudimos reconocer su dispositivo en la red de la sucursal. Desconéctese del Wi-Fi, vuelva a conectarse e inténtelo otra vez.',
  'error.gate':
    'No pudimos darle acceso en este momento. Intente de nuevo o pida ayuda al personal.',
  'error.unexpected': 'Tuvimos un problema. Intente de nuevo en un momento.',
  // Privacy (issue 15): a new notice on return, stopping promotions.
  'notice.acceptNeeded': 'Para conectarse, marque que acepta el aviso actualizado.',
  'optout.lead':
    'Escriba su número. Le enviaremos un código por SMS para confirmar que es suyo, como al conectarse.',
  'optout.done': 'Listo: ya no le enviaremos promociones.',
}

/** Where Spain's "usted" differs from Mexico's (applied after esES and usted). */
const ustedES: Partial<Record<MessageKey, string>> = {
  'splash.phone': 'Su móvil',
  'code.lead': 'Le hemos enviado un código de {digits} cifras por SMS al {phone}.',
  'code.lead.whatsapp': 'Le hemos enviado un código de {digits} cifras por WhatsApp al {phone}.',
  'code.resent': 'Le hemos enviado un código nuevo. El anterior ya no vale.',
  'code.resent.whatsapp': 'Le hemos enviado un código nuevo por WhatsApp. El anterior ya no vale.',
  'error.phone.required': 'Escriba su número de móvil.',
  'error.phone.notMobile': 'Ese número no puede recibir SMS. Use un número de móvil.',
  'error.consent.required':
    'Para conectarse tiene que aceptar las condiciones de uso y la política de privacidad.',
  'error.code.required': 'Escriba el código que le hemos enviado.',
  'error.code.expired': 'Ese código ha caducado. Pida uno nuevo.',
  'error.limit.number':
    'Ya hemos enviado varios códigos a este número. Inténtelo de nuevo dentro de {minutes} minutos.',
  'error.sms.failed': 'No hemos podido enviar el código. Inténtelo de nuevo en un momento.',
  'error.sms.unreachable':
    'Este número no puede recibir SMS. Compruebe que sea un móvil o use otro número.',
  'error.device.unknown':
    'No hemos podido reconocer su dispositivo en la red de la sucursal. Desconéctese del Wi-Fi, vuelva a conectarse e inténtelo otra vez.',
  'error.gate':
    'No hemos podido darle acceso en este momento. Inténtelo de nuevo o pida ayuda al personal.',
  'error.unexpected': 'Hemos tenido un problema. Inténtelo de nuevo en un momento.',
  'notice.acceptNeeded': 'Para conectarse, marque que acepta la política actualizada.',
}

export type Locale = 'es' | 'en'
export const LOCALES: readonly Locale[] = ['es', 'en']

/**
 * The catalog a page is written in: the language (`es` is Mexico's Spanish), Spain's Spanish,
 * and either with "usted" (issue 18). Every Locale is a Voice; what is stored with a customer
 * and picks the SMS template stays the Locale (`languageOf`).
 */
export type Voice = Locale | 'es-ES' | 'es-usted' | 'es-ES-usted'

const catalogs: Record<Voice, Record<MessageKey, string>> = {
  es,
  en,
  'es-ES': { ...es, ...esES },
  'es-usted': { ...es, ...usted },
  'es-ES-usted': { ...es, ...esES, ...usted, ...ustedES },
}

/** The voice for a language, Spain's variant or not, and the configured form of address. */
export function voiceOf(locale: Locale, spain: boolean, usted: boolean): Voice {
  if (locale === 'en') return 'en'
  if (spain) return usted ? 'es-ES-usted' : 'es-ES'
  return usted ? 'es-usted' : 'es'
}

export function languageOf(voice: Voice): Locale {
  return voice === 'en' ? 'en' : 'es'
}

/** The BCP 47 tag for dates and numbers: es-MX, es-ES or en-US. */
export function formatTagOf(voice: Voice): string {
  return voice === 'en' ? 'en-US' : voice.startsWith('es-ES') ? 'es-ES' : 'es-MX'
}

/**
 * Whether a Spanish Accept-Language or config tag asks for Spain's Spanish: `es-ES` yes, any
 * other region (`es-MX`, `es-419`, `es-AR`) no, no region: null (the branch's default decides).
 */
export function spainAsked(tag: string | undefined): boolean | null {
  if (!tag) return null
  const [lang, region] = tag.trim().toLowerCase().split(/[-_]/)
  if (lang !== 'es' || !region) return null
  return region === 'es'
}

/**
 * The messages that name the privacy document: Mexico's law calls it "aviso de privacidad",
 * Spain's "política de privacidad". They follow the branch's law, not the reader's Spanish: a
 * Mexican branch read with an es-ES browser serves Mexico's notice, and its title, checkboxes and
 * errors name it as its body does (and a branch in Spain read with es-MX, Spain's).
 */
const PRIVACY_NAME_KEYS: ReadonlySet<string> = new Set<MessageKey>([
  'splash.consent',
  'splash.notice.more',
  'error.consent.required',
  'notice.title',
  'notice.changed',
  'notice.accept',
  'notice.acceptNeeded',
])

/** The voice that names the privacy document under the branch's law, with the same address. */
export function lawVoiceOf(voice: Voice, spainLaw: boolean): Voice {
  return voice === 'en' ? 'en' : voiceOf('es', spainLaw, voice.endsWith('usted'))
}

export function isMessageKey(key: string): key is MessageKey {
  return key in es
}

/**
 * Looks up a message and fills its `{placeholders}`. Unknown keys fall back to the generic error.
 * With `region`, a regional form of the message (`splash.phone.hint.ES`) is used when there is one.
 * With `spainLaw` (the branch answers to the GDPR: privacyLawOf), the privacy document is named
 * as that law names it (PRIVACY_NAME_KEYS).
 */
export function t(
  locale: Voice,
  key: string,
  params: Record<string, string | number> = {},
  region?: string,
  spainLaw?: boolean,
): string {
  const voice =
    spainLaw !== undefined && PRIVACY_NAME_KEYS.has(key) ? lawVoiceOf(locale, spainLaw) : locale
  // Issue 20: a page calls t() dozens of times; each key's text is looked up once per catalog and
  // region, and a text without placeholders is returned as it is.
  const texts = textsOf(voice, region)
  let text = texts.get(key)
  if (text === undefined) {
    const catalog = catalogs[voice]
    const regional = region ? `${key}.${region}` : ''
    text =
      region && isMessageKey(regional)
        ? catalog[regional]
        : isMessageKey(key)
          ? catalog[key]
          : catalog['error.unexpected']
    // Keys come from the code, so this stays small; the bound is for safety only.
    if (texts.size < 5000) texts.set(key, text)
  }
  if (!text.includes('{')) return text
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    params[name] === undefined ? m : String(params[name]),
  )
}

/** Each catalog's texts by key, per region (t()'s memo). */
const resolvedTexts = new Map<string, Map<string, string>>()
function textsOf(locale: Voice, region: string | undefined): Map<string, string> {
  const scope = region ? `${locale} ${region}` : locale
  let texts = resolvedTexts.get(scope)
  if (!texts) {
    texts = new Map()
    resolvedTexts.set(scope, texts)
  }
  return texts
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
  for (const tag of rankedTags(acceptLanguage)) {
    const l = asLocale(tag)
    if (l) return l
  }
  return fallback
}

/** The tags of an Accept-Language header, most wanted first (q=0 left out). */
export function rankedTags(acceptLanguage: string | undefined): string[] {
  if (!acceptLanguage) return []
  return acceptLanguage
    .split(',')
    .map((part, i) => {
      const [tag = '', ...rest] = part.trim().split(';')
      const q = rest.map((r) => r.trim()).find((r) => r.startsWith('q='))
      const weight = q ? Number(q.slice(2)) : 1
      return { tag, weight: Number.isFinite(weight) ? weight : 0, i }
    })
    .filter((r) => r.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.i - b.i)
    .map((r) => r.tag)
}

/**
 * For a Spanish reader: Spain's Spanish or Mexico's. The reader's own tags decide first (an
 * explicit `es-ES`, then the first Spanish tag of Accept-Language that names a region), then the
 * branch's default (`defaultLocale`).
 */
export function spanishOfSpain(
  explicit: string | undefined,
  acceptLanguage: string | undefined,
  branchDefault: boolean,
): boolean {
  for (const tag of [explicit, ...rankedTags(acceptLanguage)]) {
    if (asLocale(tag) !== 'es') continue
    const asked = spainAsked(tag)
    if (asked !== null) return asked
  }
  return branchDefault
}

export function asLocale(tag: string | undefined): Locale | null {
  if (!tag) return null
  const lang = tag.trim().toLowerCase().split(/[-_]/)[0]
  return lang === 'es' || lang === 'en' ? lang : null
}
