import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ConfigError, loadConfig, type Config } from './config.js'
import { credentialPath } from './config-secrets.js'
import { DataFileError } from './errors.js'

/**
 * The files around the configuration: the config file named by `--config FILE` (or
 * `--config=FILE`, or BRANCHGATE_CONFIG), the PEM files it names, and the pid file `serve`
 * writes. Used by the service (main.ts) and every command (src/cli/); loadConfig itself stays
 * pure.
 */

/** Reads the config file and the environment; a ConfigError says what to fix. */
export function readConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: Config; file: string | null } {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='))
  const file =
    i < 0
      ? (env.BRANCHGATE_CONFIG ?? null)
      : argv[i] === '--config'
        ? (argv[i + 1] ?? '')
        : argv[i]!.slice('--config='.length)
  let text: string | null = null
  if (file !== null) {
    if (file === '') throw new ConfigError(['--config needs a file name'])
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new ConfigError([`cannot read config file ${file}: ${(err as Error).message}`])
    }
  }
  return { config: loadConfig(text, env, (f) => readSecretText(f, env)), file }
}

/** A secret file named in the config (a path, or `$CREDENTIALS_DIRECTORY/name`). */
function readSecretText(file: string, env: NodeJS.ProcessEnv): string {
  try {
    return readFileSync(credentialPath(file, env, existsSync), 'utf8')
  } catch (err) {
    throw new Error((err as NodeJS.ErrnoException).code ?? (err as Error).message)
  }
}

/** Where `serve` writes its process id, for `branchgate stop`. */
export const pidFile = (config: Config) => path.join(path.resolve(config.dataDir), 'branchgate.pid')

/**
 * Reads a PEM file named in the config (a path, or `$CREDENTIALS_DIRECTORY/name`: a systemd
 * credential); a DataFileError names the key and the file.
 */
export function readPem(key: string, file: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  try {
    return readFileSync(credentialPath(file, env, existsSync))
  } catch (err) {
    throw new DataFileError(
      file,
      `cannot read ${key} ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix the path in the config file or the file's rights`,
    )
  }
}
