import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { smsStatements } from '../src/db/sms.js'
import { createPrometheusMetrics } from '../src/observe/prometheus.js'
import { metricsHarness, promtoolMissing, samples } from './metrics-harness.js'
import { ROOT } from './net-helpers.js'

/**
 * The files a fleet's operators install: Prometheus alert rules (tested by promtool) and the
 * Grafana dashboard. Both name only metrics a real scrape exposes.
 */

const RULES_DIR = path.join(ROOT, 'deploy/prometheus')
const RULES = readFileSync(path.join(RULES_DIR, 'branchgate-rules.yml'), 'utf8')
const DASHBOARD_TEXT = readFileSync(
  path.join(ROOT, 'deploy/grafana/branchgate-dashboard.json'),
  'utf8',
)
const noPromtool = promtoolMissing()
if (noPromtool) console.warn(`alert rule tests skipped: ${noPromtool}`)

/** Every metric name a real scrape exposes (after one login, with the process' own figures). */
async function exposedNames(): Promise<Set<string>> {
  const h = metricsHarness()
  try {
    // Series that exist once something happened: a firewall check, a provider's error, the
    // nftables gate's first change (the dry-run gate has no way to report).
    await h.observer.firewallCheck.run(h.clock.now())
    h.gate.way = () => 'in-process'
    h.watch.state = { way: 'netlink', live: true, entries: 0, directLookups: 0, losses: 0 }
    smsStatements(h.db).recordAttempts([
      {
        at: h.clock.now(),
        provider: 'console',
        channel: 'sms',
        outcome: 'failed',
        latency_ms: 1,
        detail: null,
        kind: 'timeout',
      },
    ])
    const text = (await h.scrape()).text
    const process = createPrometheusMetrics({
      providers: [],
      build: { version: 'x', branch: 'x', configHash: 'x', node: 'x' },
      processMetrics: true,
    })
    const names = new Set(samples(text).map((s) => s.name))
    for (const s of samples(await process.scrape())) names.add(s.name)
    return names
  } finally {
    h.close()
  }
}

/** Metric names an expression uses (ours and Node's; Prometheus' own `up`, `ALERTS` aside). */
const namesIn = (expr: string) =>
  [...expr.matchAll(/\b((?:branchgate|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)

let exposed: Set<string>

describe('the alert rules (deploy/prometheus)', () => {
  it.skipIf(noPromtool !== null)('pass promtool check rules and promtool test rules', () => {
    const check = spawnSync('promtool', ['check', 'rules', 'branchgate-rules.yml'], {
      cwd: RULES_DIR,
      encoding: 'utf8',
    })
    expect(check.stdout + check.stderr).toContain('SUCCESS: 13 rules found')
    expect(check.status).toBe(0)
    const test = spawnSync('promtool', ['test', 'rules', 'branchgate-rules.test.yml'], {
      cwd: RULES_DIR,
      encoding: 'utf8',
    })
    expect(test.stdout + test.stderr).toContain('SUCCESS')
    expect(test.status).toBe(0)
  })

  it('give every alert a summary in English and Spanish and a runbook line, and a test', () => {
    const alerts = RULES.split(/\n\s+- alert: /).slice(1)
    expect(alerts).toHaveLength(13)
    const tests = readFileSync(path.join(RULES_DIR, 'branchgate-rules.test.yml'), 'utf8')
    for (const a of alerts) {
      const name = a.split('\n')[0]!.trim()
      expect(a, name).toMatch(/\n\s+summary: (['"]).+\1/)
      expect(a, name).toMatch(/\n\s+summary_es: (['"]).+\1/)
      expect(a, name).toMatch(/\n\s+runbook: (['"]).+\1/)
      expect(a, name).toMatch(/\n\s+severity: (critical|warning)/)
      expect(tests, `a test of ${name}`).toContain(`alertname: ${name}`)
    }
  })

  it('name only metrics a real scrape exposes', async () => {
    exposed ??= await exposedNames()
    const used = namesIn(RULES)
    expect(used.length).toBeGreaterThan(10)
    for (const name of used) expect(exposed, name).toContain(name)
  })
})

describe('the Grafana dashboard (deploy/grafana)', () => {
  const dashboard = JSON.parse(DASHBOARD_TEXT) as {
    uid: string
    title: string
    schemaVersion: number
    templating: { list: Array<{ name: string; type: string; query: unknown; multi?: boolean }> }
    panels: Array<{
      id: number
      type: string
      title: string
      gridPos: { x: number; y: number; w: number; h: number }
      datasource?: { type: string; uid: string }
      targets?: Array<{ expr: string; refId: string; datasource: { uid: string } }>
    }>
  }

  it('is a dashboard Grafana imports: unique ids, a grid of 24 columns, the data source as a variable', () => {
    expect(dashboard.uid).toBe('branchgate-fleet')
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]))
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' })
    expect(vars.branch).toMatchObject({ type: 'query', multi: true })
    expect(vars.focus).toMatchObject({ type: 'query', multi: false })
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      if (p.type === 'row') continue
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets!) {
        expect(t.datasource.uid).toBe('${datasource}')
        expect(t.refId).toMatch(/^[A-Z]$/)
      }
    }
    // No panel overlaps another.
    const cells = new Set<string>()
    for (const p of dashboard.panels)
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false)
          cells.add(`${x},${y}`)
        }
  })

  it('has the fleet view by branch and a drill-down into one branch', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)
    expect(rows).toEqual(['Fleet: every selected branch', 'Branch drill-down: $focus'])
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)
    for (const want of [
      'branchgate_funnel_total',
      'branchgate_codes_sent_total',
      'branchgate_outbox_oldest_pending_age_seconds',
      'branchgate_devices_allowed',
    ])
      expect(
        exprs.some((e) => e.includes(want) && e.includes('branch=~"$branch"')),
        want,
      ).toBe(true)
    expect(exprs.filter((e) => e.includes('branch="$focus"')).length).toBeGreaterThan(15)
  })

  it('names only metrics a real scrape exposes', async () => {
    exposed ??= await exposedNames()
    const used = dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => namesIn(t.expr))
    expect(used.length).toBeGreaterThan(30)
    for (const name of used) expect(exposed, name).toContain(name)
  })
})
