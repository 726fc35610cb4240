import ejs from 'ejs'
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

  it("reads and compiles the pages' shared parts once, not on every page", async () => {
    // EJS reads an include()d file through ejs.fileLoader; without its cache it read and
    // compiled _head and _foot again on every console page.
    const read: string[] = []
    const fileLoader = ejs.fileLoader
    ejs.fileLoader = (file: string) => {
      read.push(file)
      return fileLoader(file)
    }
    try {
      const config = loadConfig('{}')
      const render = createRender({ views: loadViews(), branch: config.branch, passByMinutes: 5 })
      const app = new Hono<ConsoleEnv>()
      app.get('/', (c) => render(c, 'console/error', { title: 'Algo salió mal' }, 500))
      for (let i = 0; i < 3; i++) expect(await (await app.request('/')).text()).toContain('</html>')
    } finally {
      ejs.fileLoader = fileLoader
    }
    expect(read.filter((f) => f.endsWith('_head.ejs')).length).toBeLessThanOrEqual(1)
    expect(read.filter((f) => f.endsWith('_foot.ejs')).length).toBeLessThanOrEqual(1)
  })
})
