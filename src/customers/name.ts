export type NameResult =
  { ok: true; name: string } | { ok: false; reason: 'required' | 'tooLong' | 'invalid' }

export const NAME_MAX_CHARS = 80

/**
 * Characters a name may not hold, by Unicode property rather than by list, so a mark a list
 * forgot cannot slip through:
 * - Cc controls; Cf format characters (direction marks and isolates, soft hyphen, zero-width
 *   space, word joiner, BOM, invisible tag characters U+E0000–E007F, invisible operators...);
 * - Default_Ignorable_Code_Point: what renders as nothing, such as the Hangul fillers (U+115F,
 *   U+1160, U+3164, U+FFA0, letters by category), variation selectors, the grapheme joiner;
 * - Co private use (each font draws what it likes there), Cn unassigned, Cs lone surrogates;
 * - Braille patterns: U+2800 renders blank, and braille keyboards type letters, not patterns.
 * Whitespace of every kind is not refused: it collapses to one space.
 */
const FORBIDDEN =
  /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Co}\p{Cn}\p{Cs}\p{Script=Braille}]/u

/**
 * Scripts whose spelling needs the zero-width joiner and non-joiner (Unicode §23.2): the cursive
 * ones (Persian and Urdu write ZWNJ inside words) and the Brahmic ones (ZWJ/ZWNJ pick conjunct
 * forms after a virama).
 */
const JOINING_SCRIPTS = [
  'Arab',
  'Syrc',
  'Nkoo',
  'Mong',
  'Deva',
  'Beng',
  'Guru',
  'Gujr',
  'Orya',
  'Taml',
  'Telu',
  'Knda',
  'Mlym',
  'Sinh',
]
  .map((s) => `\\p{scx=${s}}`)
  .join('')

/**
 * A ZWNJ or ZWJ kept as part of the spelling: between two letters (or marks) of a joining script,
 * as IDNA's CONTEXTJ rule allows them (RFC 5892 A.1–A.2). Anywhere else (at an end, doubled, in
 * a Latin name, between emoji) it is refused with the other format characters.
 */
const SPELLING_JOINER = new RegExp(
  `(?<=[${JOINING_SCRIPTS}])(?<=[\\p{L}\\p{M}])[\\u200C\\u200D](?=[${JOINING_SCRIPTS}])(?=[\\p{L}\\p{M}])`,
  'gu',
)

/** Trims, collapses inner whitespace, and checks length (1–80 characters) and characters. */
export function normalizeName(input: string): NameResult {
  // Tab and line breaks are whitespace typed by accident (a paste): they collapse like spaces.
  const text = input.normalize('NFC').replace(/[\t\n\r]/g, ' ')
  const withoutJoiners = /[\u200C\u200D]/.test(text) ? text.replace(SPELLING_JOINER, '') : text
  if (FORBIDDEN.test(withoutJoiners)) return { ok: false, reason: 'invalid' }
  const name = text.replace(/\s+/gu, ' ').trim()
  if (name === '') return { ok: false, reason: 'required' }
  if ([...name].length > NAME_MAX_CHARS) return { ok: false, reason: 'tooLong' }
  // At least one letter: with the fillers refused above, a name cannot render blank.
  if (!/\p{L}/u.test(name)) return { ok: false, reason: 'invalid' }
  return { ok: true, name }
}
