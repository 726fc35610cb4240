import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeDb, openDb } from '../src/db/open.js'
import { outboxStatements } from '../src/db/outbox.js'
import { tempDir } from './helpers.js'
import { CLI_ARGS, ROOT } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

/** `branchgate doctor --json` (the compiled command) on a config in a temp folder. */
function doctorJson(config: Record<string, unknown>, prepare?: (dbFile: string) => void) {
  const t = tempDir()
  cleanups.push(t.remove)
  const file = path.join(t.dir, 'branchgate.json')
  writeFileSync(file, JSON.stringify({ dataDir: t.dir, ...config }))
  const dbFile = path.join(t.dir, 'branchgate.db')
  if (prepare) {
    closeDb(openDb(dbFile))
    prepare(dbFile)
  }
  const run = spawnSync(process.execPath, [...CLI_ARGS, 'doctor', '--json', '--config', file], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { status: run.status, report: JSON.parse(run.stdout), stderr: run.stderr }
}

describe('branchgate doctor --json', () => {
  it("gives doctor's findings and the branch's readiness as one JSON document", () => {
    const { status, report } = doctorJson({ branch: { id: 'mx-001' } }, () => {})
    expect(status).toBe(1) // dry-run is a finding: nobody is really let through
    expect(report).toMatchObject({
      ok: false,
      branch: 'mx-001',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      readiness: {
        status: 'ready',
        branch: 'mx-001',
        checks: {
          database: { ok: true },
          gate: { ok: true, detail: 'dry-run: nobody is really let through (demo)' },
          providers: { ok: true },
          sync: { ok: true },
        },
      },
    })
    expect(report.findings).toContainEqual({
      check: 'gate',
      ok: false,
      detail: 'dry-run: nobody is really let through (demo)',
      fix: 'set gate.backend to "nftables" with gate.guestInterface in the config file',
    })
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'database', ok: true }))
  })

  it('says what is degraded: events the CRM refused', () => {
    const webhook = {
      type: 'webhook',
      url: 'http://127.0.0.1:9/hook',
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    }
    const { report } = doctorJson({ sync: { adapter: webhook } }, (dbFile) => {
      const db = openDb(dbFile)
      const o = outboxStatements(db)
      o.insert({
        id: 'evt_1',
        type: 'customer.verified',
        branchId: 'demo',
        schemaVersion: 1,
        occurredAt: Date.now(),
        subject: null,
        payload: '{}',
      })
      o.park(1, 'refused', null, Date.now())
      closeDb(db)
    })
    expect(report.readiness.status).toBe('degraded')
    expect(report.readiness.checks.sync).toEqual({
      ok: false,
      detail: '1 event(s) parked (refused by the CRM)',
    })
  })

  it('reports a broken config as JSON too, with exit status 2', () => {
    const { status, report } = doctorJson({ otp: { digits: 12 } })
    expect(status).toBe(2)
    expect(report).toMatchObject({ ok: false, branch: null, readiness: null })
    expect(report.findings[0].detail).toContain('otp.digits must be between 4 and 8, got 12')
  })
})
