import { createHmac, randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs'
import path from 'node:path'
import { osUserName } from './data-dir.js'
import { DataFileError } from './errors.js'

export const SECRET_FILE = 'secret.key'

/**
 * The per-install secret (32 random bytes, hex) in the data folder, created on first start with
 * mode 0600. Codes are stored only as HMACs under it, and (without sync.macSalt) it keys the MAC
 * ids sent to the CRM. A key file that is there but unusable (a folder, damaged, unreadable) is
 * refused with a DataFileError and left as it is: a new key is made only where none exists.
 */
export function loadOrCreateSecret(dataDir: string): Buffer {
  return readSecret(dataDir) ?? createSecret(dataDir)
}

/** Creates the key file (when none exists yet) and returns the key. */
export function createSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, SECRET_FILE)
  try {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw new DataFileError(
        file,
        `cannot create ${file}: ${dataDir} is not writable by user ${osUserName()}; give that folder to this user`,
      )
    if (code !== 'EEXIST') throw err
  }
  return readSecret(dataDir)!
}

/** The key in the data folder, or null when there is no key file yet; never writes one. */
export function readSecret(dataDir: string): Buffer | null {
  const file = path.join(dataDir, SECRET_FILE)
  const keep =
    'or delete it to have a new one made, which voids pending codes and changes the MAC ids sent to the CRM; branchgate left it untouched'
  const st = statOrNull(file)
  if (st === null) return null
  if (!st.isFile()) {
    throw new DataFileError(
      file,
      `${file} is a folder, not the key file: move it away and put secret.key back from a backup, ${keep}`,
    )
  }
  let text: string
  try {
    // A key others can read is tightened, never rewritten.
    if ((st.mode & 0o077) !== 0) chmodSync(file, 0o600)
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EACCES' && code !== 'EPERM') throw err
    throw new DataFileError(
      file,
      `${file} cannot be ${code === 'EPERM' ? 'made private (mode 0600)' : 'read'} by user ${osUserName()}: give it to that user (chown ${osUserName()} ${file})`,
    )
  }
  const hex = text.trim()
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new DataFileError(
      file,
      `${file} is damaged (${st.size} bytes where a key is 64 hex characters): restore it from a backup, ${keep}`,
    )
  }
  return Buffer.from(hex, 'hex')
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/**
 * A key for one purpose, derived from the install secret (HMAC-SHA256 over `label`): the secret
 * itself never keys anything stored or sent, and keys for different purposes never coincide.
 */
export function derivedKey(secret: Buffer, label: string): Buffer {
  return createHmac('sha256', secret).update(label).digest()
}
