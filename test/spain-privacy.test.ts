import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { privacyLawOf, rightsDeadlineOf } from '../src/customers/config.js'
import { defaultNotice } from '../src/privacy/notice.js'
import { deadlineOf } from '../src/privacy/requests.js'
import { consoleHarness } from './console-harness.js'
import { portalHarness } from './helpers.js'

// A branch in Spain answers to the GDPR and LOPDGDD, not Mexico's LFPDPPP: the full privacy
// policy built from its config, the rights-request deadline and the console's words follow.

const SPAIN = {
  defaultLocale: 'es-ES',
  branch: { name: 'Oficina Gran Vía', timeZone: 'Europe/Madrid' },
  phone: { defaultRegion: 'ES', allowedRegions: ['ES'] },
}

/** A word standing alone (accented letters count as letters). */
const word = (words: string) => new RegExp(`(?<!\\p{L})(${words})(?!\\p{L})`, 'iu')
/** What addresses the customer as "tú". */
const TU = word('tu|tus|te|ti|puedes|pides|vienes|llegas|crees|quieras|aceptes|abre')

let portal: ReturnType<typeof portalHarness> | undefined
let console_: ReturnType<typeof consoleHarness> | undefined
afterEach(() => {
  portal?.close()
  console_?.close()
  portal = console_ = undefined
})

const deadlineOfConfig = (raw: object) => {
  const c = loadConfig(JSON.stringify(raw))
  return rightsDeadlineOf(c.privacy, privacyLawOf(c))
}

describe('the full privacy policy of a branch in Spain', () => {
  it('is a GDPR/LOPDGDD policy in Spain’s words, not Mexico’s LFPDPPP notice', async () => {
    portal = portalHarness(SPAIN)
    const es = await (
      await portal.request('/aviso-de-privacidad', { headers: { 'accept-language': 'es-ES' } })
    ).text()
    for (const part of [
      'Política de privacidad del Wi-Fi para clientes — Oficina Gran Vía',
      'Responsable del tratamiento: Oficina Gran Vía.',
      'Finalidad: darte acceso a internet',
      'Legitimación: tu consentimiento al conectarte (art. 6.1.a RGPD)',
      'Destinatarios: el proveedor de SMS',
      'Plazo de conservación:',
      'art. 32 LOPDGDD',
      'derechos de acceso, rectificación, supresión, oposición, limitación del tratamiento y portabilidad',
      'Te respondemos en un mes desde que recibimos tu solicitud (prorrogable otros dos meses',
      'un código que llega a tu móvil',
      'Reclamación: si crees que no hemos tratado bien tus datos, puedes presentar una reclamación ante la Agencia Española de Protección de Datos (AEPD, www.aepd.es).',
    ])
      expect(es).toContain(part)
    for (const mexican of [
      'celular',
      'ARCO',
      'cancelación',
      'cancelar',
      'LFPDPPP',
      'hábiles',
      'Aviso de privacidad',
    ])
      expect(es).not.toContain(mexican)

    const en = await (await portal.request('/aviso-de-privacidad?lang=en')).text()
    for (const part of [
      'Controller: Oficina Gran Vía.',
      'Legal basis: your consent when you connect (GDPR art. 6(1)(a))',
      'access, rectification, erasure, objection, restriction of processing and portability',
      'We answer within one month of receiving your request (extendable by two further months',
      'Spanish Data Protection Agency (AEPD, www.aepd.es)',
    ])
      expect(en).toContain(part)
    for (const mexican of ['cancellation', 'business days', 'ARCO'])
      expect(en).not.toContain(mexican)
  })

  it('speaks like the rest of the es-ES portal: "tú" by default, "usted" throughout when configured', () => {
    const tu = defaultNotice(loadConfig(JSON.stringify(SPAIN)), 'es')
    expect(tu).toMatch(TU)
    expect(tu).not.toMatch(word('usted'))
    const usted = defaultNotice(
      loadConfig(JSON.stringify({ ...SPAIN, spanishAddress: 'usted' })),
      'es',
    )
    expect(usted).not.toMatch(TU)
    for (const part of [
      'su nombre y su número de móvil (los escribe usted)',
      'Finalidad: darle acceso a internet',
      'Legitimación: su consentimiento al conectarse',
      'Le respondemos en un mes desde que recibimos su solicitud',
      'se lo diríamos',
      'si cree que no hemos tratado bien sus datos, puede presentar una reclamación',
      'le pediremos que la acepte en su próxima visita',
    ])
      expect(usted).toContain(part)
  })

  it('keeps Mexico’s LFPDPPP notice, ARCO and 20 business days, for a branch in Mexico', () => {
    const mx = defaultNotice(loadConfig('{}'), 'es')
    expect(mx).toContain('Aviso de privacidad del Wi-Fi para clientes')
    expect(mx).toContain('(ARCO)')
    expect(mx).toContain('respondemos en 20 días hábiles')
    expect(defaultNotice(loadConfig('{}'), 'en')).toContain('we answer within 20 business days')
  })
})

