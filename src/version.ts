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
 * Keys whose values are secrets, wherever they sit in the config: credentials of the SMS
 * providers and the CRM, the metrics token, the MAC salt, a private key's file. An http SMS
 * provider's `headers` and `body` count whole (an Authorization header, an `api_key` field).
 */
const SECRET_KEYS = new Set([
  'token',
  'authToken',
  'apiKeySecret',
  'apiKey',
  'accessToken',
  'secrets',
  'clientSecret',
  'macSalt',
  'keyFile',
  'headers',
  'body',
])

/** What a secret is replaced by before hashing: the same for every value, and for none. */
export const SECRET_MARKER = '(secret)'

/**
 * The config as fingerprinted: every secret key's value replaced by SECRET_MARKER (null stays
 * null: whether one is set is a setting), a URL's user, password and query values likewise (an
 * SMS gateway's key often rides there), and the branch's own identity (`branch.id`, `branch.name`,
 * a label of its own in the metrics) left out, so branches with the same settings compare equal.
 */
export function hashableConfig(config: Config): unknown {
  const walk = (value: unknown, key: string | null): unknown => {
    if (key !== null && SECRET_KEYS.has(key)) return value === null ? null : SECRET_MARKER
    if (typeof value === 'string' && /^https?:\/\//i.test(value)) return withoutUrlSecrets(value)
    if (Array.isArray(value)) return value.map((v) => walk(v, null))
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]))
    return value
  }
  const { id: _id, name: _name, ...branch } = config.branch
  return walk({ ...config, branch }, null)
}

function withoutUrlSecrets(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return text
  }
  if (url.username) url.username = SECRET_MARKER
  if (url.password) url.password = SECRET_MARKER
  for (const name of [...new Set(url.searchParams.keys())])
    url.searchParams.set(name, SECRET_MARKER)
  return url.href
}

/**
 * A short fingerprint of the configuration in force (12 hex digits of a SHA-256 over the JSON of
 * `hashableConfig`): a fleet can tell which branches run the same settings without seeing them.
 * No secret goes in: a hash of a short token could be read back by trying every token.
 */
export function configHash(config: Config): string {
  return createHash('sha256')
    .update(JSON.stringify(hashableConfig(config)))
    .digest('hex')
    .slice(0, 12)
}
