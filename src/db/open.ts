import Database from 'better-sqlite3'
import { atRoot } from '../paths.js'
import { closeSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync } from 'node:fs'
import { osUserName } from '../data-dir.js'
import { DataFileError } from '../errors.js'
import path from 'node:path'

export type Db = Database.Database

const MIGRATIONS_DIR = atRoot('src/db/migrations')

/** A versioned schema change: `NNN-name.sql` in src/db/migrations. Never edit one once landed. */
export interface Migration {
  version: number
  name: string
  sql: string
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }))
}

/** Where openDb keeps the automatic backups it takes before migrating, and how many. */
export interface MigrationBackups {
  /** Folder of the backups; default: the database's own folder. */
  dir?: string
  /** How many automatic backups to keep (the oldest go first); default 3. */
  keep?: number
  /** The time in the backup's name (epoch ms); default: now. */
  now?: () => number
}

/**
 * Opens (creating if needed) the SQLite database in WAL mode and brings its schema up to date.
 * Migrations are tracked by name in `schema_migrations` (and `user_version` holds the highest
 * number applied, which older branchgates read): one not yet applied runs in its own
 * transaction with its record, in the order of its number, even when a higher one ran before
 * (two features landing in either order). An existing database is copied next to itself
 * (`VACUUM INTO`, see backupBeforeMigrating) before the first pending migration runs.
 *
 * A file that cannot be used is refused with a DataFileError before anything is written to it:
 * a folder, a file that is not SQLite (random bytes, text), one shorter than its header says
 * (truncated), another program's database, one migrated by a newer branchgate (a higher
 * `user_version`, or a migration name this one does not know), or one SQLite finds damaged or
 * cannot open.
 */
