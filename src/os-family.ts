/**
 * The one reader of a device's operating-system family from its User-Agent (the console's
 * figures and, mapped to their smaller set, the metrics' labels). Never identity: the MAC comes
 * from the kernel. Captive sheets and probes send their system's own User-Agent (iOS: "iPhone OS
 * 18_0 like Mac OS X" or "CaptiveNetworkSupport-… wispr"; Android's WebView "Linux; Android 15;
 * … wv", its probe "Dalvik/2.1.0"; Windows' probe "Microsoft NCSI").
 */

export type OsFamily = 'ios' | 'android' | 'windows' | 'macos' | 'chromeos' | 'linux' | 'other'

/**
 * What each family is told by, tried in this order, the first match wins: Apple's phones before
 * macOS (an iPhone says "like Mac OS X"); Android before Windows (some Windows phones said
 * "Android") and before Linux (Android says "Linux"); ChromeOS before Linux (it says "X11").
 * iPadOS 13+ says "Macintosh" like a Mac: counted as macOS, as nothing in the UA tells them apart;
 * "Darwin" alone (an app's CFNetwork) likewise.
 */
export const OS_TABLE: readonly (readonly [OsFamily, RegExp])[] = [
  ['ios', /\b(iPhone|iPad|iPod)\b|CaptiveNetworkSupport/],
  ['android', /\bAndroid\b|\bDalvik\b/],
  ['chromeos', /\bCrOS\b/],
  ['windows', /\bWindows\b|Microsoft NCSI/],
  ['macos', /\bMac OS X\b|\bMacintosh\b|\bDarwin\b/],
  ['linux', /\bLinux\b|\bX11\b/],
]

/** Every family, in the order the console lists them (`other` last). */
export const OS_FAMILIES: readonly OsFamily[] = [
  'ios',
  'android',
  'windows',
  'macos',
  'chromeos',
  'linux',
  'other',
]

/** The family of the device behind a User-Agent; none or an unknown one is `other`. */
export function osFamilyOf(userAgent: string | undefined): OsFamily {
  const ua = userAgent ?? ''
  for (const [family, re] of OS_TABLE) if (re.test(ua)) return family
  return 'other'
}
