#!/usr/bin/env node
// Compiles src/ to plain JavaScript in dist/ with esbuild: three entry points (the service, the
// `branchgate` command and the console's worker thread), bundled with their npm dependencies
// and split into shared chunks, source maps beside. Bundled, a command loads one file where it
// loaded some 300 modules (`branchgate --help` in a third of the time); better-sqlite3 stays
// outside (a native module, from node_modules). Views, public/, deploy/ templates and the SQL
// migrations are read at run time from the installation (src/paths.ts). `tsc --noEmit`
// (npm run typecheck) stays the type check.
//
// Usage: node scripts/build.mjs [--if-stale]   (BRANCHGATE_NO_MINIFY=1: names kept, for profiles)
// The build is written to a private folder and renamed into place file by file (rename is
// atomic), so a process already running from dist/ — a second test run on the same checkout —
// never reads a half-written module.
import { build } from 'esbuild'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
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

if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const built = statSync(stamp).mtimeMs
  const inputs = [
    ...files(path.join(root, 'src')),
    path.join(root, 'package-lock.json'),
    path.join(root, 'package.json'),
  ]
  if (Math.max(...inputs.map((f) => statSync(f).mtimeMs)) <= built) process.exit(0)
}

// Build info (src/version.ts): the version of package.json (or BRANCHGATE_VERSION) and the commit being built. A tree
// with uncommitted changes says so ("1a2b3c4+dirty"); outside git the commit is "unknown".
// BRANCHGATE_VERSION: the Debian package's version when package.mjs was given --version.
const version =
  process.env.BRANCHGATE_VERSION ||
  JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version
function gitCommit() {
  try {
    const git = (...args) =>
      execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: 'pipe' }).trim()
    const commit = git('rev-parse', '--short=12', 'HEAD')
    return git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'package.json')
      ? `${commit}+dirty`
      : commit
  } catch {
    return 'unknown'
  }
}
const commit = process.env.BRANCHGATE_COMMIT || gitCommit()

mkdirSync(dist, { recursive: true })
const staging = mkdtempSync(path.join(dist, '.staging-'))
try {
  await build({
    absWorkingDir: root,
    entryPoints: {
      serve: 'src/serve.ts',
      cli: 'src/cli.ts',
      'console-worker': 'src/console/worker-thread.ts',
    },
    outdir: staging,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    minify: !process.env.BRANCHGATE_NO_MINIFY,
    // Native: loaded from node_modules at run time (koffi is required lazily by the gate).
    external: ['better-sqlite3', 'koffi'],
    define: {
      __BRANCHGATE_VERSION__: JSON.stringify(version),
      __BRANCHGATE_COMMIT__: JSON.stringify(commit),
    },
    // Bundled CommonJS packages (ejs, node-cron) call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __bgRequire } from 'node:module'; const require = __bgRequire(import.meta.url);",
    },
    logLevel: 'warning',
  })
  const fresh = new Set()
  for (const f of files(staging)) {
    const rel = path.relative(staging, f)
    fresh.add(rel)
    mkdirSync(path.dirname(path.join(dist, rel)), { recursive: true })
    renameSync(f, path.join(dist, rel))
  }
  // What an older build left behind goes (not the stamp, nor another build's staging folder).
  for (const f of files(dist)) {
    const rel = path.relative(dist, f)
    if (!rel.startsWith('.') && !fresh.has(rel)) rmSync(f)
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`)
} finally {
  rmSync(staging, { recursive: true, force: true })
}
