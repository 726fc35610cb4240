import { readFileSync } from 'node:fs'
import { atRoot } from './paths.js'

/**
 * What this branchgate is: the version of package.json and the git commit it was built from.
 * The build (scripts/build.mjs) writes both into the bundles; run from src/ (tests, tsx) the
 * version is read from package.json and the commit is "dev". Shown by `branchgate --version`,
 * the console's footer, `doctor --json` and the service's first log line; the Debian package's
 * version is the same.
 */
export interface BuildInfo {
  /** package.json's version, e.g. "0.1.0". */
  version: string
  /** Abbreviated git commit of the build, "dev" when run from src/, "unknown" outside git. */
  commit: string
}

declare const __BRANCHGATE_VERSION__: string | undefined
declare const __BRANCHGATE_COMMIT__: string | undefined

export const BUILD: Readonly<BuildInfo> = Object.freeze({
  version:
    typeof __BRANCHGATE_VERSION__ === 'string'
      ? __BRANCHGATE_VERSION__
      : (JSON.parse(readFileSync(atRoot('package.json'), 'utf8')) as { version: string }).version,
  commit: typeof __BRANCHGATE_COMMIT__ === 'string' ? __BRANCHGATE_COMMIT__ : 'dev',
})

/** One line for people: `branchgate 0.1.0 (commit 1a2b3c4)`. */
export const versionLine = (b: BuildInfo = BUILD) => `branchgate ${b.version} (commit ${b.commit})`
