import { describe, expect, it } from 'vitest'
import { benchAddress, benchMac, benchNational } from '../bench/bench-phones.js'
import { parsePhone } from '../src/customers/phone.js'
import { parseMac } from '../src/mac.js'

const MX = { defaultRegion: 'MX', allowedRegions: ['MX'] }

describe('the bench phones', () => {
  it('gives every login a valid Mexican mobile number of 10 digits, past 9,999 logins and for any count', () => {
    // 9,999 and 10,000: where the old generator's national number grew to 11 digits (422).
    const ns = [0, 1, 9_999, 10_000, 10_001, 63_750, 99_999_999, 100_000_000, 123_456_789]
    for (let n = 0; n < 200_000; n += 997) ns.push(n)
    for (const n of ns) {
      const national = benchNational(n)
      expect(national).toMatch(/^55\d{8}$/)
      const parsed = parsePhone(national, MX)
      expect(parsed, `${n} -> ${national}`).toMatchObject({ ok: true, e164: `+52${national}` })
    }
  })

  it('never repeats a number or an address, nor the MAC it maps to, over 70,000 logins (past 63,750, where the old addresses left 127.0.0.0/16)', () => {
    const numbers = new Set<string>()
    const addresses = new Set<string>()
    const macs = new Set<string>()
    for (let n = 0; n < 70_000; n++) {
      numbers.add(benchNational(n))
      const ip = benchAddress(n)
      addresses.add(ip)
      macs.add(benchMac(ip))
    }
    expect([numbers.size, addresses.size, macs.size]).toEqual([70_000, 70_000, 70_000])
  })

  it('keeps addresses inside 127.0.0.0/8, away from .0, .1, .255 and the server’s 127.0.0.1, with a MAC the portal reads', () => {
    for (const n of [0, 63_749, 63_750, 62_500 * 255, 62_500 * 256 - 1]) {
      const ip = benchAddress(n)
      const [a, w, x, y] = ip.split('.').map(Number)
      expect(a).toBe(127)
      expect(w).toBeGreaterThanOrEqual(0)
      expect(w).toBeLessThanOrEqual(255)
      expect(x).toBeGreaterThanOrEqual(1)
      expect(x).toBeLessThanOrEqual(250)
      expect(y).toBeGreaterThanOrEqual(2)
      expect(y).toBeLessThanOrEqual(251)
      expect(parseMac(benchMac(ip))).toBeTruthy()
    }
  })
})
