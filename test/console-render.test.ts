import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { createRender, type ConsoleEnv } from '../src/console/render.js'
import { loadViews } from '../src/views.js'

describe('the console page renderer', () => {
  it('draws an error page in Spanish when it fails before the session chose a language', async () => {
    const config = loadConfig('{}')
    const render = createRender({ views: loadViews(), branch: config.branch, passByMinutes: 5 })
    const app = new Hono<ConsoleEnv>()
    app.get('/', () => {
      throw new Error('the session store is gone')
    })
    app.onError((_err, c) => render(c, 'console/error', { title: 'Algo salió mal' }, 500))
    const res = await app.request('/')
    expect(res.status).toBe(500)
    const html = await res.text()
    expect(html).toContain('lang="es')
    expect(html).toContain('Algo salió mal')
  })
})
