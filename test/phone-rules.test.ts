import { describe, expect, it } from 'vitest'
import { parsePhone } from '../src/portal/phone.js'

const MX = { defaultRegion: 'MX', allowedRegions: ['MX'] }

describe('phone rules', () => {
  it.each([
    ['55 1234 5678'],
    ['+52 1 55 1234 5678'],
    ['(55) 1234-5678'],
    ['5512345678'],
    ['+52 55 1234 5678'],
    ['044 55 1234 5678'],
    ['0052 1 55 1234 5678'],
    ['５５１２３４５６７８'],
  ])('reads %s as +525512345678', (typed) => {
    expect(parsePhone(typed, MX)).toEqual({
      ok: true,
      e164: '+525512345678',
      region: 'MX',
    })
  })

  it('asks for a number when nothing was typed', () => {
    expect(parsePhone('   ', MX)).toEqual({ ok: false, reason: 'required' })
  })

  it.each([
    ['abc'],
    ['12'],
    ['55 1234 567'],
    ['55 1234 56789 0'],
    ['+52 55 1234 5678 ext 3'],
    ['x'.repeat(500)],
    ['55\u0000 1234 5678'],
  ])('refuses %j as invalid', (typed) => {
    expect(parsePhone(typed, MX)).toEqual({ ok: false, reason: 'invalid' })
  })

  it('refuses a number from a region that is not allowed', () => {
    expect(parsePhone('+1 212 555 0123', MX)).toEqual({ ok: false, reason: 'region' })
    expect(parsePhone('+34 612 345 678', MX)).toEqual({ ok: false, reason: 'region' })
  })

  it('accepts another region once it is allowed', () => {
    const rules = { defaultRegion: 'MX', allowedRegions: ['MX', 'ES'] }
    expect(parsePhone('+34 612 345 678', rules)).toMatchObject({
      ok: true,
      e164: '+34612345678',
      region: 'ES',
    })
  })

  it('refuses numbers that cannot receive SMS: toll-free, premium rate and landlines', () => {
    expect(parsePhone('800 123 4567', MX)).toEqual({ ok: false, reason: 'notMobile' })
    expect(parsePhone('900 123 4567', MX)).toEqual({ ok: false, reason: 'notMobile' })
    // Spain still tells landlines from mobiles in its numbering plan.
    expect(parsePhone('+34 912 345 678', { defaultRegion: 'ES', allowedRegions: ['ES'] })).toEqual({
      ok: false,
      reason: 'notMobile',
    })
  })
})
