import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli, COMMANDS } from '../src/cli.js'
import { closeDb, openDb } from '../src/db/open.js'
import { createSecret } from '../src/secret.js'
import { tempDir } from './helpers.js'
import { DEMO_SERVE_ARGS } from './net-helpers.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const cleanups: Array<() => void> = []
afterAll(() => cleanups.splice(0).forEach((f) => f()))

function folder(): string {
  const t = tempDir()
  cleanups.push(t.remove)
  return t.dir
}

/** A data folder as `serve` leaves it: a migrated database (checkpointed) and its key. */
function installed(): string {
  const dir = folder()
  closeDb(openDb(path.join(dir, 'branchgate.db')))
  createSecret(dir)
  return dir
}

/** Every file under `dir` with its bytes (folders as their mode), to prove nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name)
    const st = statSync(p)
    out[name] = st.isDirectory()
      ? `dir ${st.mode.toString(8)}`
      : `${st.mode.toString(8)} ${readFileSync(p).toString('base64')}`
  }
  return out
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the real `branchgate` command (bin/branchgate.js), or `npm start`'s entry with
 * `entry: 'main'`. `uid` runs it as another user (only root may).
 */
async function branchgate(
  args: string[],
  env: Record<string, string>,
  opts: { entry?: 'bin' | 'main'; uid?: number } = {},
): Promise<Run> {
  const script = opts.entry === 'main' ? DEMO_SERVE_ARGS : ['bin/branchgate.js']
  const child = spawn(process.execPath, [...script, ...args], {
    cwd: ROOT,
    // Ports of its own, so that a regression that starts the server disturbs nothing.
    env: { ...process.env, PORT: '0', ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  // A server that started after all would never exit: stop it, and the test fails on its code.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  clearTimeout(guard)
  return { code, stdout, stderr }
}

/** One line on stderr, starting `branchgate`, naming `what`, no stack trace; exit status 2. */
function expectOneSentence(run: Run, what: string): void {
  expect(run.code, run.stderr).toBe(2)
  const lines = run.stderr.trim().split('\n')
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^branchgate[ :]/)
  expect(lines[0]).toContain(what)
  expect(run.stderr).not.toMatch(/\n\s+at |Error:/)
}

/** Runs `branchgate ARGS` in this process, through the same boundary as bin/branchgate.js. */
async function inProcess(args: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await cli(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out, err }
}

/** Damaged or misplaced data, as an operator meets it: what to do to a data folder. */
const DAMAGE: Array<[string, (dir: string) => string, string]> = [
  [
    'a branchgate.db of random bytes',
    (dir) => {
      writeFileSync(path.join(dir, 'branchgate.db'), randomBytes(65536))
      return `${path.join(dir, 'branchgate.db')} is not a SQLite database`
    },
    'restore it from a backup',
  ],
  [
    'a branchgate.db that is a text file',
    (dir) => {
      writeFileSync(path.join(dir, 'branchgate.db'), 'visits,2026-03-02\nana,+52…\n')
      return `${path.join(dir, 'branchgate.db')} is not a SQLite database`
    },
    'restore it from a backup',
  ],
  [
    'a truncated branchgate.db',
    (dir) => {
      const db = path.join(dir, 'branchgate.db')
      truncateSync(db, statSync(db).size / 2)
      return `${db} is truncated`
    },
    'restore it from a backup',
  ],
  [
    'a branchgate.db that is a folder',
    (dir) => {
      const db = path.join(dir, 'branchgate.db')
      rmSync(db)
      mkdirSync(db)
      return `${db} is a folder`
    },
    'move it away',
  ],
  [
    'another program’s SQLite database',
    (dir) => {
      const db = path.join(dir, 'branchgate.db')
      rmSync(db)
      const foreign = new Database(db)
      foreign.exec('CREATE TABLE photos (id INTEGER)')
      foreign.close()
      return `${db} is a SQLite database, but not branchgate's`
    },
    'move it away',
  ],
  [
    'a truncated secret.key',
    (dir) => {
      writeFileSync(path.join(dir, 'secret.key'), 'c0ffee42', { mode: 0o600 })
      return `${path.join(dir, 'secret.key')} is damaged`
    },
    'restore it from a backup',
  ],
  [
    'an empty secret.key',
    (dir) => {
      writeFileSync(path.join(dir, 'secret.key'), '', { mode: 0o600 })
      return `${path.join(dir, 'secret.key')} is damaged`
    },
    'restore it from a backup',
  ],
  [
    'a secret.key that is a folder',
    (dir) => {
      const key = path.join(dir, 'secret.key')
      const saved = readFileSync(key)
      rmSync(key)
      mkdirSync(key, { mode: 0o755 })
      writeFileSync(path.join(key, 'secret.key'), saved)
      return `${key} is a folder, not the key file`
    },
    'put secret.key back from a backup',
  ],
]

describe('start-up refuses damaged or misplaced data, says what to do, and touches nothing', () => {
  it.each(DAMAGE)('serve, with %s', async (_what, damage, todo) => {
    const dir = installed()
    const names = damage(dir)
    const before = snapshot(dir)
    const r = await inProcess(['serve'], { BRANCHGATE_DATA_DIR: dir })
    expect(r.code).toBe(2)
    expect(r.err).toHaveLength(1)
    expect(r.err[0]).toMatch(/^branchgate: /)
    expect(r.err[0]).toContain(names)
    expect(r.err[0]).toContain(todo)
    expect(r.err[0]).not.toContain('\n')
    // Same bytes, same modes, and nothing new: no -wal, no new key, no new database.
    expect(snapshot(dir)).toEqual(before)
  })

  it.each(DAMAGE.filter(([what]) => what.includes('branchgate.db')))(
    'status, with %s',
    async (_what, damage) => {
      const dir = installed()
      const names = damage(dir)
      const before = snapshot(dir)
      const r = await inProcess(['status'], { BRANCHGATE_DATA_DIR: dir })
      expect(r.code).toBe(2)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toContain(names)
      expect(snapshot(dir)).toEqual(before)
    },
  )

  it('a truncated key with no database yet: no database is created beside it', async () => {
    const dir = folder()
    writeFileSync(path.join(dir, 'secret.key'), 'c0ffee42', { mode: 0o600 })
    const r = await inProcess(['serve'], { BRANCHGATE_DATA_DIR: dir })
    expect(r.code).toBe(2)
    expect(readdirSync(dir)).toEqual(['secret.key'])
  })

  it('a damaged database with no key yet: no key is created beside it', async () => {
    const dir = folder()
    writeFileSync(path.join(dir, 'branchgate.db'), 'not a database\n')
    const r = await inProcess(['serve'], { BRANCHGATE_DATA_DIR: dir })
    expect(r.code).toBe(2)
    expect(readdirSync(dir)).toEqual(['branchgate.db'])
  })

  it('a TLS file the config names but nobody can read, before any data file is created', async () => {
    const dir = folder()
    const config = path.join(dir, 'branchgate.json')
    const dataDir = path.join(dir, 'data')
    const missing = path.join(dir, 'portal.crt')
    writeFileSync(
      config,
      JSON.stringify({ dataDir, listen: { tls: { certFile: missing, keyFile: missing } } }),
    )
    const r = await inProcess(['serve', '--config', config], {})
    expect(r.code).toBe(2)
    expect(r.err).toEqual([
      `branchgate: cannot read listen.tls.certFile ${missing} (ENOENT): fix the path in the config file or the file's rights`,
    ])
    expect(readdirSync(dir)).toEqual(['branchgate.json'])
  })

  it('doctor names a damaged database and what to do, not the folder rights', async () => {
    const dir = installed()
    const db = path.join(dir, 'branchgate.db')
    writeFileSync(db, randomBytes(8192))
    const r = await inProcess(['doctor'], { BRANCHGATE_DATA_DIR: dir })
    const lines = r.out.filter((l) => l.includes('database'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^FAIL {2}database: .* is not a SQLite database .*restore it from a backup/,
    )
    expect(r.out.join('\n')).not.toContain('writable by the branchgate user')
  })

  it('a dataDir that is a file, or lies under one', async () => {
    const file = path.join(folder(), 'data')
    writeFileSync(file, 'my notes\n')
    for (const [dataDir, says] of [
      [file, `dataDir ${file} is a file, not a folder`],
      [path.join(file, 'branch'), `dataDir ${path.join(file, 'branch')} is under a file`],
    ]) {
      const r = await inProcess(['serve'], { BRANCHGATE_DATA_DIR: dataDir! })
      expect(r.code).toBe(2)
      expect(r.err).toEqual([expect.stringContaining(says!)])
      expect(r.err[0]).toContain('set dataDir (or BRANCHGATE_DATA_DIR) to a folder')
    }
    expect(readFileSync(file, 'utf8')).toBe('my notes\n')
  })
})

// Each process loads the whole program through tsx: seconds on a busy machine, hence the timeout.
describe(
  'the real process: one sentence on stderr, status 2, no stack trace',
  {
    timeout: 90_000,
    concurrent: true,
  },
  () => {
    it('branchgate serve with a branchgate.db of random bytes', async () => {
      const dir = installed()
      const db = path.join(dir, 'branchgate.db')
      writeFileSync(db, randomBytes(65536))
      const before = snapshot(dir)
      const run = await branchgate(['serve'], { BRANCHGATE_DATA_DIR: dir })
      expectOneSentence(run, `${db} is not a SQLite database`)
      expect(snapshot(dir)).toEqual(before)
    })

    it('npm start (src/main.ts) with a truncated branchgate.db', async () => {
      const dir = installed()
      const db = path.join(dir, 'branchgate.db')
      truncateSync(db, statSync(db).size / 2)
      const before = snapshot(dir)
      const run = await branchgate([], { BRANCHGATE_DATA_DIR: dir }, { entry: 'main' })
      expectOneSentence(run, `${db} is truncated`)
      expect(snapshot(dir)).toEqual(before)
    })

    it('branchgate serve with a dataDir the service user may not write', async () => {
      // Root may write anywhere: as root the server runs as `nobody` on a folder root owns;
      // otherwise the folder is made read-only for its owner.
      const dir = folder()
      const asRoot = process.getuid?.() === 0
      chmodSync(dir, asRoot ? 0o755 : 0o555)
      cleanups.unshift(() => chmodSync(dir, 0o755))
      const run = await branchgate(
        ['serve'],
        { BRANCHGATE_DATA_DIR: dir },
        asRoot ? { uid: 65534 } : {},
      )
      expectOneSentence(run, `dataDir ${dir} is not writable by user`)
      expect(readdirSync(dir)).toEqual([])
    })

    it.each([
      [['--minutes'], '--minutes needs a value'],
      [
        ['--minutes', '-5'],
        '--minutes must be a whole number of minutes from 1 to 10080, got "-5"',
      ],
    ])('branchgate allow MAC %j, the database untouched', async (extra, says) => {
      const dir = installed()
      const before = snapshot(dir)
      const run = await branchgate(['allow', '3a:11:22:33:44:55', ...extra], {
        BRANCHGATE_DATA_DIR: dir,
      })
      expectOneSentence(run, `branchgate allow: ${says}`)
      expect(snapshot(dir)).toEqual(before)
    })
  },
)

describe('every subcommand checks its options before doing anything', () => {
  /** For each command: its mistakes (arguments) and what the sentence must name. */
  const mistakes = COMMANDS.flatMap((c) => {
    const options = { ...c.options, config: { type: 'string' as const } }
    const cases: Array<[string, string[], string]> = [
      [c.name, ['--bogus'], 'unknown option --bogus'],
      [c.name, ['--config', 'a.json', '--config', 'b.json'], '--config is given twice'],
    ]
    for (const [name, o] of Object.entries(options)) {
      if (o.type === 'string') cases.push([c.name, [`--${name}`], `--${name} needs a value`])
      else cases.push([c.name, [`--${name}=yes`], `--${name} takes no value`])
    }
    const extra = Array.from({ length: (c.maxArgs ?? 0) + 1 }, (_, i) => `x${i}`)
    cases.push([c.name, extra, (c.maxArgs ?? 0) === 0 ? 'takes no arguments' : 'at most'])
    return cases
  })

  it.each(mistakes)('%s %j', async (name, args, says) => {
    const dir = installed()
    const before = snapshot(dir)
    const r = await inProcess([name, ...args], { BRANCHGATE_DATA_DIR: dir })
    expect(r.code).toBe(2)
    expect(r.err).toHaveLength(1)
    expect(r.err[0]).toMatch(new RegExp(`^branchgate ${name}: `))
    expect(r.err[0]).toContain(says)
    expect(r.err[0]).toContain('(usage: branchgate')
    expect(r.out).toEqual([])
    expect(snapshot(dir)).toEqual(before)
  })

  it.each([['0'], ['-1'], ['1.5'], ['1e3'], ['10081'], ['sixty'], ['']])(
    'allow --minutes %j is refused, and nobody is let through',
    async (minutes) => {
      const dir = installed()
      const r = await inProcess(['allow', '3a:11:22:33:44:55', `--minutes=${minutes}`], {
        BRANCHGATE_DATA_DIR: dir,
      })
      expect(r.code).toBe(2)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toMatch(
        /^branchgate allow: --minutes (needs a value|must be a whole number)/,
      )
      const db = openDb(path.join(dir, 'branchgate.db'))
      expect(db.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 0 })
      closeDb(db)
    },
  )

  it.each([
    [['--from', '2026-02-30'], 'no such date: 2026-02-30'],
    [['--from', '02/03/2026'], 'dates are written YYYY-MM-DD, got "02/03/2026"'],
    [['--from', '2026-03-05', '--to', '2026-03-01'], '--to (2026-03-01) comes before --from'],
    [['--today', '--from', '2026-03-01'], 'use either --today or --from/--to'],
  ])('visits %j: one sentence about the dates, not about the configuration', async (args, says) => {
    const dir = installed()
    const r = await inProcess(['visits', ...args], { BRANCHGATE_DATA_DIR: dir })
    expect(r.code).toBe(2)
    expect(r.err).toHaveLength(1)
    expect(r.err[0]).toMatch(/^branchgate visits: /)
    expect(r.err[0]).toContain(says)
  })

  it('reads --config=FILE like --config FILE', async () => {
    const dir = installed()
    const file = path.join(dir, 'branchgate.json')
    writeFileSync(file, JSON.stringify({ dataDir: dir, branch: { id: 'mx-042' } }))
    const r = await inProcess(['status', `--config=${file}`], {})
    expect(r.code).toBe(0)
    expect(r.out[0]).toContain('branch mx-042')
  })
})
