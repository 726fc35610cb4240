import { afterEach, describe, expect, it } from 'vitest'
import { BUILD } from '../src/version.js'
import { consoleHarness } from './console-harness.js'

let h: ReturnType<typeof consoleHarness>
afterEach(() => h?.close())

describe('the console footer', () => {
  it('shows the version and the commit to a signed-in manager, in their language, and not on the sign-in page', async () => {
    h = consoleHarness()
    const b = await h.signedIn('maria', 'manager')
    const es = await (await b.get('/')).text()
    expect(es).toContain(
      `<footer class="build">branchgate ${BUILD.version} (compilación ${BUILD.commit})</footer>`,
    )
    const en = await (await b.get('/visits?lang=en')).text()
    expect(en).toContain(
      `<footer class="build">branchgate ${BUILD.version} (commit ${BUILD.commit})</footer>`,
    )
    const signIn = await (await h.browser().get('/login')).text()
    expect(signIn).not.toContain('class="build"')
  })
})
