import { accessSync, constants, mkdirSync } from 'node:fs'
import { userInfo } from 'node:os'
import path from 'node:path'
import { DataFileError } from './errors.js'

/**
 * The data folder as an absolute path, created (mode 0750) when missing. Refused with a
 * DataFileError, and left as it is: a path that is a file or lies under one, a folder this user
 * cannot create or write, a read-only file system.
 */
export function prepareDataDir(dataDir: string): string {
  const dir = path.resolve(dataDir)
  const refuse = (err: unknown, creating: boolean): never => {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new DataFileError(
        dir,
        `dataDir ${dir} is ${code === 'EEXIST' ? 'a file' : 'under a file'}, not a folder: set dataDir (or BRANCHGATE_DATA_DIR) to a folder; branchgate left the file untouched`,
      )
    if (code === 'EROFS')
      throw new DataFileError(
        dir,
        `dataDir ${dir} is on a read-only file system: set dataDir (or BRANCHGATE_DATA_DIR) to a writable folder, such as /var/lib/branchgate`,
      )
    if ((code === 'EACCES' || code === 'EPERM') && creating)
      throw new DataFileError(
        dir,
        `dataDir ${dir} does not exist and user ${osUserName()} may not create it: create it for that user (install -d -o ${osUserName()} ${dir}) or set dataDir to a folder it may write`,
      )
    if (code === 'EACCES' || code === 'EPERM')
      throw new DataFileError(
        dir,
        `dataDir ${dir} is not writable by user ${osUserName()}: give it to that user (chown -R ${osUserName()} ${dir}) or set dataDir to a folder it may write`,
      )
    throw err
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 })
  } catch (err) {
    refuse(err, true)
  }
  try {
    // As root this only fails on a read-only file system; for the service's own user, on rights.
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (err) {
    refuse(err, false)
  }
  return dir
}

/** The Unix user this process runs as, for messages ("not writable by user branchgate"). */
export function osUserName(): string {
  try {
    return userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}
