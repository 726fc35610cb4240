import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Config } from './config.js'
import { atRoot } from './paths.js'

/**
 * What build of branchgate this is: the one place the version is read (the metrics' build info,
 * `branchgate --version`, the logs, the package). Read once, from the installation's
 * package.json (the repository's, or /opt/branchgate's), so src/ and dist/ agree.
 */
export interface VersionInfo {
  /** package.json's version, e.g. "0.1.0". */
  version: string
  /** The Node.js version running it, e.g. "v20.19.2". */
  node: string
}

let cached: VersionInfo | null = null

export function versionInfo(): VersionInfo {
  if (cached) return cached
  let version = 'unknown'
  try {
    const pkg = JSON.parse(readFileSync(atRoot('package.json'), 'utf8')) as { version?: unknown }
    if (typeof pkg.version === 'string' && pkg.version !== '') version = pkg.version
  } catch {
    // A damaged installation still runs; its version reads "unknown".
  }
  cached = { version, node: process.version }
  return cached
}

/** The version alone, e.g. "0.1.0". */
export const version = (): string => versionInfo().version

/**
 * A short fingerprint of the configuration in force (12 hex digits of a SHA-256 over its JSON):
 * a fleet can tell which branches run the same settings without seeing them (secrets included
 * in the hash cannot be read back from it).
 */
export function configHash(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12)
}