export function openDb(
  file: string,
  migrations: Migration[] = readMigrations(),
  backups: MigrationBackups = {},
): Db {
  if (file !== ':memory:') checkDbFile(file)
  let db: Db | null = null
  try {
    db = new Database(file)
    db.pragma('busy_timeout = 5000')
    // Read before any write: a damaged file fails here, and a foreign one is left as it is.
    const state = schemaState(db, migrations)
    if (state.foreign) {
      throw new DataFileError(
        file,
        `${file} is a SQLite database, but not branchgate's (it has tables and no branchgate schema version): move it away or point dataDir at another folder; branchgate left it untouched`,
      )
    }
    if (state.newer) {
      throw new DataFileError(
        file,
        `${file} was written by a newer branchgate (${state.newer}): run that newer version, or restore a backup made by this one (branchgate restore FILE); branchgate left it untouched`,
      )
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    if (state.pending.length && state.applied.size && file !== ':memory:')
      backupBeforeMigrating(db, file, state.pending[0]!, backups)
    // Deleted rows are overwritten with zeros, not left in free pages: a deleted customer
    // (privacy.blockingDays) is gone from the file, not only from the tables (issue 15).
    db.pragma('secure_delete = ON')
    immediateByDefault(db)
    migrate(db, migrations)
    return db
  } catch (err) {
    db?.close()
    throw asDataFileError(file, err)
  }
}

/** What a database holds of branchgate's schema, compared with the migrations of this build. */
export interface SchemaState {
  /** Names of the migrations applied (recorded, or implied by an untracked `user_version`). */
  applied: Set<string>
  /** This build's migrations not applied yet, in the order they will run. */
  pending: Migration[]
  /** Why a newer branchgate wrote it, or null. */
  newer: string | null
  /** It has tables but no branchgate schema at all. */
  foreign: boolean
  /** `user_version`: the highest migration number applied. */
  version: number
}

const TRACKER = 'schema_migrations'

/** Reads the schema's state without writing anything. */
export function schemaState(db: Db, migrations: readonly Migration[]): SchemaState {
  const version = db.pragma('user_version', { simple: true }) as number
  const latest = Math.max(0, ...migrations.map((m) => m.version))
  const tracked = Boolean(
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(TRACKER),
  )
  const tables = (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n
  const applied = tracked
    ? new Set(
        (db.prepare(`SELECT name FROM ${TRACKER}`).all() as Array<{ name: string }>).map(
          (r) => r.name,
        ),
      )
    : // A database from before migrations were tracked by name: user_version says how far.
      new Set(migrations.filter((m) => m.version <= version).map((m) => m.name))
  const known = new Set(migrations.map((m) => m.name))
  const unknown = [...applied].filter((n) => !known.has(n)).sort()
  const newer =
    version > latest
      ? `schema ${version}; this one knows up to ${latest}`
      : unknown.length
        ? `migration${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, unknown to this one`
        : null
  return {
    applied,
    pending: [...migrations]
      .filter((m) => !applied.has(m.name))
      .sort((a, b) => a.version - b.version || a.name.localeCompare(b.name)),
    newer,
    foreign: version === 0 && !tracked && tables > 0,
    version,
  }
}

/**
 * Before a migration changes an existing database, a consistent copy goes next to it:
 * `branchgate.db.before-010-privacy.2026-05-01T12-00-00Z.bak` (`VACUUM INTO`: one transaction,
 * compact, readable by any SQLite). The newest `keep` of these stay. A copy that cannot be made
 * (disk full, folder read-only) stops the migration: the database is left as it was.
 */
export function backupBeforeMigrating(
  db: Db,
  file: string,
  next: Migration,
  opts: MigrationBackups = {},
): string {
  const dir = opts.dir ?? path.dirname(file)
  const base = path.basename(file)
  const stamp = new Date((opts.now ?? Date.now)()).toISOString().replace(/:/g, '-').slice(0, 19)
  const target = path.join(dir, `${base}.before-${next.name}.${stamp}Z.bak`)
  try {
    db.prepare('VACUUM INTO ?').run(target)
  } catch (err) {
    rmSync(target, { force: true })
    throw new DataFileError(
      file,
      `cannot back up ${file} to ${target} before migrating it to ${next.name} (${(err as Error).message}): free some space or make ${dir} writable; branchgate left the database as it was`,
    )
  }
  const ours = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.before-`) && f.endsWith('.bak'))
    .map((f) => ({ f, at: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at || b.f.localeCompare(a.f))
  for (const old of ours.slice(opts.keep ?? 3)) rmSync(path.join(dir, old.f), { force: true })
  return target
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

/**
 * What can be told from the file alone, without SQLite writing to it: that it is a folder, not
 * a SQLite file, or shorter than its header says. An absent or empty file is a new database.
 */
function checkDbFile(file: string): void {
  let size: number
  try {
    const st = statSync(file)
    if (st.isDirectory()) {
      throw new DataFileError(
        file,
        `${file} is a folder, not the database file: move it away (or restore branchgate.db from a backup) and start again`,
      )
    }
    size = st.size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw asDataFileError(file, err)
  }
  if (size === 0) return
  const restore = `restore it from a backup, or move it away to start with an empty database; branchgate left it untouched`
  const header = Buffer.alloc(100)
  let got = 0
  let fd: number | null = null
  try {
    fd = openSync(file, 'r')
    got = readSync(fd, header, 0, 100, 0)
  } catch (err) {
    throw asDataFileError(file, err)
  } finally {
    if (fd !== null) closeSync(fd)
  }
  if (got < SQLITE_MAGIC.length || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new DataFileError(
      file,
      `${file} is not a SQLite database (damaged or replaced): ${restore}`,
    )
  }
  if (got < 100) {
    throw new DataFileError(
      file,
      `${file} is truncated (${size} bytes, less than its header): ${restore}`,
    )
  }
  const raw = header.readUInt16BE(16)
  const pageSize = raw === 1 ? 65536 : raw
  const pages = header.readUInt32BE(28)
  // The page count in the header is valid when the change counter matches (SQLite file format,
  // section 1.3.7). With a -wal file beside it the main file may lag behind: SQLite then judges.
  const countValid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92)
  if (countValid && pages * pageSize > size && !hasWal(file)) {
    throw new DataFileError(
      file,
      `${file} is truncated (${size} bytes of the ${pages * pageSize} its header announces): ${restore}`,
    )
  }
}

function hasWal(file: string): boolean {
  try {
    return statSync(`${file}-wal`).size > 0
  } catch {
    return false
  }
}

/** SQLite's and the file system's refusals, as a sentence naming the file and what to do. */
function asDataFileError(file: string, err: unknown): unknown {
  if (err instanceof DataFileError) return err
  const code = String((err as { code?: unknown }).code ?? '')
  const untouched = 'branchgate left it untouched'
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
    return new DataFileError(
      file,
      `${file} is damaged (SQLite: ${(err as Error).message}): restore it from a backup; ${untouched}`,
    )
  if (
    code.startsWith('SQLITE_READONLY') ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'SQLITE_PERM'
  )
    return new DataFileError(
      file,
      `${file} cannot be written by user ${osUserName()} (${(err as Error).message}): give it and its folder to that user, or run branchgate as its owner`,
    )
  if (code === 'EROFS')
    return new DataFileError(
      file,
      `${file} is on a read-only file system: point dataDir at a writable folder`,
    )
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new DataFileError(
      file,
      `${file} is locked by another program for more than 5 s: stop whatever holds it (another copy of branchgate, a backup tool, sqlite3) and try again`,
    )
  if (code === 'SQLITE_FULL' || code === 'ENOSPC')
    return new DataFileError(
      file,
      `the disk holding ${file} is full: free some space and try again`,
    )
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR'))
    return new DataFileError(
      file,
      `cannot open ${file} (SQLite: ${(err as Error).message}): check that its folder exists and user ${osUserName()} may write there`,
    )
  return err
}

/**
 * `db.transaction(fn)` begins IMMEDIATE. A deferred transaction that reads first and writes
 * after cannot wait for the write lock: when another connection holds it (the checkpoint worker
 * making the WAL start over, the console's worker thread, a command), SQLite refuses the upgrade
 * at once with SQLITE_BUSY, busy_timeout or not, and a login fails. IMMEDIATE takes the lock at
 * BEGIN, where busy_timeout waits. `.deferred` stays available.
 */
function immediateByDefault(db: Db): void {
  const make = db.transaction.bind(db)
  ;(db as { transaction: unknown }).transaction = (fn: (...args: never[]) => unknown) => {
    let entered = false
    const made = make(function (this: unknown, ...args: never[]) {
      entered = true
      return fn.apply(this, args)
    })
    const tx = made.immediate
    const retrying = function (this: unknown, ...args: never[]) {
      const t0 = performance.now()
      // The checkpoint worker's turn (shareWriterTurn): wait until it is done, woken at once,
      // rather than in SQLite's busy handler's sleeps. Not inside a transaction: this connection
      // holds the lock, and the worker is waiting for it.
      // The wait counts against the same budget as BEGIN's retries.
      const policy = busyPolicies.get(db)
      const budget = policy?.budgetMs ?? BUSY_BUDGET_MS
      const turn = db.inTransaction ? undefined : writerTurns.get(db)
      const writing = turn !== undefined && turn.length > 1 && budget > 0
      if (turn && budget > 0) awaitTurn(turn, writing, t0, budget)
      try {
        for (let tries = 0; ; tries++) {
          entered = false
          try {
            return tx.apply(this, args)
          } catch (err) {
            // Only BEGIN IMMEDIATE refused (nothing ran, nothing to undo), within the budget.
            if (entered || !isBusy(err) || performance.now() - t0 >= budget) throw err
            policy?.onRetry?.()
            Atomics.wait(PAUSE, 0, 0, Math.min(25, 1 << tries))
          }
        }
      } finally {
        if (writing) {
          Atomics.store(turn, 1, 0)
          // The worker, its turn raised, waits for this transaction's end.
          if (Atomics.load(turn, 0) !== 0) Atomics.notify(turn, 1)
        }
      }
    }
    // The variants stay reachable (`.immediate` is the default itself; `.deferred` as before).
    return Object.assign(retrying, {
      default: made.default,
      deferred: made.deferred,
      immediate: retrying,
      exclusive: made.exclusive,
    })
  }
}

/**
 * How long a write transaction keeps asking for the write lock (ms), as busy_timeout does. Under
 * load, with the disk slow to sync while the checkpoint worker restarted the WAL, SQLite was seen
 * to refuse BEGIN IMMEDIATE with SQLITE_BUSY after ~100 ms instead of waiting out busy_timeout
 * (bench portal: `POST /verify failed: (SQLITE_BUSY) SqliteError: database is locked`, answered
 * after 124 ms), and a guest got a 500: BEGIN is asked again, with short pauses, until this is
 * spent. It blocks the event loop as busy_timeout's own wait does.
 */
const BUSY_BUDGET_MS = 5000

/**
 * Waits while the checkpoint worker has its turn (turn[0]), within the budget. With `writing`,
 * raises turn[1] for the transaction about to begin: raised first and the worker's turn read
 * after (the worker does the reverse), so either this side sees the worker's turn and steps back,
 * or the worker sees the transaction and waits for its end (src/db/checkpointer.ts).
 */
function awaitTurn(turn: Int32Array, writing: boolean, t0: number, budget: number): void {
  for (;;) {
    if (writing) Atomics.store(turn, 1, 1)
    if (Atomics.load(turn, 0) === 0) return
    if (writing) {
      Atomics.store(turn, 1, 0)
      Atomics.notify(turn, 1)
    }
    const left = budget - (performance.now() - t0)
    // Out of budget: BEGIN asks SQLite, whose refusal ends the transaction's tries.
    if (left <= 0) {
      if (writing) Atomics.store(turn, 1, 1)
      return
    }
    Atomics.wait(turn, 0, 1, left)
  }
}
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

const isBusy = (err: unknown) =>
  String((err as { code?: unknown })?.code ?? '').startsWith('SQLITE_BUSY')

export interface BusyPolicy {
  /** How long to keep asking for the write lock (default 5000 ms). */
  budgetMs?: number
  /** Called each time BEGIN IMMEDIATE was refused and is about to be asked again. */
  onRetry?: () => void
}
const busyPolicies = new WeakMap<Db, BusyPolicy>()

const writerTurns = new WeakMap<Db, Int32Array>()

/**
 * Shares flags with the thread that checkpoints this connection's database
 * (src/db/checkpointer.ts): while turn[0] is 1 that thread wants or holds the write lock, and
 * this connection's write transactions wait for it to drop to 0 (woken by Atomics.notify) before
 * BEGIN. turn[1], when the array has it, is 1 while one of them runs: that thread waits for its
 * end before asking for the lock. null stops sharing.
 */
export function shareWriterTurn(db: Db, turn: Int32Array | null): void {
  if (turn) writerTurns.set(db, turn)
  else writerTurns.delete(db)
}

/** The flags a connection shares with its checkpoint thread, if any (tests, the bench). */
export function writerTurnOf(db: Db): Int32Array | undefined {
  return writerTurns.get(db)
}

/** Changes how a connection's write transactions wait for the lock (tests, tools). */
export function setBusyPolicy(db: Db, policy: BusyPolicy): void {
  busyPolicies.set(db, policy)
}

/**
 * Applies this build's migrations the database has not had, each in one transaction with its
 * record in `schema_migrations`; `user_version` follows the highest number applied. A database
 * from before the tracking table gets it first, filled from its `user_version`.
 */
export function migrate(
  db: Db,
  migrations: Migration[],
): { from: number; to: number; applied: string[] } {
  const from = db.pragma('user_version', { simple: true }) as number
  const state = schemaState(db, migrations)
  db.transaction(() => {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${TRACKER} (name TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at INTEGER)`,
    )
    // Recorded without a time: applied before branchgate tracked migrations by name.
    const record = db.prepare(`INSERT OR IGNORE INTO ${TRACKER} (name, version) VALUES (?, ?)`)
    for (const m of migrations) if (state.applied.has(m.name)) record.run(m.name, m.version)
  })()
  const record = db.prepare(`INSERT INTO ${TRACKER} (name, version, applied_at) VALUES (?, ?, ?)`)
  let to = from
  const applied: string[] = []
  for (const m of state.pending) {
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.name, m.version, Date.now())
      to = Math.max(to, m.version)
      db.pragma(`user_version = ${to | 0}`)
    })()
    applied.push(m.name)
  }
  return { from, to, applied }
}

/** Closes the database after a checkpoint, so no -wal file is left behind. */
export function closeDb(db: Db): void {
  if (!db.open) return
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}
