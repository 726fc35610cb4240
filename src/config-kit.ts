import { z } from 'zod'

// The config is parsed once per process (a command, the service's start, a reload): zod's JIT,
// which writes a parser per object schema with `new Function` on its first parse, cost more than
// it saved there (the first parse of a config 11.7–22 ms with it, 4.6–6.1 ms without; a second
// parse 0.6 ms either way). zod reads the setting when a schema is made, so every config module
// takes `z` from here: this runs before any of their schemas exists.
z.config({ jitless: true })
export { z }

/**
 * Pieces that more than one room's config schema uses. Each room's `config.ts` holds its own keys
 * and `src/config.ts` composes them; this file imports zod only, so any room may use it.
 */

/** An operator-supplied certificate for a TLS listener: PEM files read at start. */
export const pemFiles = {
  /** PEM certificate (chain) file. */
  certFile: z.string().min(1),
  /** PEM private key file (keep it mode 0600). */
  keyFile: z.string().min(1),
}

/** A rule across keys that the schema of one key cannot state; `path` is from the config's top. */
export interface KeyProblem {
  path: (string | number)[]
  message: string
}