describe('the rights-request deadline', () => {
  it('follows the branch’s law unless configured: one month in Spain, 20 business days in Mexico', () => {
    expect(deadlineOfConfig({})).toEqual({ days: 20, businessDays: true })
    expect(deadlineOfConfig(SPAIN)).toEqual({ months: 1 })
    // A branch in Spain by its numbers alone, or by its pages alone, is a branch in Spain.
    expect(deadlineOfConfig({ phone: SPAIN.phone })).toEqual({ months: 1 })
    expect(deadlineOfConfig({ defaultLocale: 'es-ES' })).toEqual({ months: 1 })
    // What the config says wins; days left unqualified are calendar days under the GDPR.
    const privacy = (p: object) => ({ ...SPAIN, privacy: p })
    expect(deadlineOfConfig(privacy({ requestDeadlineDays: 30 }))).toEqual({
      days: 30,
      businessDays: false,
    })
    expect(
      deadlineOfConfig(privacy({ requestDeadlineDays: 15, requestDeadlineBusinessDays: true })),
    ).toEqual({ days: 15, businessDays: true })
    expect(deadlineOfConfig({ privacy: { requestDeadlineDays: 15 } })).toEqual({
      days: 15,
      businessDays: true,
    })
    expect(deadlineOfConfig({ privacy: { requestDeadlineMonths: 2 } })).toEqual({ months: 2 })
  })

  it('refuses days and months together, or business days with months, in one sentence', () => {
    const problem = (p: object) => {
      try {
        loadConfig(JSON.stringify({ privacy: p }))
      } catch (err) {
        return (err as ConfigError).message
      }
      return null
    }
    expect(problem({ requestDeadlineDays: 30, requestDeadlineMonths: 1 })).toContain(
      'privacy.requestDeadlineMonths and privacy.requestDeadlineDays are both set: keep one (months or days)',
    )
    expect(problem({ requestDeadlineMonths: 1, requestDeadlineBusinessDays: false })).toContain(
      'privacy.requestDeadlineBusinessDays counts days only',
    )
  })

  it('counts a month to the same date, or to the month’s last day, in the branch’s time', () => {
    const madrid = (text: string) => Date.parse(`${text}+01:00`) // CET, before 29 March
    const month = { months: 1 }
    // 31 January: the end of 28 February (midnight at the start of 1 March, Madrid).
    expect(deadlineOf(madrid('2026-01-31T10:00:00'), month, 'Europe/Madrid')).toBe(
      madrid('2026-03-01T00:00:00'),
    )
    // 15 March: the end of 15 April (summer time by then: UTC+2).
    expect(deadlineOf(madrid('2026-03-15T10:00:00'), month, 'Europe/Madrid')).toBe(
      Date.parse('2026-04-16T00:00:00+02:00'),
    )
    // Late in the evening of 31 December: the end of 31 January, and across the year.
    expect(deadlineOf(madrid('2025-12-31T23:30:00'), month, 'Europe/Madrid')).toBe(
      madrid('2026-02-01T00:00:00'),
    )
    // 30 November plus three months: the end of 28 February.
    expect(deadlineOf(madrid('2025-11-30T09:00:00'), { months: 3 }, 'Europe/Madrid')).toBe(
      madrid('2026-03-01T00:00:00'),
    )
  })

  it('is what the console records and says for a branch in Spain; Mexico’s page says 20 business days', async () => {
    console_ = consoleHarness(SPAIN)
    const b = await console_.signedIn('maria', 'manager')
    const page = await (await b.get('/requests')).text()
    expect(page).toContain('Solicitudes de derechos (RGPD)')
    expect(page).toContain(
      'el plazo legal (un mes, prorrogable dos meses más si la solicitud es compleja o son muchas, avisando al cliente con el motivo dentro del primer mes) se calcula solo.',
    )
    expect(page).toContain('Móvil del cliente')
    expect(page).toContain('>Supresión</option>')
    expect(page).not.toMatch(/ARCO|Cancelación|Celular/)
    const res = await b.submit('/requests', {
      kind: 'cancellation',
      phone: '',
      requester: 'Lucía Pérez',
      received: '2026-01-31',
      identity: 'official-id',
      identityNote: '',
      details: '',
    })
    expect(res.status, await res.clone().text()).toBe(303)
    const id = Number(/^\/requests\/(\d+)$/.exec(res.headers.get('location') ?? '')![1])
    const row = console_.db.prepare(`SELECT due_at FROM rights_requests WHERE id = ?`).get(id)
    // Received 31 January: due at the end of 28 February, Madrid.
    expect(row).toEqual({ due_at: Date.parse('2026-03-01T00:00:00+01:00') })
    const one = await (await b.get(`/requests/${id}`)).text()
    expect(one).toContain('Supresión')
    expect(one).toContain('28 feb 2026, 23:59')
    console_.close()

    console_ = consoleHarness()
    const mx = await (await (await console_.signedIn('maria', 'manager')).get('/requests')).text()
    expect(mx).toContain('Solicitudes de derechos (ARCO)')
    expect(mx).toContain('el plazo legal (20 días hábiles) se calcula solo.')
    expect(mx).toContain('>Cancelación</option>')
  })
})
