import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { promtoolMissing, sample, samples } from './metrics-harness.js'
import { startService, until } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

const TOKEN = 'fleet-scrape-token-42'

describe('the service, watched over real HTTP', () => {
  it('serves /metrics on its own listener with the token, logs JSON with nothing personal, and promtool accepts the scrape', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const file = path.join(t.dir, 'branchgate.json')
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: t.dir,
        branch: { id: 'mx-cdmx-001' },
        listen: { portal: { port: 0 }, admin: { port: 0 } },
        metrics: { token: TOKEN, listen: { host: '127.0.0.1', port: 0 } },
        log: { format: 'json' },
      }),
    )
    const service = await startService(['--config', file])
    cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
    const metricsPort = Number(
      /metrics on http:\/\/\S+?:(\d+)\/metrics/.exec(service.output())?.[1],
    )
    expect(metricsPort).toBeGreaterThan(0)
    const base = `http://127.0.0.1:${service.ports.portal}`
    const scrapeUrl = `http://127.0.0.1:${metricsPort}/metrics`

    // A customer logs in (the demo's console provider prints the code on stdout).
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'Mozilla/5.0 (Linux; Android 14; Pixel 8)',
      },
    })
    const page = await fetch(
      `${base}/login`,
      form({ name: 'Ana Sofía', phone: '55 1234 5678', consent: 'yes' }),
    )
    const challenge = /name="challenge" value="([^"]+)"/.exec(await page.text())![1]!
    let code: string | undefined
    await until(
      () =>
        (code = /\[sms\] to=\+525512345678 code=(\d{6})/.exec(service.output())?.[1]) !== undefined,
    )
    expect((await fetch(`${base}/verify`, form({ challenge, code: code! }))).status).toBe(200)

    expect((await fetch(scrapeUrl)).status).toBe(401)
    const res = await fetch(scrapeUrl, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(sample(text, 'branchgate_funnel_total', { step: 'verified', os: 'android' })).toBe(1)
    expect(
      sample(text, 'branchgate_codes_sent_total', { provider: 'console', channel: 'sms' }),
    ).toBe(1)
    expect(samples(text).every((s) => s.labels.branch === 'mx-cdmx-001')).toBe(true)
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(10_000_000)
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds')
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(((await ready.json()) as { status: string }).status).toBe('ready')
    // Neither the portal nor the console listener serves them when they have their own.
    expect((await fetch(`${base}/metrics`)).status).toBe(404)
    const onConsole = await fetch(`http://127.0.0.1:${service.ports.console}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      redirect: 'manual',
    })
    expect(onConsole.status).not.toBe(200)

    if (promtoolMissing() === null) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
      expect(r.stdout + r.stderr).toBe('')
      expect(r.status).toBe(0)
    }

    expect(await service.stop()).toBe(0)
    // The log (standard error): one JSON object per line, nothing personal in any of them.
    const log = service
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
    expect(log.length).toBeGreaterThan(5)
    const events = log.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const e of events)
      expect(e).toMatchObject({ branch: 'mx-cdmx-001', time: expect.any(String) })
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['service.started', 'code.sent', 'device.let_through']),
    )
    const all = log.join('\n')
    expect(all).not.toContain('5512345678')
    expect(all).not.toContain('Ana')
    expect(all).not.toContain(code!)
    expect(all).not.toMatch(/([0-9a-f]{2}:){5}[0-9a-f]{2}/i)
    expect(all).not.toContain(TOKEN)
  })
})
