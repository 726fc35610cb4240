import { describe, expect, it } from 'vitest'
import { allFigures } from '../bench/figures.js'
import { sectionInOwnProcess } from '../bench/isolate.js'
import { ReportedFailure, runSections, type BenchSection } from '../bench/sections.js'

const section =
  (name: string, run: () => Promise<void>, onlyWhenNamed = false) =>
  async () =>
    ({ name, run, onlyWhenNamed }) satisfies BenchSection

describe('the bench run', () => {
  it('prints a crashed section’s error, goes on with the next sections and names the failed ones', async () => {
    const lines: string[] = []
    const order: string[] = []
    const { ran, failed } = await runSections(
      [
        section('portal', async () => void order.push('portal')),
        section('metrics', async () => {
          order.push('metrics')
          throw new Error('login answered 422')
        }),
        section('console', async () => void order.push('console')),
        section('soak', async () => void order.push('soak'), true),
      ],
      [],
      (line) => lines.push(line),
    )
    expect(order).toEqual(['portal', 'metrics', 'console'])
    expect(ran).toEqual(['portal', 'metrics', 'console'])
    expect(failed).toEqual([{ section: 'metrics', error: 'login answered 422' }])
    const at = lines.indexOf('\n## metrics')
    expect(lines[at + 1]).toMatch(/^SECTION FAILED: metrics: Error: login answered 422\n {4}at /)
    expect(lines[at + 2]).toBe('\n## console')
  })
})

describe('a section in its own process', () => {
  // Stands in for `bench/run.ts --section NAME --json FILE`: writes what its argv asks for.
  const child = (body: string) => [
    process.execPath,
    '-e',
    `const a = process.argv; const name = a[a.indexOf('--section') + 1]; const file = a[a.indexOf('--json') + 1]; const pid = process.pid; ${body}`,
    '--',
  ]
  const write = (failed: string) =>
    `require('fs').writeFileSync(file, JSON.stringify({ sections: [name], figures: [{ section: name, key: 'pid', label: 'its pid', value: pid, unit: '', better: 'lower', target: null, met: null }], failed: ${failed} }))`

  it('keeps the figures the section recorded in a process other than this one', async () => {
    await sectionInOwnProcess('portal', child(write('[]')))
    const f = allFigures().at(-1)!
    expect(f).toMatchObject({ section: 'portal', key: 'pid' })
    expect(f.value).not.toBe(process.pid)
  })

  it('fails with the section’s own error, already printed there, when the section failed', async () => {
    const err = await sectionInOwnProcess(
      'metrics',
      child(write(`[{ section: name, error: 'login answered 422' }]`)),
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ReportedFailure)
    expect((err as Error).message).toBe('login answered 422')
  })

  it('fails, saying so, when the process ended without writing its figures', async () => {
    await expect(sectionInOwnProcess('gate', child('process.exit(3)'))).rejects.toThrow(
      'its process ended (3) without writing its figures',
    )
  })
})
