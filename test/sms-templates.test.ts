import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { countSegments, templateWarnings } from '../src/sms/segments.js'
import { composeCodeText } from '../src/sms/sender.js'
import { smsPortal } from './fakes/sms-portal.js'
import { FakeSms } from './fakes/sms.js'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { tempDir } from './helpers.js'
import { startService } from './net-helpers.js'

describe('SMS segment counting', () => {
  it('counts plain Spanish without accents as GSM-7, 160 per message', () => {
    const c = countSegments('a'.repeat(160))
    expect(c).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1 })
    expect(countSegments('a'.repeat(161))).toMatchObject({ segments: 2 })
    expect(countSegments('a'.repeat(306))).toMatchObject({ segments: 2 })
    expect(countSegments('a'.repeat(307))).toMatchObject({ segments: 3 })
  })

  it('keeps é, ñ, Ñ, ü, Ü, ¿ and ¡ in GSM-7', () => {
    const c = countSegments('¿Añadió el código? ¡Sí! é ñ Ñ ü Ü'.replace(/ó|í/g, 'o'))
    expect(c.encoding).toBe('GSM-7')
  })

  it('switches to UCS-2 for á, í, ó, ú: 70 per message, 67 per part', () => {
    for (const ch of ['á', 'í', 'ó', 'ú']) {
      expect(countSegments(`codigo ${ch}`)).toMatchObject({ encoding: 'UCS-2', nonGsm: [ch] })
    }
    expect(countSegments('ó' + 'a'.repeat(69))).toMatchObject({ units: 70, segments: 1 })
    expect(countSegments('ó' + 'a'.repeat(70))).toMatchObject({ units: 71, segments: 2 })
    expect(countSegments('ó' + 'a'.repeat(133))).toMatchObject({ segments: 2 })
    expect(countSegments('ó' + 'a'.repeat(134))).toMatchObject({ segments: 3 })
  })

  it('counts extension characters as two septets and never splits them', () => {
    expect(countSegments('€'.repeat(80))).toMatchObject({
      encoding: 'GSM-7',
      units: 160,
      segments: 1,
    })
    expect(countSegments('€'.repeat(81))).toMatchObject({ units: 162, segments: 3 - 1 })
    // 152 plain + one € would straddle the 153 boundary: the € moves to part two.
    expect(countSegments('a'.repeat(152) + '€' + 'a'.repeat(152))).toMatchObject({
      units: 306,
      segments: 3,
    })
  })

  it('counts an emoji as two UCS-2 units', () => {
    expect(countSegments('😀')).toMatchObject({ encoding: 'UCS-2', units: 2 })
  })
})

describe('code message templates', () => {
  it('fills the locale template and always keeps the origin-bound last line', () => {
    const text = composeCodeText({
      locale: 'es',
      branchName: 'Centro',
      code: '123456',
      ttlMinutes: 5,
      portalHost: 'wifi.banco.mx',
      template: 'Codigo {code} de {branch} ({minutes} min)\n',
    })
    expect(text).toBe('Codigo 123456 de Centro (5 min)\n\n@wifi.banco.mx #123456')
  })

  it('uses the configured template for the customer locale at the portal', async () => {
    const sms = new FakeSms()
    const portal = smsPortal(
      {
        branch: { name: 'Centro' },
        publicUrl: 'http://wifi.banco.mx',
        sms: { templates: { es: 'Clave {code} - {branch}' } },
      },
      sms,
    )
    try {
      expect((await portal.login('55 1234 5678')).status).toBe(200)
      const code = sms.lastCodeTo('+525512345678')
      expect(sms.sent[0]!.text).toBe(`Clave ${code} - Centro\n\n@wifi.banco.mx #${code}`)
    } finally {
      portal.close()
    }
  })

  it('ships default templates that fit one GSM-7 segment, so nothing is logged at start', () => {
    expect(templateWarnings(loadConfig(null))).toEqual([])
  })

  it('warns at start when accents push a template to two segments', async () => {
    const config = loadConfig(
      JSON.stringify({
        branch: { name: 'Sucursal Polanco' },
        sms: {
          templates: {
            es: 'Tu código para el Wi-Fi de {branch} es {code}. Vence en {minutes} minutos.',
          },
        },
      }),
    )
    const warnings = templateWarnings(config)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/the es code message needs 2 SMS segments \(UCS-2 because of "ó"/)
    // The service says it once, at start.
    const dir = tempDir()
    const file = path.join(dir.dir, 'branchgate.json')
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: dir.dir,
        listen: { portal: { port: 0 }, admin: { port: 0 } },
        branch: { name: 'Sucursal Polanco' },
        sms: {
          templates: {
            es: 'Tu código para el Wi-Fi de {branch} es {code}. Vence en {minutes} minutos.',
          },
        },
      }),
    )
    const service = await startService(['--config', file])
    try {
      expect(
        service
          .output()
          .split('\n')
          .filter((l) => l.includes('SMS segments')),
      ).toHaveLength(1)
    } finally {
      await service.stop()
      dir.remove()
    }
  })

  it('counts the branch name too: an accent in it warns for every locale', () => {
    const warnings = templateWarnings(
      loadConfig(JSON.stringify({ branch: { name: 'Campos Elíseos' } })),
    )
    expect(warnings.map((w) => w.slice(0, 25))).toEqual([
      'sms: warning: the es code',
      'sms: warning: the en code',
    ])
  })

  it('refuses a template without {code}', () => {
    expect(() => loadConfig(JSON.stringify({ sms: { templates: { en: 'Hello' } } }))).toThrow(
      /must contain \{code\}/,
    )
  })
})
