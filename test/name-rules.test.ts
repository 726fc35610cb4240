import { describe, expect, it } from 'vitest'
import { normalizeName } from '../src/customers/name.js'

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

  it.each([
    ['a left-to-right mark the old list forgot', 'Ana\u200e'],
    ['an Arabic letter mark', 'Ana\u061c'],
    ['a first-strong isolate', 'Ana\u2068López\u2069'],
    ['a soft hyphen', 'An\u00ada'],
    ['a zero-width space', 'Ana\u200bLópez'],
    ['a word joiner', 'Ana\u2060'],
    ['a Mongolian vowel separator', 'Ana\u180e'],
    ['an invisible times', 'Ana\u2062'],
    ['invisible tag characters', 'Ana\u{e0041}\u{e0042}\u{e007f}'],
    ['a variation selector', 'Ana\ufe0f'],
    ['a combining grapheme joiner', 'Ana\u034f'],
    ['a private-use character', 'Ana\uf8ff'],
    ['an unassigned code point', 'Ana\u0378'],
    ['a lone surrogate', 'Ana\ud800'],
    ['a Hangul filler inside a name', 'Ana \u3164López'],
  ])('refuses %s', (_what, typed) => {
    expect(normalizeName(typed)).toEqual({ ok: false, reason: 'invalid' })
  })

  it.each([
    ['HANGUL FILLER', '\u3164'],
    ['HANGUL CHOSEONG and JUNGSEONG FILLER', '\u115f\u1160'],
    ['HALFWIDTH HANGUL FILLER', '\uffa0\uffa0'],
    ['BRAILLE PATTERN BLANK', '\u2800'],
    ['fillers between spaces', ' \u3164 \u2800 '],
  ])('refuses a name that renders blank: %s', (_what, typed) => {
    expect(normalizeName(typed)).toEqual({ ok: false, reason: 'invalid' })
  })

  it.each([
    ['Hebrew', 'שרה לוי', 'שרה לוי'],
    ['Arabic', 'محمد', 'محمد'],
    ['Chinese', '王小明', '王小明'],
    ['Vietnamese', 'Nguye\u0302\u0303n Thi\u0323', 'Nguyễn Thị'],
    ['Greek', 'Αλέξης', 'Αλέξης'],
    ['Cyrillic', 'Анна', 'Анна'],
    ['hyphens and apostrophes', "Jean-Luc D'Arcy", "Jean-Luc D'Arcy"],
    ['a no-break space, as a space', 'Ana\u00a0López', 'Ana López'],
    ['Persian with the non-joiner its spelling needs', 'علی\u200cاکبر', 'علی\u200cاکبر'],
    ['Devanagari with a joiner after the virama', 'क\u094d\u200dष', 'क\u094d\u200dष'],
  ])('keeps a real name: %s', (_what, typed, name) => {
    expect(normalizeName(typed)).toEqual({ ok: true, name })
  })

  it('refuses a joiner outside the spelling that needs it: in a Latin name, at an end, doubled', () => {
    for (const typed of ['A\u200dna', 'Ana\u200c', '\u200cعلی', 'علی\u200c\u200cاکبر', 'علی\u200c'])
      expect(normalizeName(typed)).toEqual({ ok: false, reason: 'invalid' })
  })

  it('refuses a name without a single letter', () => {
    expect(normalizeName('12345')).toEqual({ ok: false, reason: 'invalid' })
    expect(normalizeName('<>')).toEqual({ ok: false, reason: 'invalid' })
  })

  it('keeps markup characters as text (escaping is the view’s job)', () => {
    expect(normalizeName('<b>Ana</b>')).toEqual({ ok: true, name: '<b>Ana</b>' })
  })
})
