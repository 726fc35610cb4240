import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { accessStatements, LIVE_AUTHORIZATION_SQL } from '../src/db/access.js'
import { closeDb, openDb } from '../src/db/open.js'
import { t } from '../src/i18n/messages.js'
import { PHONE_MAC, portalHarness, tempDir } from './helpers.js'

// Issue 20: what the portal's CPU profile showed on every request, kept cheap. (Speed itself is
// measured in `npm run bench -- portal`, never in a test.)

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

function db() {
  const t = tempDir()
  const d = openDb(path.join(t.dir, 'branchgate.db'))
  cleanups.push(() => {
    closeDb(d)
    t.remove()
  })
  return d
}

/** A grant as the CLI's `allow` makes it, from `now` to `until`. */
const manualAllow = (mac: string, now: number, until: number) => ({
  mac,
  customerId: null,
  now,
  until,
  reason: 'manual-allow',
  tier: 'manual',
  downKbps: null,
  upKbps: null,
  slowed: false,
  notice: false,
  extensions: 0,
  passId: null,
})

describe('the portal per request', () => {
  it("reads a device's live authorization in the index's order, without sorting", () => {
    const d = db()
    const plan = d
      .prepare(`EXPLAIN QUERY PLAN ${LIVE_AUTHORIZATION_SQL}`)
      .all({ mac: '02:00:00:00:00:01', now: 0 })
      .map((r) => (r as { detail: string }).detail)
      .join('; ')
    expect(plan).toContain('authorizations_live')
    expect(plan).not.toContain('TEMP B-TREE')
  })

  it('answers the newest live authorization of a MAC, and none once it ended or ran out', () => {
    const a = accessStatements(db())
    const grant = (now: number, until: number, tier: string) =>
      a.grant({ ...manualAllow('02:00:00:00:00:01', now, until), reason: 'login', tier })
    grant(1_000, 5_000, 'unverified')
    grant(2_000, 9_000, 'verified')
    expect(a.live('02:00:00:00:00:01', 3_000)).toMatchObject({ tier: 'verified', ends_at: 9_000 })
    expect(a.live('02:00:00:00:00:02', 3_000)).toBeUndefined()
    expect(a.live('02:00:00:00:00:01', 9_000)).toBeUndefined()
    a.endFor('02:00:00:00:00:01', 3_000, 'revoked')
    expect(a.live('02:00:00:00:00:01', 3_000)).toBeUndefined()
  })

  it('sees a MAC let through by another connection (the CLI, another process) at once, the WAL index header mapped', () => {
    const t = tempDir()
    const file = path.join(t.dir, 'branchgate.db')
    const service = openDb(file)
    const cli = openDb(file)
    let open = true
    cleanups.push(() => {
      closeDb(cli)
      if (open) closeDb(service)
      t.remove()
    })
    const mine = accessStatements(service)
    const theirs = accessStatements(cli)
    const mac = '02:00:00:00:00:08'
    const grant = (now: number) => theirs.grant(manualAllow(mac, now, now + 8_000))
    // Before the file exists at its full size (no write yet), and after.
    expect(mine.live(mac, 500)).toBeUndefined()
    for (const now of [1_000, 20_000, 40_000]) {
      expect(mine.live(mac, now)).toBeUndefined()
      grant(now)
      expect(mine.live(mac, now + 1)).toMatchObject({ tier: 'manual', ends_at: now + 8_000 })
      theirs.endFor(mac, now + 2, 'revoke')
      expect(mine.live(mac, now + 3)).toBeUndefined()
    }
    // The mapping is let go with the connection; the set answers nothing more.
    closeDb(service)
    open = false
    expect(() => mine.live(mac, 50_000)).toThrow(/not open/)
  })

  it('sees a MAC let through by another connection (the CLI, another process) from the next turn of the event loop, the header read by pread', async () => {
    const t = tempDir()
    const file = path.join(t.dir, 'branchgate.db')
    const service = openDb(file)
    const cli = openDb(file)
    cleanups.push(() => {
      closeDb(cli)
      closeDb(service)
      t.remove()
    })
    const mine = accessStatements(service, { mapWalIndex: false })
    const theirs = accessStatements(cli)
    const mac = '02:00:00:00:00:07'
    // Known to have nothing live: the set is read now, before the other connection writes.
    expect(mine.live(mac, 1_000)).toBeUndefined()
    theirs.grant(manualAllow(mac, 1_000, 9_000))
    // The WAL header was looked at in this turn: the commit shows from the next one.
    expect(mine.live(mac, 2_000)).toBeUndefined()
    await new Promise(setImmediate)
    expect(mine.live(mac, 2_000)).toMatchObject({ tier: 'manual', ends_at: 9_000 })
    theirs.endFor(mac, 3_000, 'revoke')
    expect(mine.live(mac, 3_000)).toBeUndefined()
  })

  it('shows the online page to the next request of a phone let through by another connection, and the splash once it is revoked', async () => {
    const h = portalHarness()
    const cli = openDb(path.join(h.config.dataDir, 'branchgate.db'))
    cleanups.push(() => {
      closeDb(cli)
      h.close()
    })
    const splash = await (await h.request('/')).text()
    expect(splash).toContain('action="/login"')
    const theirs = accessStatements(cli)
    theirs.grant(manualAllow(PHONE_MAC, h.clock.now(), h.clock.now() + 3_600_000))
    // Seen at the very next request (the WAL index header is mapped: no turn to wait for).
    const online = await (await h.request('/')).text()
    expect(online).toContain(t('es', 'online.title'))
    expect(online).not.toContain('action="/login"')
    theirs.endFor(PHONE_MAC, h.clock.now(), 'revoke')
    expect(await (await h.request('/')).text()).toContain('action="/login"')
  })

  it("fills each call's own placeholders and regional forms (t() keeps each text once)", () => {
    expect(t('es', 'welcome.title.returning', { name: 'Ana' })).toBe('¡Hola de nuevo, Ana!')
    expect(t('es', 'welcome.title.returning', { name: 'Luis' })).toBe('¡Hola de nuevo, Luis!')
    expect(t('es', 'welcome.title.returning')).toBe('¡Hola de nuevo, {name}!')
    expect(t('es', 'splash.phone.hint', {}, 'ES')).toBe('Nueve cifras, por ejemplo 612 34 56 78.')
    expect(t('es', 'splash.phone.hint', {}, 'MX')).toBe('A 10 dígitos, por ejemplo 55 1234 5678.')
    expect(t('es', 'splash.phone.hint')).toBe('A 10 dígitos, por ejemplo 55 1234 5678.')
    expect(t('en', 'no.such.key')).toBe(t('en', 'error.unexpected'))
  })
})
