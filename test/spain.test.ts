import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { formatters } from '../src/console/messages.js'
import { loadConfig } from '../src/config.js'
import { parsePhone } from '../src/customers/phone.js'
import { spanishOfSpain, t } from '../src/i18n/messages.js'
import { challengeOf, portalHarness } from './helpers.js'

// Spain beside Mexico (issue 18): the es-ES locale, "usted", the Spanish mobile plan, the
// GDPR/LOPDGDD notice and Europe/Madrid, through the real portal on a real SQLite file.

const SPAIN = {
  defaultLocale: 'es-ES',
  branch: { name: 'Oficina Gran Vía', timeZone: 'Europe/Madrid' },
  phone: { defaultRegion: 'ES', allowedRegions: ['ES'] },
}
const EXAMPLE = new URL('../deploy/branchgate.es.example.json', import.meta.url)

let h: ReturnType<typeof portalHarness> | undefined
afterEach(() => {
  h?.close()
  h = undefined
})

const page = async (path: string, acceptLanguage: string) =>
  (await h!.request(path, { headers: { 'accept-language': acceptLanguage } })).text()

describe('Spanish as spoken in Spain', () => {
  it('says "móvil" to a browser asking for es-ES and "celular" to one asking for es-MX, on the same branch', async () => {
    h = portalHarness({ phone: { defaultRegion: 'MX', allowedRegions: ['MX', 'ES'] } })
    const spain = await page('/', 'es-ES,es;q=0.9')
    expect(spain).toContain('<html lang="es-ES">')
    expect(spain).toContain('Tu móvil')
    // The branch is in Mexico: its notice is Mexico's "aviso de privacidad", named so whatever
    // Spanish the browser reads (test/spain-followups.test.ts).
    expect(spain).toContain('Acepto los términos de uso y el aviso de privacidad.')
    const mexico = await page('/', 'es-MX,es;q=0.9')
    expect(mexico).toContain('<html lang="es-MX">')
    expect(mexico).toContain('Tu celular')
    // Any other Latin American Spanish reads Mexico's words.
    expect(await page('/', 'es-AR')).toContain('Tu celular')
  })

  it('gives a browser that names no region the branch default’s Spanish (defaultLocale es-ES)', async () => {
    h = portalHarness(SPAIN)
    expect(await page('/', 'es')).toContain('Tu móvil')
    expect(await page('/', 'fr-FR')).toContain('Tu móvil')
    expect(spanishOfSpain(undefined, 'es', false)).toBe(false)
    expect(spanishOfSpain(undefined, 'en-GB, es;q=0.5, es-ES;q=0.4', false)).toBe(true)
  })

  it('reads Spanish mobiles (+34, 6xx and 7xx) and shows Spain’s example number in the hint and the error', async () => {
    const rules = { defaultRegion: 'ES', allowedRegions: ['ES'] }
    expect(parsePhone('612 34 56 78', rules)).toMatchObject({ ok: true, e164: '+34612345678' })
    expect(parsePhone('+34 712 34 56 78', rules)).toMatchObject({ ok: true, e164: '+34712345678' })
    expect(parsePhone('0034 699 123 456', rules)).toMatchObject({ ok: true, e164: '+34699123456' })
    // A Madrid landline and a Mexican mobile are refused.
    expect(parsePhone('912 34 56 78', rules)).toEqual({ ok: false, reason: 'notMobile' })
    expect(parsePhone('+52 55 1234 5678', rules)).toEqual({ ok: false, reason: 'region' })
    h = portalHarness(SPAIN)
    expect(await page('/', 'es-ES')).toContain('Nueve cifras, por ejemplo 612 34 56 78.')
    const refused = await (
      await h.post('/login', { name: 'Lucía', phone: '612 34', consent: 'yes', lang: 'es' })
    ).text()
    expect(refused).toContain(
      'Ese número no parece válido. Escríbelo con sus nueve cifras, por ejemplo 612 34 56 78.',
    )
  })

  it('signs a Spanish number in and shows the time as in Madrid', async () => {
    h = portalHarness(SPAIN)
    const code = await h.post('/login', { name: 'Lucía', phone: '612 34 56 78', consent: 'yes' })
    const html = await code.text()
    expect(html).toContain('Te hemos enviado un código de 6 cifras por SMS al +34 612 34 56 78.')
    const welcome = await (
      await h.post('/verify', {
        challenge: challengeOf(html),
        code: h.sms.lastCodeTo('+34612345678'),
      })
    ).text()
    // The fake clock says 15:00 UTC, 16:00 in Madrid in March; session.hours is 8.
    expect(welcome).toContain('Ya tienes internet hasta las 00:00.')
    expect(h.db.prepare('SELECT locale FROM customers').get()).toEqual({ locale: 'es' })
  })

  it('addresses the customer as "usted" when configured, in Spain and in Mexico', async () => {
    h = portalHarness({ ...SPAIN, spanishAddress: 'usted' })
    const spain = await page('/', 'es-ES')
    expect(spain).toContain('Su móvil')
    expect(spain).toContain('Conéctese gratis mientras espera.')
    expect(spain).toContain('darle acceso a la red wifi')
    h.close()
    h = portalHarness({ spanishAddress: 'usted' })
    const mexico = await page('/', 'es-MX')
    expect(mexico).toContain('Su celular')
    expect(mexico).toContain('Usamos su nombre y su número')
    const refused = await (await h.post('/login', { name: '', phone: '', lang: 'es' })).text()
    expect(refused).toContain('Escriba su nombre.')
    expect(t('es', 'code.title')).toBe('Escribe tu código')
    expect(t('es-usted', 'code.title')).toBe('Escriba su código')
    // The privacy pages of issue 15 speak the same way (the merge with issue 18).
    const optOut = await page('/promociones', 'es-MX')
    expect(optOut).toContain('Escriba su número. Le enviaremos un código')
    expect(t('es-usted', 'optout.done')).toBe('Listo: ya no le enviaremos promociones.')
    expect(t('es-ES', 'notice.title')).toBe('Política de privacidad')
    expect(t('es-ES-usted', 'notice.acceptNeeded')).toBe(
      'Para conectarse, marque que acepta la política actualizada.',
    )
  })

  it('shows the GDPR/LOPDGDD first-layer notice by default on a branch in Spain, and the configured one when set', () => {
    const es = loadConfig(JSON.stringify(SPAIN)).privacy.notice
    expect(es.es).toContain('Responsable: la entidad titular de esta sucursal.')
    expect(es.es).toContain('Legitimación: tu consentimiento (art. 6.1.a RGPD)')
    expect(es.es).toContain('Agencia Española de Protección de Datos')
    expect(es.en).toContain('GDPR art. 6(1)(a)')
    expect(loadConfig('{}').privacy.notice.es).toContain('Usamos tu nombre y tu número')
    const notice = { es: 'Nuestro aviso.', en: 'Our notice.' }
    expect(loadConfig(JSON.stringify({ ...SPAIN, privacy: { notice } })).privacy.notice).toEqual(
      notice,
    )
  })

  it('ships an example config for a Spanish branch that loads: ES, Europe/Madrid, es-ES', () => {
    const c = loadConfig(readFileSync(EXAMPLE, 'utf8'))
    expect(c.phone).toEqual({ defaultRegion: 'ES', allowedRegions: ['ES'] })
    expect(c.branch.timeZone).toBe('Europe/Madrid')
    expect(c.defaultLocale).toBe('es-ES')
    expect(c.privacy.notice.es).toContain('RGPD')
  })

  it('writes the console’s numbers and dates as in Spain for a Spanish branch', () => {
    const spain = formatters('es', 'Europe/Madrid', 'es-ES')
    const mexico = formatters('es', 'America/Mexico_City')
    expect(spain.one(12345.5)).toBe('12.345,5')
    expect(mexico.one(12345.5)).toBe('12,345.5')
    expect(spain.percent(0.125)).toBe('12,5\u00a0%')
    expect(spain.dateTime(Date.parse('2026-03-02T15:00:00Z'))).toBe('2 mar 2026, 16:00')
  })
})
