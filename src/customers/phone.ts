import { parsePhoneNumberWithError, type CountryCode, type NumberType } from 'libphonenumber-js/max'

export type PhoneResult =
  | { ok: true; e164: string; region: string }
  | { ok: false; reason: 'required' | 'invalid' | 'region' | 'notMobile' }

/** Number types that can receive an SMS. Undefined types are refused: we cannot tell. */
const SMS_TYPES: ReadonlySet<NumberType> = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE'])

export interface PhoneRules {
  defaultRegion: string
  allowedRegions: readonly string[]
}

/**
 * Reads a phone number the way people type it ("55 1234 5678", "+52 1 55 1234 5678",
 * "(55) 1234-5678", "5512345678") and returns it in E.164, or why it is refused.
 */
export function parsePhone(input: string, rules: PhoneRules): PhoneResult {
  if (input.length > 200) return { ok: false, reason: 'invalid' }
  const text = withoutFormatting(input)
  if (text === '') return { ok: false, reason: 'required' }
  if (text.length > 40 || !/^[+\d\s().\-/]+$/.test(text)) return { ok: false, reason: 'invalid' }
  const typed =
    tryParse(text, rules.defaultRegion) ??
    tryParse(withoutLegacyMexicanPrefix(text), rules.defaultRegion)
  if (!typed) return { ok: false, reason: 'invalid' }
  const { parsed, type } = typed
  const region = parsed.country
  if (!region || !rules.allowedRegions.includes(region)) return { ok: false, reason: 'region' }
  if (!SMS_TYPES.has(type)) return { ok: false, reason: 'notMobile' }
  // The code page shows the number right after: format it now, from the parse already done.
  remember(parsed.number, parsed.formatInternational())
  return { ok: true, e164: parsed.number, region }
}

/**
 * The number as typed, without what phones add when a number is copied from Contacts: iOS wraps
 * it in U+202D … U+202C, others add isolates (U+2066–2069), LRM/RLM, zero-width or no-break
 * spaces. By property: format characters (Cf) go, any space (Zs) is a space, any dash (Pd) is a
 * hyphen; NFKC first turns full-width digits into ASCII ones. Controls (Cc) stay and are refused.
 */
function withoutFormatting(input: string): string {
  // What people type (digits, spaces, + ( ) - . /) is already what the rest would make of it.
  if (PLAIN.test(input)) return input.trim()
  return input
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{Zs}/gu, ' ')
    .replace(/\p{Pd}/gu, '-')
    .trim()
}

const PLAIN = /^[\d +().\-/]*$/

/**
 * The number and its type, or null when it is not a valid one. With the full ("max") metadata
 * every region has its types, and libphonenumber's isValid() is "has a type" (isValid.js): the
 * type is worked out once, not twice (its regular expressions were 5 µs of a 20 µs parse).
 */
function tryParse(text: string, region: string) {
  try {
    const parsed = parsePhoneNumberWithError(text, region as CountryCode)
    const type = parsed.getType()
    return type === undefined ? null : { parsed, type }
  } catch {
    return null
  }
}

/**
 * Mexico dropped the mobile "1" after +52 and the 044/045 prefixes in 2019, but people still
 * type them; libphonenumber's metadata now calls such numbers invalid. Strip them.
 */
function withoutLegacyMexicanPrefix(text: string): string {
  const digits = text.replace(/[^\d+]/g, '')
  const intl = /^(?:\+|00)521(\d{10})$/.exec(digits)
  if (intl) return `+52${intl[1]}`
  const national = /^04[45](\d{10})$/.exec(digits)
  if (national) return `+52${national[1]}`
  return text
}

/** Numbers recently shown, by E.164: a login's code page and its verify show the same one. */
const shown = new Map<string, string>()
const SHOWN_MAX = 1000

function remember(e164: string, display: string): string {
  if (shown.size >= SHOWN_MAX) shown.delete(shown.keys().next().value!)
  shown.set(e164, display)
  return display
}

/** The number as shown back to the customer: "+52 55 1234 5678". */
export function displayPhone(e164: string): string {
  const known = shown.get(e164)
  if (known !== undefined) return known
  try {
    return remember(e164, parsePhoneNumberWithError(e164).formatInternational())
  } catch {
    return e164
  }
}

/** A phone number for logs: country code and last two digits only. */
export function maskPhone(e164: string): string {
  return e164.length > 6 ? `${e164.slice(0, 3)}…${e164.slice(-2)}` : '…'
}
