import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Db } from './open.js'

/** SQLite's default: checkpoint when the WAL reaches this many pages. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000

// Runs in the worker: its own connection, checkpointing without waiting for anyone (PASSIVE), so
// the fsync a checkpoint needs happens off the event loop.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { fileMustExist: true })
db.pragma('busy_timeout = 100')
setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch { /* busy: next time */ }
}, workerData.everyMs)
`

export interface Checkpointer {
  /** Stops the worker; the main connection checkpoints by itself again. */
  stop(): Promise<void>
}

/**
 * Moves WAL checkpoints off the portal's event loop. better-sqlite3 is synchronous, and SQLite's
 * automatic checkpoint (with its fsync) runs inside whichever commit crosses the threshold: a
 * guest's login then waits for the disk. Here a worker thread with its own connection
 * checkpoints every `everyMs`; if it dies, the main connection goes back to automatic
 * checkpoints, so the WAL never grows without bound.
 */
export function startCheckpointer(
  db: Db,
  file: string,
  log: (line: string) => void,
  everyMs = 1000,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, everyMs, driver } })
  worker.unref()
  const fallBack = () => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`)
  }
  worker.on('error', (err) => {
    log(`database: checkpoint worker failed (${err.message}); checkpointing in the main thread`)
    fallBack()
  })
  db.pragma('wal_autocheckpoint = 0')
  return {
    async stop() {
      await worker.terminate()
      fallBack()
    },
  }
}
