import { parsePhoneNumberWithError, type CountryCode } from 'libphonenumber-js/max'
import { describe, expect, it } from 'vitest'
import { parsePhone, type PhoneResult } from '../src/customers/phone.js'

const MX = { defaultRegion: 'MX', allowedRegions: ['MX'] }

describe('phone rules', () => {
  it.each([
    ['55 1234 5678'],
    ['+52 1 55 1234 5678'],
    ['(55) 1234-5678'],
    ['5512345678'],
    ['+52 55 1234 5678'],
    ['044 55 1234 5678'],
    ['0052 1 55 1234 5678'],
    ['５５１２３４５６７８'],
  ])('reads %s as +525512345678', (typed) => {
    expect(parsePhone(typed, MX)).toEqual({
      ok: true,
      e164: '+525512345678',
      region: 'MX',
    })
  })

  it.each([
    [
      'iOS Contacts: LEFT-TO-RIGHT OVERRIDE … POP DIRECTIONAL FORMATTING',
      '\u202d+52 55 1234 5678\u202c',
    ],
    ['first-strong isolate … pop directional isolate', '\u2068+52 55 1234 5678\u2069'],
    ['left-to-right isolate', '\u2066(55) 1234-5678\u2069'],
    ['right-to-left isolate around a number in a Hebrew UI', '\u2067+52 55 1234 5678\u2069'],
    ['left-to-right marks', '\u200e+52\u200e 55 1234 5678\u200e'],
    ['a right-to-left mark', '\u200f55 1234 5678'],
    ['no-break spaces', '+52\u00a055\u00a01234\u00a05678'],
    ['narrow no-break spaces', '55\u202f1234\u202f5678'],
    ['zero-width spaces', '55\u200b1234\u200b5678'],
    ['a byte-order mark and a word joiner', '\ufeff55 1234\u20605678'],
    ['an Arabic letter mark', '\u061c5512345678'],
    ['non-breaking hyphens and en dashes', '55\u20111234\u20135678'],
    ['a soft hyphen', '55 1234\u00ad5678'],
  ])('reads a number copied with %s like any other', (_what, typed) => {
    expect(parsePhone(typed, MX)).toEqual({ ok: true, e164: '+525512345678', region: 'MX' })
  })

  it('still refuses what is not a number once the formatting is gone', () => {
    expect(parsePhone('\u202d\u202c', MX)).toEqual({ ok: false, reason: 'required' })
    expect(parsePhone('\u202d55 1234\u202c', MX)).toEqual({ ok: false, reason: 'invalid' })
    expect(parsePhone('\u202dabc\u202c', MX)).toEqual({ ok: false, reason: 'invalid' })
    expect(parsePhone('\u202d55\u0007 1234 5678\u202c', MX)).toEqual({
      ok: false,
      reason: 'invalid',
    })
    expect(parsePhone('\u200b'.repeat(500) + '5512345678', MX)).toEqual({
      ok: false,
      reason: 'invalid',
    })
    expect(parsePhone('\u202d+1 212 555 0123\u202c', MX)).toEqual({ ok: false, reason: 'region' })
  })

  it('asks for a number when nothing was typed', () => {
    expect(parsePhone('   ', MX)).toEqual({ ok: false, reason: 'required' })
  })

  it.each([
    ['abc'],
    ['12'],
    ['55 1234 567'],
    ['55 1234 56789 0'],
    ['+52 55 1234 5678 ext 3'],
    ['x'.repeat(500)],
    ['55\u0000 1234 5678'],
  ])('refuses %j as invalid', (typed) => {
    expect(parsePhone(typed, MX)).toEqual({ ok: false, reason: 'invalid' })
  })

  it('refuses a number from a region that is not allowed', () => {
    expect(parsePhone('+1 212 555 0123', MX)).toEqual({ ok: false, reason: 'region' })
    expect(parsePhone('+34 612 345 678', MX)).toEqual({ ok: false, reason: 'region' })
  })

  it('accepts another region once it is allowed', () => {
    const rules = { defaultRegion: 'MX', allowedRegions: ['MX', 'ES'] }
    expect(parsePhone('+34 612 345 678', rules)).toMatchObject({
      ok: true,
      e164: '+34612345678',
      region: 'ES',
    })
  })

  it('refuses numbers that cannot receive SMS: toll-free, premium rate and landlines', () => {
    expect(parsePhone('800 123 4567', MX)).toEqual({ ok: false, reason: 'notMobile' })
    expect(parsePhone('900 123 4567', MX)).toEqual({ ok: false, reason: 'notMobile' })
    // Spain still tells landlines from mobiles in its numbering plan.
    expect(parsePhone('+34 912 345 678', { defaultRegion: 'ES', allowedRegions: ['ES'] })).toEqual({
      ok: false,
      reason: 'notMobile',
    })
  })

  it('decides as the whole way did: every formatting step, isValid() and getType() apart', () => {
    // The rules as they were written before the fast paths (a plain typed number skips the
    // Unicode clean-up; one type look-up stands for isValid() and getType()), kept here to hold
    // the new ones to the same verdict on thousands of inputs.
    const reference = (input: string, rules: typeof MX): PhoneResult => {
      if (input.length > 200) return { ok: false, reason: 'invalid' }
      const text = input
        .normalize('NFKC')
        .replace(/\p{Cf}/gu, '')
        .replace(/\p{Zs}/gu, ' ')
        .replace(/\p{Pd}/gu, '-')
        .trim()
      if (text === '') return { ok: false, reason: 'required' }
      if (text.length > 40 || !/^[+\d\s().\-/]+$/.test(text))
        return { ok: false, reason: 'invalid' }
      const tryParse = (t: string) => {
        try {
          const p = parsePhoneNumberWithError(t, rules.defaultRegion as CountryCode)
          return p.isValid() ? p : null
        } catch {
          return null
        }
      }
      const digits = text.replace(/[^\d+]/g, '')
      const legacy =
        /^(?:\+|00)521(\d{10})$/.exec(digits)?.[1] ?? /^04[45](\d{10})$/.exec(digits)?.[1]
      const parsed = tryParse(text) ?? tryParse(legacy ? `+52${legacy}` : text)
      if (!parsed) return { ok: false, reason: 'invalid' }
      if (!parsed.country || !rules.allowedRegions.includes(parsed.country))
        return { ok: false, reason: 'region' }
      const type = parsed.getType()
      if (!type || !['MOBILE', 'FIXED_LINE_OR_MOBILE'].includes(type))
        return { ok: false, reason: 'notMobile' }
      return { ok: true, e164: parsed.number, region: parsed.country }
    }
    // Deterministic "random" inputs: digits of every length, with the prefixes people type, the
    // separators, and characters only the Unicode clean-up handles.
    let seed = 20
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    const pieces = [
      '',
      ' ',
      '+',
      '+52',
      '+1',
      '+1 800',
      '+34 6',
      '+34 9',
      '00',
      '044',
      '01',
      '800',
      '900',
      '55',
      '33',
      '81',
    ]
    const separators = [
      ' ',
      '-',
      '.',
      '(',
      ')',
      '/',
      '\u00a0',
      '\u2011',
      '\u202d',
      '\u200b',
      '５',
      'x',
    ]
    const rules = [MX, { defaultRegion: 'MX', allowedRegions: ['MX', 'US', 'ES'] }]
    const seen = new Set<string>()
    for (let i = 0; i < 6000; i++) {
      let typed = pieces[next(pieces.length)]!
      const length = [0, 4, 7, 8, 9, 10, 10, 10, 11, 12][next(10)]!
      for (let d = 0; d < length; d++) {
        typed += String(next(10))
        if (next(5) === 0) typed += separators[next(separators.length)]
      }
      const r = rules[i % 2]!
      const verdict = parsePhone(typed, r)
      expect(verdict, JSON.stringify(typed)).toEqual(reference(typed, r))
      seen.add(verdict.ok ? 'ok' : verdict.reason)
    }
    // Every verdict was reached: numbers taken, and numbers refused for each reason.
    expect([...seen].sort()).toEqual(['invalid', 'notMobile', 'ok', 'region', 'required'])
  })
})
