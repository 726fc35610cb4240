import { describe, expect, it } from 'vitest'
import { runSections, type BenchSection } from '../bench/sections.js'

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
