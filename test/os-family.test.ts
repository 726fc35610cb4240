import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { OS_GROUP_OF, OS_GROUPS, osGroupOfUserAgent } from '../src/observe/labels.js'
import { OS_FAMILIES, osFamilyOf, type OsFamily } from '../src/os-family.js'

/** User-Agents of captive sheets, probes and browsers, with the family each must read as. */
const SEEN: [string | undefined, OsFamily][] = [
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
    'ios',
  ],
  ['CaptiveNetworkSupport-481.80.1 wispr', 'ios'],
  ['Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15', 'ios'],
  [
    'Mozilla/5.0 (Linux; Android 15; Pixel 8 Build/AP3A; wv) AppleWebKit/537.36 Chrome/131.0 Mobile',
    'android',
  ],
  ['Dalvik/2.1.0 (Linux; U; Android 14; SM-A546B Build/UP1A)', 'android'],
  ['Dalvik/2.1.0', 'android'],
  [
    'Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) Edge/15.15063',
    'android',
  ],
  ['Mozilla/5.0 (X11; CrOS x86_64 15917.71.0) AppleWebKit/537.36 Chrome/131.0', 'chromeos'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0', 'windows'],
  ['Microsoft NCSI', 'windows'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15', 'macos'],
  ['Captive%20Network%20Assistant/1 CFNetwork/1494 Darwin/23.4.0', 'macos'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'linux'],
  ['NetworkManager/1.46.0', 'other'],
  ['curl/8.5.0', 'other'],
  ['', 'other'],
  [undefined, 'other'],
]

describe('the OS family of a device', () => {
  it.each(SEEN)('reads %j as %s', (ua, family) => {
    expect(osFamilyOf(ua)).toBe(family)
  })

  it("gives the metrics the console's family folded into their four groups, for every User-Agent", () => {
    for (const [ua] of SEEN) expect(osGroupOfUserAgent(ua), ua).toBe(OS_GROUP_OF[osFamilyOf(ua)])
    // Every family has a group, and the groups are the label set and nothing else.
    expect(Object.keys(OS_GROUP_OF).sort()).toEqual([...OS_FAMILIES].sort())
    expect([...new Set(Object.values(OS_GROUP_OF))].sort()).toEqual([...OS_GROUPS].sort())
  })

  it('is read from the User-Agent in one place only', () => {
    // No module but src/os-family.ts matches text against an OS's name: a second reader drifts.
    const src = path.resolve(import.meta.dirname, '../src')
    const others = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== 'os-family.ts')
      .filter((f) =>
        /\/[^/\n]*(iPhone|Android|Macintosh|Windows)[^/\n]*\/\.test\(/.test(
          readFileSync(path.join(src, f), 'utf8'),
        ),
      )
    expect(others).toEqual([])
  })
})
