import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { challengeOf, PHONE_IP, portalHarness, tempDir, wireApp } from './helpers.js'

let h: ReturnType<typeof portalHarness>
afterEach(() => h?.close())

async function signIn(hh: typeof h, p: { phone: string; marketing: boolean; name?: string }) {
  const fields: Record<string, string> = {
    name: p.name ?? 'Ana López',
    phone: p.phone,
    consent: 'yes',
  }
  if (p.marketing) fields.marketing = 'yes'
  const page = await hh.post('/login', fields)
  const challenge = challengeOf(await page.text())
  const e164 = `+52${p.phone.replace(/\D/g, '')}`
  const done = await hh.post('/verify', { challenge, code: hh.sms.lastCodeTo(e164) })
  expect(done.status).toBe(200)
}

const withdrawn = (hh: typeof h) =>
  hh.db
    .prepare(`SELECT type, payload FROM outbox_events WHERE type = 'consent.withdrawn'`)
    .all() as Array<{ type: string; payload: string }>

describe('withdrawal as easy as consent', () => {
  it('"Ya no quiero recibir promociones" needs the SMS code and answers the same for any number', async () => {
    h = portalHarness()
    await signIn(h, { phone: '55 1234 5678', marketing: true })
    const pages: string[] = []
    for (const phone of ['55 1234 5678', '55 8765 4321']) {
      h.clock.advance({ minutes: 1 }) // the login's own "send again" wait per device
      const form = await h.request('/promociones')
      expect(await form.text()).toContain('Ya no quiero recibir promociones')
      const code = await h.post('/promociones', { phone })
      const html = await code.text()
      expect(code.status, html.match(/role="alert"[^>]*>([^<]*)/)?.[1]).toBe(200)
      expect(html).toContain('action="/promociones/verificar"')
      const challenge = challengeOf(html)
      // A wrong code withdraws nothing.
      const had = withdrawn(h).length
      expect((await h.post('/promociones/verificar', { challenge, code: '000000' })).status).toBe(
        422,
      )
      expect(withdrawn(h)).toHaveLength(had)
      const e164 = `+52${phone.replace(/\D/g, '')}`
      const done = await h.post('/promociones/verificar', {
        challenge,
        code: h.sms.lastCodeTo(e164),
      })
      expect(done.status).toBe(200)
      pages.push((await done.text()).replace(/name="challenge" value="[^"]+"/g, ''))
    }
    // The customer's number and a stranger's get the very same page: nothing is learned.
    expect(pages[0]).toBe(pages[1])
    expect(pages[0]).toContain('Este número ya no recibirá promociones')
    const events = withdrawn(h)
    expect(events).toHaveLength(1)
    expect(JSON.parse(events[0]!.payload)).toEqual({
      phone: '+525512345678',
      consent: expect.objectContaining({ purposes: ['marketing'], via: 'portal' }),
    })
    expect(
      h.db
        .prepare(`SELECT withdrawn_at FROM consents WHERE purposes LIKE '%marketing%'`)
        .pluck()
        .get(),
    ).toBeGreaterThan(0)
    expect(
      h.db.prepare(`SELECT reason FROM audit_log WHERE action = 'consent.withdraw'`).pluck().all(),
    ).toEqual(['portal'])
  })

  it('shares the login’s limits: codes for a number count together, and the page keeps what was typed', async () => {
    h = portalHarness()
    await signIn(h, { phone: '55 1234 5678', marketing: true })
    for (let i = 0; i < 2; i++) {
      h.clock.advance({ seconds: 31 })
      expect((await h.post('/promociones', { phone: '55 1234 5678' })).status).toBe(200)
    }
    h.clock.advance({ seconds: 31 })
    const refused = await h.post('/promociones', { phone: '55 1234 5678' })
    expect(refused.status).toBe(429)
    const html = await refused.text()
    expect(html).toContain('Ya enviamos varios códigos a este número')
    expect(html).toContain('value="55 1234 5678"')
    expect(h.sms.sent).toHaveLength(3)
    // A number that is nobody's gets the very same refusal after as many codes.
    for (let i = 0; i < 3; i++) {
      h.clock.advance({ seconds: 31 })
      await h.post('/promociones', { phone: '55 8765 4321' })
    }
    h.clock.advance({ seconds: 31 })
    const stranger = await h.post('/promociones', { phone: '55 8765 4321' })
    expect(stranger.status).toBe(429)
    expect((await stranger.text()).replaceAll('8765 4321', '1234 5678')).toBe(html)
    // A number that is not a phone number: one sentence, kept, nothing sent.
    h.clock.advance({ seconds: 31 })
    const bad = await h.post('/promociones', { phone: '12' })
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('value="12"')
    expect(h.sms.sent).toHaveLength(6)
  })

  it('an opt-out code never lets a device through, and a login code never stops promotions', async () => {
    h = portalHarness()
    const code = await h.post('/promociones', { phone: '55 1234 5678' })
    const challenge = challengeOf(await code.text())
    const res = await h.post('/verify', { challenge, code: h.sms.lastCodeTo('+525512345678') })
    expect(res.status).toBe(410)
    expect(h.db.prepare(`SELECT COUNT(*) FROM authorizations`).pluck().get()).toBe(0)
  })

  it('offers to stop promotions on the welcome-back page, in one tap', async () => {
    h = portalHarness()
    await signIn(h, { phone: '55 1234 5678', marketing: true })
    h.clock.advance({ hours: 30 })
    const back = await (await h.request('/')).text()
    expect(back).toContain('Bienvenido de nuevo')
    expect(back).toContain('action="/welcome-back/opt-out"')
    const res = await h.post('/welcome-back/opt-out', {})
    const html = await res.text()
    expect(html).toContain('ya no te enviaremos promociones')
    expect(html).not.toContain('action="/welcome-back/opt-out"')
    expect(withdrawn(h)).toHaveLength(1)
  })
})

describe('the notice in two layers', () => {
  it('serves the full notice before login, in Spanish and English, with its version', async () => {
    h = portalHarness({ privacy: { noticeVersion: '2026-05' } })
    const splash = await (await h.request('/')).text()
    expect(splash).toContain('href="/aviso-de-privacidad"')
    const es = await (await h.request('/aviso-de-privacidad')).text()
    expect(es).toContain('Versión 2026-05')
    expect(es).toContain('Tus derechos')
    const en = await (await h.request('/aviso-de-privacidad?lang=en')).text()
    expect(en).toContain('Version 2026-05')
    expect(en).toContain('Your rights')
  })

  it('serves the operator’s own notice from a file or from the config, escaped, and builds a language left out', async () => {
    const dir = tempDir('branchgate-notice-')
    try {
      const file = path.join(dir.dir, 'aviso-es.txt')
      writeFileSync(file, 'Aviso de Banco <Ejemplo>.\r\n\r\nSegundo párrafo del aviso.\n')
      h = portalHarness({ privacy: { noticeVersion: '2026-09', fullNoticeFiles: { es: file } } })
      const es = await (await h.request('/aviso-de-privacidad')).text()
      expect(es).toContain('Aviso de Banco &lt;Ejemplo&gt;.')
      expect(es).toContain('Segundo párrafo del aviso.')
      expect(es).toContain('2026-09')
      expect(es).not.toContain('<Ejemplo>')
      // English was not given: it is built from the configuration, in English.
      const en = await (await h.request('/aviso-de-privacidad?lang=en')).text()
      expect(en).toContain('Version 2026-09')
      expect(en).toContain('Your rights')
      expect(en).not.toContain('Banco')
      h.close()
      h = portalHarness({ privacy: { fullNotice: { en: 'Notice of Example Bank.' } } })
      expect(await (await h.request('/aviso-de-privacidad?lang=en')).text()).toContain(
        'Notice of Example Bank.',
      )
      expect(await (await h.request('/aviso-de-privacidad')).text()).toContain('Tus derechos')
      h.close()
      // Spanish alone as text: English is still built in English, not the Spanish text again.
      h = portalHarness({ privacy: { fullNotice: { es: 'Aviso del Banco Ejemplo.' } } })
      const onlyEs = await (await h.request('/aviso-de-privacidad?lang=en')).text()
      expect(onlyEs).toContain('Your rights')
      expect(onlyEs).not.toContain('Aviso del Banco Ejemplo.')
    } finally {
      dir.remove()
    }
  })

  it('asks a returning customer to accept a new version of the notice on their next visit', async () => {
    h = portalHarness({ privacy: { noticeVersion: '2026-01' } })
    await signIn(h, { phone: '55 1234 5678', marketing: true })
    h.clock.advance({ hours: 30 })
    expect(await (await h.request('/')).text()).not.toContain('name="accept"')
    // The operator publishes version 2026-07: the same database, the service restarted.
    const config = loadConfig(
      JSON.stringify({ dataDir: h.config.dataDir, privacy: { noticeVersion: '2026-07' } }),
    )
    const app = wireApp({ ...h, config, log: () => {} })
    const request = (p: string, init: RequestInit = {}) =>
      app.portal.request(p, init, { incoming: { socket: { remoteAddress: PHONE_IP } } })
    const post = (p: string, fields: Record<string, string>) =>
      request(p, {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    const back = await (await request('/')).text()
    expect(back).toContain('Actualizamos nuestro aviso de privacidad.')
    expect(back).toContain('name="accept"')
    // Not accepted: not let through, asked again with one sentence.
    const refused = await post('/welcome-back', {})
    expect(refused.status).toBe(422)
    expect(await refused.text()).toContain('marca que aceptas el aviso actualizado')
    const live = () =>
      h.db
        .prepare(`SELECT COUNT(*) FROM authorizations WHERE ended_at IS NULL AND ends_at > @now`)
        .pluck()
        .get({ now: h.clock.now() })
    expect(live()).toBe(0)
    const ok = await post('/welcome-back', { accept: 'yes' })
    expect(ok.status).toBe(200)
    expect(live()).toBe(1)
    const consents = h.db.prepare(`SELECT notice_version, purposes FROM consents ORDER BY id`).all()
    expect(consents.at(-1)).toEqual({
      notice_version: '2026-07',
      purposes: '["service","marketing"]',
    })
    const given = h.db
      .prepare(`SELECT payload FROM outbox_events WHERE type = 'consent.given' ORDER BY seq DESC`)
      .pluck()
      .get() as string
    expect(JSON.parse(given).consent.noticeVersion).toBe('2026-07')
    expect(await (await request('/')).text()).not.toContain('name="accept"')
  })
})
