import Database from 'better-sqlite3'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export type Db = Database.Database

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))

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

/**
 * Opens (creating if needed) the SQLite database in WAL mode and brings its schema up to date.
 * Each migration runs in its own transaction together with the bump of `user_version`.
 */
export function openDb(file: string, migrations: Migration[] = readMigrations()): Db {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  migrate(db, migrations)
  return db
}

export function migrate(db: Db, migrations: Migration[]): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number
  let to = from
  for (const m of migrations) {
    if (m.version <= to) continue
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version | 0}`)
    })()
    to = m.version
  }
  return { from, to }
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
