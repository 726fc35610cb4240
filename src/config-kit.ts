import { z } from 'zod'

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
