import { randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const SECRET_FILE = 'secret.key'

/**
 * The per-install secret (32 random bytes, hex) in the data folder, created on first start with
 * mode 0600. Codes are stored only as HMACs under it.
 */
export function loadOrCreateSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, SECRET_FILE)
  try {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  const hex = readFileSync(file, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(
      `${file} is damaged: expected 64 hex characters. Restore it from backup; deleting it invalidates pending codes.`,
    )
  }
  return Buffer.from(hex, 'hex')
}
