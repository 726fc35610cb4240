/**
 * Secrets out of the JSON: every secret key can also be given as a file, so a fleet tool writes
 * each secret mode 0600 (or systemd hands it in with `LoadCredential=`) and the config itself
 * can be shared. `authTokenFile: "/etc/branchgate/secrets/twilio-token"` stands for `authToken`
 * with that file's text; `$CREDENTIALS_DIRECTORY/twilio-token` names a systemd credential. Inline
 * values keep working; giving both is refused.
 *
 * Pure: the file reader is handed in (config-file.ts hands in the real one).
 */

/**
 * The secret keys, wherever they sit (SMS providers, the CRM adapter, sync), and how a file
 * holds each: its whole text (a trailing newline dropped), one value per line (`secrets`), or
 * `Name: value` lines (`headers` of an http SMS provider, e.g. `Authorization: Bearer …`).
 */
export const SECRET_KEYS: Readonly<Record<string, 'text' | 'lines' | 'headers'>> = {
  authToken: 'text',
  apiKeySecret: 'text',
  apiKey: 'text',
  accessToken: 'text',
  clientSecret: 'text',
  macSalt: 'text',
  secrets: 'lines',
  headers: 'headers',
}

/** Reads a secret file; throws an Error whose message says why (its code, e.g. ENOENT). */
export type ReadSecretFile = (file: string) => string

/**
 * Replaces each `<key>File` of a secret key by the file's content, in place. Returns one sentence
 * per problem (a missing file, both forms given, an empty file), naming the key.
 */
export function resolveSecretFiles(
  raw: unknown,
  read: ReadSecretFile | null,
  where: string[] = [],
): string[] {
  const problems: string[] = []
  if (raw === null || typeof raw !== 'object') return problems
  const obj = raw as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    const value = obj[key]
    const base = key.endsWith('File') ? key.slice(0, -'File'.length) : null
    const kind = base !== null ? SECRET_KEYS[base] : undefined
    if (base === null || kind === undefined) {
      problems.push(...resolveSecretFiles(value, read, [...where, key]))
      continue
    }
    const name = [...where, key].join('.')
    if (obj[base] !== undefined && obj[base] !== null) {
      problems.push(`${name}: give ${[...where, base].join('.')} or ${key}, not both`)
      continue
    }
    if (typeof value !== 'string' || value === '') {
      problems.push(`${name} must name a file, got ${JSON.stringify(value)}`)
      continue
    }
    if (!read) {
      problems.push(`${name}: secret files are not read here`)
      continue
    }
    let text: string
    try {
      text = read(value)
    } catch (err) {
      problems.push(`${name}: cannot read ${value}: ${(err as Error).message}`)
      continue
    }
    const parsed = parseSecret(kind, text)
    if (typeof parsed === 'string' && parsed === '') {
      problems.push(`${name}: ${value} is empty`)
      continue
    }
    if (typeof parsed === 'object' && 'problem' in parsed) {
      problems.push(`${name}: ${value} ${parsed.problem}`)
      continue
    }
    delete obj[key]
    obj[base] = parsed
  }
  return problems
}

function parseSecret(
  kind: 'text' | 'lines' | 'headers',
  text: string,
): string | string[] | Record<string, string> | { problem: string } {
  if (kind === 'text') return text.replace(/\r?\n$/, '')
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  if (kind === 'lines') return lines.length ? lines : { problem: 'holds no line' }
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const m = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(line)
    if (!m) return { problem: 'must hold "Name: value" lines' }
    headers[m[1]!.toLowerCase()] = m[2]!
  }
  return Object.keys(headers).length ? headers : { problem: 'holds no header' }
}

/**
 * Where `$CREDENTIALS_DIRECTORY` points when the variable is unset (a command run by hand as
 * root, `branchgate doctor`): the running unit's credentials, then the folder the Ansible role
 * and the SysV script keep them in. Both are readable by root only.
 */
export const CREDENTIAL_FALLBACKS = [
  '/run/credentials/branchgate.service',
  '/etc/branchgate/credentials',
] as const

/**
 * A config path as it is read: `$CREDENTIALS_DIRECTORY/name` is the systemd credential `name`
 * (`LoadCredential=name:/path` in the unit); any other path is used as it is.
 */
export function credentialPath(
  file: string,
  env: { CREDENTIALS_DIRECTORY?: string | undefined },
  exists: (path: string) => boolean = () => false,
) {
  const prefix = /^\$(\{CREDENTIALS_DIRECTORY\}|CREDENTIALS_DIRECTORY)\//.exec(file)
  if (!prefix) return file
  const name = file.slice(prefix[0].length)
  if (env.CREDENTIALS_DIRECTORY) return `${env.CREDENTIALS_DIRECTORY.replace(/\/$/, '')}/${name}`
  const found = CREDENTIAL_FALLBACKS.map((d) => `${d}/${name}`).find(exists)
  if (found) return found
  throw new Error(
    `CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=) and ${name} is in none of ${CREDENTIAL_FALLBACKS.join(', ')}`,
  )
}
