/**
 * Where the portal's time goes: with BENCH_CPU_PROF=DIR the portal section runs its servers from
 * a readable bundle (esbuild, not minified, names kept) under `node --cpu-prof`, and prints the
 * functions with the most self time, each with the source module it came from.
 */
import { build } from 'esbuild'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Bundles bench/portal-server.ts into bench/.built/ (it finds views/ above it; not in dist/, which
 * the Debian package copies whole). By default as
 * scripts/build.mjs bundles the service (minified, no kept names): the figures are the shipped
 * code's. Run through tsx, as the servers were before, every arrow function kept in a `const`
 * was wrapped in a `__name(…)` call (tsx's esbuild keeps names), on each request for the ones
 * made per request: 1.1 % of the portal server's profile, a cost the service does not have.
 * `readable`: not minified, names kept, for a CPU profile whose entries can be read.
 */
export async function bundledServer(readable = false): Promise<string> {
  const out = path.join(ROOT, `bench/.built/portal-server${readable ? '' : '.min'}.mjs`)
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['bench/portal-server.ts'],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: readable,
    minify: !readable,
    packages: 'external',
    logLevel: 'warning',
  })
  return out
}

export interface ProfileRow {
  selfMs: number
  share: number
  name: string
  /** Source module (from the bundle's `// src/…` markers) and the bundle's line. */
  where: string
}

/** The newest .cpuprofile in `dir` whose name has `pid`, or the newest overall. */
export function newestProfile(dir: string, pid?: number): string | null {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && (pid === undefined || f.includes(`.${pid}.0.`)))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
  return files[0] ?? null
}

/** Functions by self time, idle and the garbage collector included (they are part of the story). */
export function topOfProfile(file: string, n = 15): { totalMs: number; rows: ProfileRow[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{
      id: number
      callFrame: { functionName: string; url: string; lineNumber: number }
    }>
    samples: number[]
    timeDeltas: number[]
  }
  const markers = new Map<string, Array<[number, string]>>()
  const moduleOf = (url: string, line: number): string => {
    if (!url.startsWith('file://')) return url || 'native'
    let m = markers.get(url)
    if (!m) {
      m = []
      try {
        readFileSync(fileURLToPath(url), 'utf8')
          .split('\n')
          .forEach((l, i) => {
            const hit = /^\/\/ ((?:src|bench|node_modules)\/\S+)$/.exec(l)
            if (hit) m!.push([i, hit[1]!])
          })
      } catch {
        // not readable: the URL says enough
      }
      markers.set(url, m)
    }
    let found = url.replace(/^.*\/(node_modules|dist|src|bench)\//, '$1/')
    for (const [at, name] of m) if (at <= line) found = name
    return found
  }
  const byId = new Map(p.nodes.map((x) => [x.id, x]))
  const self = new Map<string, { ms: number; name: string; where: string }>()
  let total = 0
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    total += dt
    const cf = byId.get(id)!.callFrame
    const where = `${moduleOf(cf.url, cf.lineNumber)}`
    const name = cf.functionName || '(anonymous)'
    const key = `${name}\0${where}\0${cf.lineNumber}`
    const row = self.get(key) ?? {
      ms: 0,
      name,
      where: cf.url ? `${where} (bundle line ${cf.lineNumber + 1})` : where,
    }
    row.ms += dt
    self.set(key, row)
  })
  const rows = [...self.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n)
    .map((r) => ({ selfMs: r.ms, share: r.ms / total, name: r.name, where: r.where }))
  return { totalMs: total, rows }
}

export function printTop(file: string, n = 15): void {
  const { totalMs, rows } = topOfProfile(file, n)
  console.log(
    `  CPU profile ${path.basename(file)}: ${(totalMs / 1000).toFixed(1)} s sampled; top ${n} by self time:`,
  )
  for (const r of rows)
    console.log(`  ${(100 * r.share).toFixed(1).padStart(5)} %  ${r.name}  ${r.where}`)
}
