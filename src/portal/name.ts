export type NameResult =
  { ok: true; name: string } | { ok: false; reason: 'required' | 'tooLong' | 'invalid' }

export const NAME_MAX_CHARS = 80

// Control characters, and the invisible format characters that can reorder or hide text.
const FORBIDDEN = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/u

/** Trims, collapses inner whitespace, and checks length (1–80 characters) and characters. */
export function normalizeName(input: string): NameResult {
  if (FORBIDDEN.test(input.replace(/[\t\n\r]/g, ' '))) return { ok: false, reason: 'invalid' }
  const name = input.normalize('NFC').replace(/\s+/gu, ' ').trim()
  if (name === '') return { ok: false, reason: 'required' }
  if ([...name].length > NAME_MAX_CHARS) return { ok: false, reason: 'tooLong' }
  if (!/\p{L}/u.test(name)) return { ok: false, reason: 'invalid' }
  return { ok: true, name }
}
