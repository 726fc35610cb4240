import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ROOT } from './net-helpers.js'
import { compare, figure, inSection, type BenchResult, type Figure } from '../bench/figures.js'

const old = (figures: Array<Partial<Figure> & Pick<Figure, 'key' | 'value'>>): BenchResult => ({
  machine: {
    cpuModel: 'test',
    cpus: 2,
    memoryGiB: 24,
    kernel: 'Linux',
    node: 'v20',
    loadAverage: [0, 0, 0],
    commit: null,
  },
  startedAt: '',
  finishedAt: '',
  sections: ['portal'],
  figures: figures.map((f) => ({
    section: 'portal',
    label: f.key,
    unit: 'ms',
    better: 'lower',
    target: null,
    met: null,
    ...f,
  })),
})

describe('bench figures', () => {
  it('records each figure with its unit and target, and whether the target is met', () => {
    inSection('portal')
    const quiet = { log: console.log }
    console.log = () => {}
    try {
      const a = figure('cpu', 'CPU per login', 0.9, 'ms', { target: { op: '<=', value: 1 } })
      const b = figure('ratio', 'splash / hello', 0.8, '×', { target: { op: '>=', value: 0.85 } })
      const c = figure('rps', 'hello', 25_000, 'req/s', { better: 'higher' })
      const d = figure('x', 'not measured', NaN, 'ms', { target: { op: '<=', value: 1 } })
      expect([a.met, b.met, c.met, d.met]).toEqual([true, false, null, false])
      expect([a.better, b.better, c.better]).toEqual(['lower', 'higher', 'higher'])
      expect(a).toMatchObject({ section: 'portal', key: 'cpu', unit: 'ms' })
    } finally {
      console.log = quiet.log
    }
  })

  it('flags a change worse than 10 % in the figure’s bad direction, and only that', () => {
    const now: Figure[] = [
      { ...old([{ key: 'p99', value: 11.5 }]).figures[0]! },
      { ...old([{ key: 'cpu', value: 1.05 }]).figures[0]! },
      { ...old([{ key: 'rps', value: 17_000, better: 'higher' }]).figures[0]! },
      { ...old([{ key: 'rps2', value: 40_000, better: 'higher' }]).figures[0]! },
      { ...old([{ key: 'new', value: 1 }]).figures[0]! },
    ]
    const rows = compare(
      now,
      old([
        { key: 'p99', value: 10 },
        { key: 'cpu', value: 1 },
        { key: 'rps', value: 20_000, better: 'higher' },
        { key: 'rps2', value: 20_000, better: 'higher' },
      ]),
    )
    expect(rows.map((r) => [r.figure.key, r.worse])).toEqual([
      ['p99', true],
      ['cpu', false],
      ['rps', true],
      ['rps2', false],
      ['new', false],
    ])
    expect(rows[0]!.change).toBeCloseTo(0.15)
    expect(rows[4]!.old).toBeNull()
  })
})

describe('npm run bench options', () => {
  const bench = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    })

  it('answers a missing file name, an unknown option, an unreadable result or no matching section with one sentence and exit 2, before measuring anything', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--json'], /^bench: --json needs a file name\n/],
      [['--fast'], /^bench: unknown option --fast\n/],
      [['--compare', '/nonexistent/old.json'], /^bench: cannot read \/nonexistent\/old\.json: /],
      [['no-such-section'], /^bench: no section matches no-such-section\n/],
    ]
    for (const [args, message] of cases) {
      const r = bench(...args)
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stdout).not.toMatch(/^## /m)
    }
  })
})
