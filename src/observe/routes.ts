import { Hono } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import { hostCheck, type HostRules } from '../host-check.js'
import type { PrometheusMetrics } from './prometheus.js'
import { readinessOf } from './readiness.js'
import type { BranchState } from './state.js'

export interface ObserveRouteDeps {
  config: Config
  /** The registry /metrics exposes. */
  prometheus: PrometheusMetrics
  /** One reading of the branch per request (state gauges, readiness). */
  state: { read(): BranchState }
  clock: Clock
  /** The names the listener answers to (the console's, or the metrics listener's). */
  hosts: HostRules
  log: (line: string) => void
}

/**
 * GET /metrics (Prometheus text format) and GET /readyz (what is degraded, JSON), for the admin
 * side only: mounted on the console listener before the console's own pages, or on a listener
 * of their own (`metrics.listen`). Never on the portal. With `metrics.token` set, both want
 * `Authorization: Bearer <token>` (Hono's bearerAuth compares in constant time).
 */
export function observeRoutes(deps: ObserveRouteDeps) {
  const { config, prometheus, clock } = deps
  const app = new Hono()
  // Only these two paths: the app is mounted in front of the console's pages.
  for (const path of ['/metrics', '/readyz']) {
    app.use(
      path,
      hostCheck(deps.hosts, (c) =>
        c.text('unknown host name for this listener\n', 421, { 'Cache-Control': 'no-store' }),
      ),
    )
    if (config.metrics.token) {
      const auth = bearerAuth({ token: config.metrics.token })
      // Its 401 answered here: the console's error boundary behind would render a page.
      app.use(path, async (c, next) => {
        try {
          return await auth(c, next)
        } catch (err) {
          if (err instanceof HTTPException) return err.getResponse()
          throw err
        }
      })
    }
  }

  /** The state, or why it could not be read (a damaged database must not hide the counters). */
  const readState = (): BranchState | { error: string } => {
    try {
      return deps.state.read()
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      deps.log(`metrics: cannot read the branch state: ${message}`)
      return { error: message }
    }
  }

  app.get('/metrics', async (c) => {
    const state = readState()
    if (!('error' in state)) prometheus.update(state)
    const body = await prometheus.scrape()
    return c.body(body, 200, {
      'Content-Type': prometheus.contentType,
      'Cache-Control': 'no-store',
    })
  })

  app.get('/readyz', (c) => {
    const r = readinessOf(config, readState(), clock.now())
    return c.json(r, r.status === 'ready' ? 200 : 503, { 'Cache-Control': 'no-store' })
  })

  return app
}
