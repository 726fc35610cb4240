import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cli } from '../src/cli.js'
import { closeDb, openDb } from '../src/db/open.js'
import { loadConfig } from '../src/config.js'
import { createServiceMetrics } from '../src/observe/observer.js'
import { BUILD } from '../src/version.js'
import { tempDir } from './helpers.js'
import { startService, until } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

function folder() {
  const t = tempDir()
  cleanups.push(t.remove)
  return t.dir
}

async function run(argv: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = []
  const err: string[] = []
  const code = await cli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const customers = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare('SELECT name FROM customers ORDER BY name').all() as any[]).map(
      (r) => r.name,
    )
  } finally {
    db.close()
  }
}
const addCustomer = (file: string, name: string, phone: string) => {
  const db = openDb(file)
  // Verified now: a customer last seen in 1970 is past every retention period, and the running
  // service's retention job (privacy, issue 15) would empty its name.
  const now = Date.now()
  db.prepare(
    `INSERT INTO customers (phone_e164, name, locale, first_verified_at, last_verified_at, updated_at) VALUES (?, ?, 'es', ?, ?, ?)`,
  ).run(phone, name, now, now, now)
  closeDb(db)
}

describe('branchgate backup and restore', () => {
  it('copies a consistent database while another process commits pairs of rows without pause', async () => {
    const data = folder()
    const file = path.join(data, 'branchgate.db')
    const db = openDb(file)
    db.exec('CREATE TABLE pairs (x INTEGER)')
    closeDb(db)
    // Each transaction writes two rows: a torn copy would hold an odd number.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(process.argv[1]);
         db.pragma('busy_timeout = 5000'); const ins = db.prepare('INSERT INTO pairs VALUES (?)');
         const pair = db.transaction((i) => { ins.run(i); ins.run(i) });
         for (let i = 0; i < 2e6; i++) { pair(i); if (i === 200) console.log('writing') }`,
        file,
      ],
      { cwd: path.resolve(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
    )
    cleanups.push(() => writer.exitCode === null && writer.kill('SIGKILL'))
    let said = ''
    writer.stdout!.on('data', (d) => (said += d))
    await until(() => said.includes('writing'))
    const copy = path.join(data, 'copy.db')
    const backup = await run(['backup', copy], { BRANCHGATE_DATA_DIR: data })
    const stillWriting = writer.exitCode === null
    writer.kill('SIGKILL')
    expect(backup.err).toBe('')
    expect(backup.code).toBe(0)
    expect(backup.out).toMatch(
      new RegExp(
        `^backed up ${file} to ${copy} \\(schema \\d+, \\d+ bytes\\); keep ${data}/secret.key with it$`,
      ),
    )
    expect(stillWriting).toBe(true)
    const c = new Database(copy, { readonly: true })
    const n = (c.prepare('SELECT count(*) AS n FROM pairs').get() as { n: number }).n
    expect(n).toBeGreaterThan(0)
    expect(n % 2).toBe(0)
    expect(c.pragma('integrity_check', { simple: true })).toBe('ok')
    c.close()
    expect(statSync(copy).mode & 0o777).toBe(0o600)
    expect(readdirSync(data).filter((f) => f.endsWith('.partial'))).toEqual([])
  })

  it('never overwrites a file and says what to do when there is no database', async () => {
    const data = folder()
    const taken = path.join(data, 'taken.db')
    writeFileSync(taken, 'mine')
    expect(await run(['backup', taken], { BRANCHGATE_DATA_DIR: data })).toEqual({
      code: 2,
      out: '',
      err: `branchgate backup: there is no database at ${data}/branchgate.db to back up`,
    })
    closeDb(openDb(path.join(data, 'branchgate.db')))
    expect((await run(['backup', taken], { BRANCHGATE_DATA_DIR: data })).err).toBe(
      `branchgate backup: ${taken} exists: name a new file`,
    )
    expect((await run(['backup'], { BRANCHGATE_DATA_DIR: data })).err).toBe(
      'branchgate backup: give one file (usage: branchgate backup FILE [--config FILE])',
    )
  })

  it('refuses to restore while the service runs, then restores once it is stopped, keeping the replaced database', async () => {
    const data = folder()
    const file = path.join(data, 'branchgate.db')
    addCustomer(file, 'Ana', '+525512345678')
    const env = { BRANCHGATE_DATA_DIR: data }
    const copy = path.join(folder(), 'ana.db')
    expect((await run(['backup', copy], env)).code).toBe(0)
    addCustomer(file, 'Beto', '+525512345679')

    const service = await startService([], {
      env: { ...process.env, PORT: '0', ADMIN_PORT: '0', BRANCHGATE_DATA_DIR: data },
    })
    cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
    const refused = await run(['restore', copy], env)
    expect(refused).toEqual({
      code: 2,
      out: '',
      err: `branchgate restore: branchgate is running (pid ${service.child.pid}): stop it first (systemctl stop branchgate), then restore`,
    })
    // Stopped cleanly even right after start: SIGTERM is handled before the ready line.
    expect(await service.stop()).toBe(0)
    expect(customers(file)).toEqual(['Ana', 'Beto'])

    const restored = await run(['restore', copy], env)
    expect(restored.err).toBe('')
    expect(restored.code).toBe(0)
    const kept = readdirSync(data).find((f) => f.startsWith('branchgate.db.before-restore.'))!
    expect(restored.out).toBe(
      `restored ${copy} into ${file} (schema ${restored.out.match(/schema (\d+)/)![1]}); the database it replaced is kept as ${path.join(data, kept)}. Start branchgate again: systemctl start branchgate`,
    )
    expect(customers(file)).toEqual(['Ana'])
    expect(customers(path.join(data, kept))).toEqual(['Ana', 'Beto'])
    expect(existsSync(`${file}-wal`)).toBe(false)
  })

  it('checks the file before restoring: not SQLite, damaged, not branchgate, or from a newer branchgate', async () => {
    const data = folder()
    const file = path.join(data, 'branchgate.db')
    addCustomer(file, 'Ana', '+525512345678')
    const env = { BRANCHGATE_DATA_DIR: data }
    const dir = folder()
    const text = path.join(dir, 'notes.txt')
    writeFileSync(text, 'not a database at all, just some text that is long enough '.repeat(4))
    const other = path.join(dir, 'other.db')
    const o = new Database(other)
    o.exec('CREATE TABLE photos (id INTEGER)')
    o.close()
    const newer = path.join(dir, 'newer.db')
    const n = new Database(newer)
    n.exec(
      `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at INTEGER);
       INSERT INTO schema_migrations VALUES ('999-from-the-future', 999, 1);`,
    )
    n.pragma('user_version = 999')
    n.close()
    const expectRefused = async (f: string, why: RegExp) => {
      const r = await run(['restore', f], env)
      expect(r.code).toBe(2)
      expect(r.err).toMatch(why)
      expect(customers(file)).toEqual(['Ana'])
      expect(readdirSync(data).filter((x) => x.includes('before-restore'))).toEqual([])
    }
    await expectRefused(
      text,
      new RegExp(`^branchgate: ${text} is not a SQLite database, or is damaged$`),
    )
    await expectRefused(other, new RegExp(`^branchgate: ${other} is not a branchgate database$`))
    await expectRefused(
      newer,
      new RegExp(
        `^branchgate: ${newer} was made by a newer branchgate \\(schema 999; this one knows up to \\d+\\): restore it with that version$`,
      ),
    )
    await expectRefused(
      path.join(dir, 'missing.db'),
      /^branchgate restore: .*missing\.db does not exist$/,
    )
  })
})

describe('branchgate --version', () => {
  it('prints the version of package.json and the commit', async () => {
    const r = await run(['--version'], {})
    expect(r).toEqual({
      code: 0,
      out: `branchgate ${BUILD.version} (commit ${BUILD.commit})`,
      err: '',
    })
    expect(BUILD.version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it("the metrics' build info carries the same version and commit", async () => {
    const prometheus = createServiceMetrics(loadConfig(null), { processMetrics: false })!
    const text = await prometheus.scrape()
    const line = text.split('\n').find((l) => l.startsWith('branchgate_build_info{'))!
    expect(line).toContain(`version="${BUILD.version}"`)
    expect(line).toContain(`commit="${BUILD.commit}"`)
  })
})

describe('branchgate doctor --json', () => {
  it('prints one JSON object a fleet tool can read: ok, version, commit and every finding', async () => {
    const data = folder()
    closeDb(openDb(path.join(data, 'branchgate.db')))
    const r = await run(['doctor', '--json'], { BRANCHGATE_DATA_DIR: data })
    // The demo's dry-run gate is a finding: doctor fails on it, and says so in the JSON too.
    expect(r.code).toBe(1)
    const report = JSON.parse(r.out)
    expect(report).toMatchObject({ ok: false, version: BUILD.version, commit: BUILD.commit })
    expect(report.findings).toContainEqual({
      check: 'gate',
      ok: false,
      detail: 'dry-run: nobody is really let through (demo)',
      fix: 'set gate.backend to "nftables" with gate.guestInterface in the config file',
    })
    expect(report.findings).toContainEqual(expect.objectContaining({ check: 'database', ok: true }))
  })

  it('reports an invalid config as a finding too, with exit status 2', async () => {
    const dir = folder()
    writeFileSync(path.join(dir, 'c.json'), '{"otp": {"digits": 12}}')
    const r = await run(['doctor', '--json', '--config', path.join(dir, 'c.json')], {})
    expect(r.code).toBe(2)
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      findings: [
        {
          check: 'config',
          ok: false,
          detail: 'invalid configuration:\n  - otp.digits must be between 4 and 8, got 12',
        },
      ],
    })
  })
})
