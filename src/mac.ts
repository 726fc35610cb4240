/** A MAC address in canonical form: six lower-case hex pairs joined by colons. */
export type Mac = string & { readonly __brand: 'Mac' }

const MAC_RE = /^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i

const CANONICAL_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/

/** Returns the canonical MAC, or null when the text is not a unicast MAC address. */
export function parseMac(text: string): Mac | null {
  // The kernel and nft write MACs canonically: thousands per presence sweep, no copies needed.
  if (CANONICAL_RE.test(text)) {
    if (text === '00:00:00:00:00:00' || parseInt(text.slice(0, 2), 16) & 1) return null
    return text as Mac
  }
  const trimmed = text.trim()
  if (!MAC_RE.test(trimmed)) return null
  const hex = trimmed.replace(/[:-]/g, '').toLowerCase()
  if (hex === '000000000000') return null
  // Multicast/broadcast (group bit set) can never be a client.
  if (parseInt(hex.slice(0, 2), 16) & 1) return null
  return hex.match(/../g)!.join(':') as Mac
}
