import { describe, expect, it } from 'vitest'
import { normalizeName } from '../src/portal/name.js'

describe('name rules', () => {
  it('trims and collapses inner whitespace', () => {
    expect(normalizeName('  Ana \t  María   López ')).toEqual({ ok: true, name: 'Ana María López' })
  })

  it('keeps accents, ñ and apostrophes, in NFC form', () => {
    expect(normalizeName('Nun\u0303ez O’Higgins')).toEqual({
      ok: true,
      name: 'Nu\u00f1ez O’Higgins',
    })
  })

  it('asks for a name when only spaces were typed', () => {
    expect(normalizeName('   ')).toEqual({ ok: false, reason: 'required' })
    expect(normalizeName('')).toEqual({ ok: false, reason: 'required' })
  })

  it('accepts 80 characters and refuses 81', () => {
    expect(normalizeName('a'.repeat(80))).toEqual({ ok: true, name: 'a'.repeat(80) })
    expect(normalizeName('a'.repeat(81))).toEqual({ ok: false, reason: 'tooLong' })
  })

  it('counts characters, not UTF-16 units', () => {
    expect(normalizeName('é'.repeat(80))).toMatchObject({ ok: true })
    expect(normalizeName('𝒜'.repeat(80))).toMatchObject({ ok: true })
  })

  it('refuses control and invisible direction characters', () => {
    expect(normalizeName('Ana\u0000')).toEqual({ ok: false, reason: 'invalid' })
    expect(normalizeName('Ana\u001b[31m')).toEqual({ ok: false, reason: 'invalid' })
    expect(normalizeName('Ana\u202eodnarref')).toEqual({ ok: false, reason: 'invalid' })
  })

  it('refuses a name without a single letter', () => {
    expect(normalizeName('12345')).toEqual({ ok: false, reason: 'invalid' })
    expect(normalizeName('<>')).toEqual({ ok: false, reason: 'invalid' })
  })

  it('keeps markup characters as text (escaping is the view’s job)', () => {
    expect(normalizeName('<b>Ana</b>')).toEqual({ ok: true, name: '<b>Ana</b>' })
  })
})
