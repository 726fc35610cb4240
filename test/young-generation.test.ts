import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { ROOT } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const f of cleanups.splice(0)) f()
})

// In a process of its own: the flag is process-wide, and the young generation's size is V8's.
// What survives here (arrays of live objects) is what made V8 grow it while the service started.
const SCRIPT = (module: string, given: string) => `
import v8 from 'node:v8'
import { holdYoungGeneration } from ${JSON.stringify(module)}
const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size
const churn = () => {
  let keep = []
  for (let i = 0; i < 400000; i++) {
    keep.push({ a: i, b: 'x' + i })
    if (keep.length > 50000) keep = []
  }
}
const initial = size()
const release = holdYoungGeneration(${given})
churn()
const held = size()
release()
churn()
console.log(JSON.stringify({ initial, held, after: size() }))
`

function run(given: string): { initial: number; held: number; after: number } {
  const t = tempDir()
  cleanups.push(t.remove)
  const file = path.join(t.dir, 'young.mts')
  const module = pathToFileURL(path.join(ROOT, 'src/young-generation.ts')).href
  writeFileSync(file, SCRIPT(module, given))
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  return JSON.parse(out)
}

describe("the service's start and V8's young generation", () => {
  it('keeps the young generation at its initial size while held, and lets it grow once released', () => {
    const { initial, held, after } = run('[]')
    expect(held).toBe(initial)
    expect(after).toBeGreaterThan(held)
  })

  it("leaves an operator's own growth factor alone", () => {
    const { initial, held } = run(`['--semi-space-growth-factor=2']`)
    expect(held).toBeGreaterThan(initial)
  })
})
