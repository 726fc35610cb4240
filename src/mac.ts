/** A MAC address in canonical form: six lower-case hex pairs joined by colons. */
export type Mac = string & { readonly __brand: 'Mac' }

const MAC_RE = /^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i

/** Returns the canonical MAC, or null when the text is not a unicast MAC address. */
export function parseMac(text: string): Mac | null {
  const trimmed = text.trim()
  if (!MAC_RE.test(trimmed)) return null
  const hex = trimmed.replace(/[:-]/g, '').toLowerCase()
  if (hex === '000000000000') return null
  // Multicast/broadcast (group bit set) can never be a client.
  if (parseInt(hex.slice(0, 2), 16) & 1) return null
  return hex.match(/../g)!.join(':') as Mac
}
