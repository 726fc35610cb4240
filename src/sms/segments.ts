import type { Config } from '../config.js'
import { LOCALES } from '../i18n/messages.js'
import { composeCodeText } from './sender.js'

/** GSM 03.38 default alphabet (one septet each). Note: é is in it, á í ó ú are not. */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
    '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
)
/** GSM 03.38 extension table: escape + character, two septets each. */
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€')

export interface SegmentCount {
  encoding: 'GSM-7' | 'UCS-2'
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text. */
  units: number
  /** SMS messages the text is billed as: 160/153 septets or 70/67 code units per part. */
  segments: number
  /** Characters that forced UCS-2 (empty for GSM-7). */
  nonGsm: string[]
}

/** How many SMS segments a text takes, counted the way operators bill it. */
export function countSegments(text: string): SegmentCount {
  const chars = Array.from(text)
  const nonGsm = [...new Set(chars.filter((c) => !GSM7_BASIC.has(c) && !GSM7_EXTENSION.has(c)))]
  if (nonGsm.length === 0) {
    const sizes = chars.map((c) => (GSM7_EXTENSION.has(c) ? 2 : 1))
    return { encoding: 'GSM-7', nonGsm, ...pack(sizes, 160, 153) }
  }
  // Astral characters (emoji) take two UTF-16 units and are never split across parts.
  const sizes = chars.map((c) => c.length)
  return { encoding: 'UCS-2', nonGsm, ...pack(sizes, 70, 67) }
}

/** Units and parts: one part up to `single`, else parts of `multi` without splitting a character. */
function pack(sizes: number[], single: number, multi: number): { units: number; segments: number } {
  const units = sizes.reduce((a, b) => a + b, 0)
  if (units <= single) return { units, segments: 1 }
  let segments = 1
  let used = 0
  for (const s of sizes) {
    if (used + s > multi) {
      segments++
      used = 0
    }
    used += s
  }
  return { units, segments }
}

/**
 * One warning per locale whose code message needs more than one segment, filled with this
 * branch's name, a code of the configured length, and the portal host. Logged at start.
 */
export function templateWarnings(config: Config): string[] {
  const out: string[] = []
  const host = new URL(config.publicUrl).hostname
  for (const locale of LOCALES) {
    const text = composeCodeText({
      locale,
      branchName: config.branch.name,
      code: '0'.repeat(config.otp.digits),
      ttlMinutes: Math.round(config.otp.ttlSeconds / 60),
      portalHost: host,
      template: config.sms.templates[locale],
    })
    const c = countSegments(text)
    if (c.segments < 2) continue
    const limit = c.encoding === 'GSM-7' ? 160 : 70
    const why =
      c.encoding === 'UCS-2'
        ? ` because of ${c.nonGsm.map((ch) => JSON.stringify(ch)).join(' ')}`
        : ''
    out.push(
      `sms: warning: the ${locale} code message needs ${c.segments} SMS segments ` +
        `(${c.encoding}${why}, ${c.units} of ${limit} characters); every code is billed ${c.segments} times. ` +
        `Shorten sms.templates.${locale}${c.encoding === 'UCS-2' ? ' or drop those characters' : ''}.`,
    )
  }
  return out
}
