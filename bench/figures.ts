/**
 * Every figure the bench prints with a target goes through `figure()`: it is printed with its
 * unit, its target and whether it is met, and kept for `--json FILE` and `--compare OLD.json`
 * (bench/run.ts). Figures without a target (baselines, context) are recorded too, so a compare
 * shows them moving.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

export type Better = 'lower' | 'higher'

export interface Target {
  /** `<=`: the figure must stay at or under `value`; `>=`: at or over. */
  op: '<=' | '>='
  value: number
}

export interface Figure {
  section: string
  /** Stable key within its section, e.g. `splash.ratio` (what --compare matches on). */
  key: string
  /** What the figure is, in words. */
  label: string
  value: number
  unit: string
  /** Which way is better; taken from the target when there is one. */
  better: Better
  target: Target | null
  met: boolean | null
}

export interface BenchResult {
  machine: MachineDescription
  startedAt: string
  finishedAt: string
  sections: string[]
  figures: Figure[]
  /** Sections that threw (their figures are missing), with their error. */
  failed?: Array<{ section: string; error: string }>
}

export interface MachineDescription {
  cpuModel: string
  cpus: number
  memoryGiB: number
  kernel: string
  node: string
  /** The load average at the start: a shared machine moves the figures. */
  loadAverage: number[]
  commit: string | null
}

const recorded: Figure[] = []
let current = ''

/** Sets the section that the next figures belong to (bench/run.ts calls it). */
export function inSection(name: string): void {
  current = name
}

export function allFigures(): readonly Figure[] {
  return recorded
}

/** Keeps figures a section's own process recorded (and printed) as if recorded here. */
export function adoptFigures(figures: readonly Figure[]): void {
  recorded.push(...figures)
}

const fmt = (v: number, unit: string) => {
  const digits = Math.abs(v) >= 100 || Number.isInteger(v) ? 0 : Math.abs(v) >= 10 ? 1 : 2
  const n = v.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
  return unit === '×' || unit === '%' ? `${n}${unit === '×' ? '×' : ' %'}` : `${n} ${unit}`
}

/**
 * Records one figure and prints it as `label: value unit (target ≤ X: met)`. `better` is needed
 * only for figures without a target.
 */
export function figure(
  key: string,
  label: string,
  value: number,
  unit: string,
  o: { target?: Target; better?: Better; note?: string } = {},
): Figure {
  const target = o.target ?? null
  const better: Better = target ? (target.op === '<=' ? 'lower' : 'higher') : (o.better ?? 'lower')
  const met =
    target === null || !Number.isFinite(value)
      ? target === null
        ? null
        : false
      : target.op === '<='
        ? value <= target.value
        : value >= target.value
  const f: Figure = { section: current, key, label, value, unit, better, target, met }
  recorded.push(f)
  const goal = target
    ? `   (target ${target.op === '<=' ? '≤' : '≥'} ${fmt(target.value, unit)}: ${met ? 'met' : 'NOT MET'})`
    : ''
  console.log(
    `${label}: ${Number.isFinite(value) ? fmt(value, unit) : 'n/a'}${goal}${o.note ? `  ${o.note}` : ''}`,
  )
  return f
}

export function describeMachine(): MachineDescription {
  const cpus = os.cpus()
  let commit: string | null = null
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    commit = null
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit,
  }
}

/** A change of more than this fraction in the worse direction is flagged by --compare. */
export const WORSE_BY = 0.1

export interface Comparison {
  figure: Figure
  old: Figure | null
  /** (new - old) / old, signed; null when there is no old figure or it was 0. */
  change: number | null
  worse: boolean
}

/** Matches figures by section and key; a change worse than WORSE_BY (10 %) is flagged. */
export function compare(now: readonly Figure[], old: BenchResult): Comparison[] {
  const byKey = new Map(old.figures.map((f) => [`${f.section}/${f.key}`, f]))
  return now.map((f) => {
    const o = byKey.get(`${f.section}/${f.key}`) ?? null
    if (!o || o.value === 0 || !Number.isFinite(o.value) || !Number.isFinite(f.value))
      return { figure: f, old: o, change: null, worse: false }
    const change = (f.value - o.value) / Math.abs(o.value)
    const worse = f.better === 'lower' ? change > WORSE_BY : change < -WORSE_BY
    return { figure: f, old: o, change, worse }
  })
}

export function printComparison(rows: readonly Comparison[], oldFile: string): number {
  console.log(`\n## compared with ${oldFile}`)
  const width = Math.max(...rows.map((r) => `${r.figure.section}/${r.figure.key}`.length), 10)
  let flagged = 0
  for (const r of rows) {
    const name = `${r.figure.section}/${r.figure.key}`.padEnd(width)
    const now = fmt(r.figure.value, r.figure.unit).padStart(14)
    const before = r.old ? fmt(r.old.value, r.old.unit).padStart(14) : 'new'.padStart(14)
    const change =
      r.change === null ? '' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`
    if (r.worse) flagged++
    console.log(`${name}  ${now}  was ${before}  ${change.padStart(8)}${r.worse ? '  WORSE' : ''}`)
  }
  console.log(
    flagged
      ? `${flagged} figure(s) worse by more than ${WORSE_BY * 100} %`
      : `no figure worse by more than ${WORSE_BY * 100} %`,
  )
  return flagged
}

export function readResult(file: string): BenchResult {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as BenchResult
  if (!Array.isArray(parsed?.figures)) throw new Error(`${file} is not a bench result (no figures)`)
  return parsed
}
