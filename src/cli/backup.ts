import Database from 'better-sqlite3'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.js'
import { readConfig } from '../config-file.js'
import { readMigrations, schemaState, type Db } from '../db/open.js'
import { DataFileError, OperatorError } from '../errors.js'
import { readOptions } from './options.js'
import { runningServer } from './running.js'
import { SPECS, type Command } from './specs.js'

/** A refusal of backup or restore: one sentence, exit 2 (cli.ts prints it with the command). */
class BackupError extends OperatorError {
  constructor(command: 'backup' | 'restore', message: string) {
    super(message)
    this.name = 'BackupError'
    this.command = command
  }
}

const dbFileOf = (config: Config) => path.join(path.resolve(config.dataDir), 'branchgate.db')
const stampOf = (ms: number) => new Date(ms).toISOString().replace(/:/g, '-').slice(0, 19) + 'Z'

/** The one file argument of backup and restore. */
function fileArg(name: 'backup' | 'restore', argv: string[]): string {
  const { args } = readOptions(name, SPECS[name].usage, argv, {}, 1)
  if (args.length !== 1 || !args[0])
    throw new BackupError(name, `give one file (usage: ${SPECS[name].usage})`)
  return path.resolve(args[0])
}

/** What a file holds, checked before it is trusted: SQLite, intact, branchgate's, not newer. */
function inspect(file: string): { version: number; migrations: number } {
  let db: Db | null = null
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const integrity = String(db.pragma('integrity_check', { simple: true }))
    if (integrity !== 'ok')
      throw new DataFileError(file, `${file} is damaged (SQLite integrity check: ${integrity})`)
    const state = schemaState(db, readMigrations())
    if (state.foreign || (state.version === 0 && state.applied.size === 0))
      throw new DataFileError(file, `${file} is not a branchgate database`)
    if (state.newer)
      throw new DataFileError(
        file,
        `${file} was made by a newer branchgate (${state.newer}): restore it with that version`,
      )
    return { version: state.version, migrations: state.applied.size }
  } catch (err) {
    if (err instanceof OperatorError) throw err
    const code = String((err as { code?: unknown }).code ?? '')
    throw new DataFileError(
      file,
      code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')
        ? `${file} is not a SQLite database, or is damaged`
        : `cannot read ${file}: ${(err as Error).message}`,
    )
  } finally {
    db?.close()
  }
}

/**
 * `branchgate backup FILE`: a consistent copy of the database while the service runs
 * (`VACUUM INTO`: one read transaction, so what the service commits meanwhile is either wholly in
 * the copy or not at all), written beside FILE and renamed into place once checked, mode 0600
 * (it holds customers' numbers). An existing FILE is never overwritten.
 */
export const backupCommand: Command = {
  ...SPECS.backup,
  async run(argv, env, out = console.log) {
    const target = fileArg('backup', argv)
    const { config } = readConfig(argv, env)
    const source = dbFileOf(config)
    if (!existsSync(source))
      throw new BackupError('backup', `there is no database at ${source} to back up`)
    if (existsSync(target)) throw new BackupError('backup', `${target} exists: name a new file`)
    if (!existsSync(path.dirname(target)))
      throw new BackupError('backup', `the folder ${path.dirname(target)} does not exist`)
    const partial = `${target}.partial`
    rmSync(partial, { force: true })
    const db = new Database(source, { fileMustExist: true })
    try {
      db.pragma('busy_timeout = 5000')
      db.prepare('VACUUM INTO ?').run(partial)
    } catch (err) {
      rmSync(partial, { force: true })
      throw new BackupError('backup', `cannot write ${target}: ${(err as Error).message}`)
    } finally {
      db.close()
    }
    chmodSync(partial, 0o600)
    const what = inspect(partial)
    renameSync(partial, target)
    out(
      `backed up ${source} to ${target} (schema ${what.version}, ${statSync(target).size} bytes); keep ${path.join(path.dirname(source), 'secret.key')} with it`,
    )
    return 0
  },
}

/**
 * `branchgate restore FILE`: puts a backup back, with the service stopped. FILE is checked first
 * (SQLite, intact, branchgate's, not from a newer branchgate); the database it replaces is kept
 * beside it (`branchgate.db.before-restore.<time>.bak`). The restored file gets the data folder's
 * owner, so the service can open it; an older schema is migrated when the service starts.
 */
export const restoreCommand: Command = {
  ...SPECS.restore,
  async run(argv, env, out = console.log) {
    const source = fileArg('restore', argv)
    const { config } = readConfig(argv, env)
    const target = dbFileOf(config)
    const pid = runningServer(config, (line) => console.error(`branchgate restore: ${line}`))
    if (pid !== null)
      throw new BackupError(
        'restore',
        `branchgate is running (pid ${pid}): stop it first (systemctl stop branchgate), then restore`,
      )
    if (!existsSync(source)) throw new BackupError('restore', `${source} does not exist`)
    const what = inspect(source)
    const dir = path.dirname(target)
    if (!existsSync(dir))
      throw new BackupError(
        'restore',
        `the data folder ${dir} does not exist (dataDir in the config)`,
      )
    let kept: string | null = null
    if (existsSync(target)) {
      // A -wal beside it holds committed changes: fold them in before the file is moved.
      if (existsSync(`${target}-wal`)) {
        const old = new Database(target, { fileMustExist: true })
        old.pragma('wal_checkpoint(TRUNCATE)')
        old.close()
      }
      kept = `${target}.before-restore.${stampOf(Date.now())}.bak`
      renameSync(target, kept)
      for (const side of ['-wal', '-shm']) rmSync(`${target}${side}`, { force: true })
    }
    const incoming = `${target}.restoring`
    copyFileSync(source, incoming)
    const owner = statSync(dir)
    if (process.getuid?.() === 0) chownSync(incoming, owner.uid, owner.gid)
    chmodSync(incoming, 0o640)
    renameSync(incoming, target)
    out(
      `restored ${source} into ${target} (schema ${what.version})${kept ? `; the database it replaced is kept as ${kept}` : ''}. Start branchgate again: systemctl start branchgate`,
    )
    return 0
  },
}

/**
 * `branchgate reload`: asks the running server to re-read its config (SIGHUP, what
 * `systemctl reload branchgate` sends); it logs what it applied and what needs a restart.
 */
export const reloadCommand: Command = {
  ...SPECS.reload,
  async run(argv, env, out = console.log) {
    readOptions('reload', SPECS.reload.usage, argv, {})
    const { config } = readConfig(argv, env)
    const pid = runningServer(config, (line) => console.error(`branchgate reload: ${line}`))
    if (pid === null) {
      console.error('branchgate reload: branchgate is not running')
      return 1
    }
    process.kill(pid, 'SIGHUP')
    out(`asked branchgate (pid ${pid}) to reload its config; its log says what it applied`)
    return 0
  },
}
