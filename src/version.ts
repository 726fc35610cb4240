import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Config } from './config.js'
import { atRoot } from './paths.js'

/**
 * What this branchgate is: the version of package.json and the git commit it was built from.
 * The build (scripts/build.mjs) writes both into the bundles; run from src/ (tests, tsx) the
 * version is read from package.json and the commit is "dev". Shown by `branchgate --version`,
 * the console's footer, `doctor --json`, the service's first log line and the metrics' build
 * info; the Debian package's version is the same.
 */
export interface BuildInfo {
  /** package.json's version, e.g. "0.1.0". */
  version: string
  /** Abbreviated git commit of the build, "dev" when run from src/, "unknown" outside git. */
  commit: string
}

declare const __BRANCHGATE_VERSION__: string | undefined
declare const __BRANCHGATE_COMMIT__: string | undefined

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(atRoot('package.json'), 'utf8')) as { version?: unknown }
    if (typeof pkg.version === 'string' && pkg.version !== '') return pkg.version
  } catch {
    // A damaged installation still runs; its version reads "unknown".
  }
  return 'unknown'
}

export const BUILD: Readonly<BuildInfo> = Object.freeze({
  version: typeof __BRANCHGATE_VERSION__ === 'string' ? __BRANCHGATE_VERSION__ : packageVersion(),
  commit: typeof __BRANCHGATE_COMMIT__ === 'string' ? __BRANCHGATE_COMMIT__ : 'dev',
})

/** One line for people: `branchgate 0.1.0 (commit 1a2b3c4)`. */
export const versionLine = (b: BuildInfo = BUILD) => `branchgate ${b.version} (commit ${b.commit})`

/**
 * What build of branchgate this is, for the metrics' build info, `branchgate --version`, the logs
 * and the package: the version and commit above, and the Node.js running it.
 */
export interface VersionInfo extends BuildInfo {
  /** The Node.js version running it, e.g. "v20.19.2". */
  node: string
}

export function versionInfo(): VersionInfo {
  return { version: BUILD.version, commit: BUILD.commit, node: process.version }
}

/** The version alone, e.g. "0.1.0". */
export const version = (): string => BUILD.version

/**
 * A short fingerprint of the configuration in force (12 hex digits of a SHA-256 over its JSON):
 * a fleet can tell which branches run the same settings without seeing them (secrets included
 * in the hash cannot be read back from it).
 */
export function configHash(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12)
}
