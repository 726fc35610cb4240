import type { OsFamily } from '../db/arrivals.js'

/**
 * The OS family of the phone or computer behind a User-Agent, for the console's figures only:
 * never identity (the MAC comes from the kernel). Captive sheets send their system's browser
 * engine's UA (iOS: "iPhone OS 18_0 like Mac OS X", Android's WebView: "Linux; Android 15; … wv").
 * iPadOS 13+ says "Macintosh" like a Mac: counted as macOS, as nothing in the UA tells them apart.
 */
export function osFamilyOf(userAgent: string | undefined): OsFamily {
  const ua = userAgent ?? ''
  if (/\b(iPhone|iPad|iPod)\b|CaptiveNetworkSupport/.test(ua)) return 'ios'
  if (/\bAndroid\b/.test(ua)) return 'android'
  if (/\bCrOS\b/.test(ua)) return 'chromeos'
  if (/\bWindows\b/.test(ua)) return 'windows'
  if (/\bMac OS X\b|\bMacintosh\b/.test(ua)) return 'macos'
  if (/\bLinux\b|\bX11\b/.test(ua)) return 'linux'
  return 'other'
}
