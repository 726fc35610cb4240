import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folder branchgate is installed in (the repository, or /opt/branchgate): where views/,
 * public/, deploy/ and the migrations are. Found by walking up from this module, so the same
 * code finds it from src/ (tests), from the bundles in dist/ and from an installed package.
 */
export const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(path.join(dir, 'views', 'portal')) && existsSync(path.join(dir, 'package.json')))
      return dir
    const up = path.dirname(dir)
    if (up === dir) throw new Error(`branchgate: cannot find its views/ above ${import.meta.url}`)
    dir = up
  }
})()

/** A path inside the installation, e.g. `atRoot('views')`. */
export const atRoot = (...parts: string[]) => path.join(ROOT, ...parts)

/** Whether this code runs as compiled JavaScript (dist/) rather than TypeScript from src/. */
export const COMPILED = !import.meta.url.endsWith('.ts')
