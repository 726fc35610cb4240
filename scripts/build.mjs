#!/usr/bin/env node
// Compiles src/ to plain JavaScript in dist/ (same layout, source maps beside), and copies the
// SQL migrations next to the module that reads them. esbuild transpiles file by file in well under
// a second, so `npm start`, the tests and the package can build every time; `tsc --noEmit`
// (npm run typecheck) stays the type check.
//
// Usage: node scripts/build.mjs [--if-stale]
// Each file is written to a private folder first and renamed into dist/ (rename is atomic), so a
// process already running from dist/ — a second test run on the same checkout — never reads a
// half-written module.
import { build } from 'esbuild'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src')
const dist = path.join(root, 'dist')
const stamp = path.join(dist, '.built')

function files(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) files(p, out)
    else out.push(p)
  }
  return out
}

const all = files(src)
if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const built = statSync(stamp).mtimeMs
  const newest = Math.max(...all.map((f) => statSync(f).mtimeMs))
  if (newest <= built) process.exit(0)
}

mkdirSync(dist, { recursive: true })
const staging = mkdtempSync(path.join(dist, '.staging-'))
try {
  await build({
    entryPoints: all.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    outdir: staging,
    outbase: src,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  })
  cpSync(path.join(src, 'db/migrations'), path.join(staging, 'db/migrations'), { recursive: true })
  const fresh = new Set()
  for (const f of files(staging)) {
    const rel = path.relative(staging, f)
    fresh.add(rel)
    mkdirSync(path.dirname(path.join(dist, rel)), { recursive: true })
    renameSync(f, path.join(dist, rel))
  }
  // What a removed source left behind goes too.
  for (const f of files(dist)) {
    const rel = path.relative(dist, f)
    if (!rel.startsWith('.') && !fresh.has(rel)) rmSync(f)
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`)
} finally {
  rmSync(staging, { recursive: true, force: true })
}
