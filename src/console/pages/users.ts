import { Hono, type Context } from 'hono'
import { AccountError, ConsoleLoginError, type ConsoleAuth } from '../auth.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { adminOnly, throttledSentence } from '../session.js'

export interface UsersDeps {
  render: Render
  auth: Pick<ConsoleAuth, 'list' | 'changeOwnPassword'>
  clientAddress: (c: Context) => string | undefined
}

/** The console's users (`/users`, admins) and one's own password (`/password`). */
export function usersPage(deps: UsersDeps) {
  const { render } = deps
  const app = new Hono<ConsoleEnv>()

  app.get('/users', adminOnly, (c) => render(c, 'console/users', { users: deps.auth.list() }))

  app.get('/password', (c) => render(c, 'console/password', { forced: c.get('user')!.mustChange }))

  app.post('/password', async (c) => {
    const form = c.get('form')
    const user = c.get('user')!
    // The field the refusal is about is marked and tied to the sentence (aria-describedby).
    const refuse = (error: string, status: 422 | 429, field: string | null = null) =>
      render(c, 'console/password', { forced: user.mustChange, error, field }, status)
    if ((form.next ?? '') !== (form.again ?? '')) {
      return refuse(ct(c.get('locale'), 'password.mismatch'), 422, 'again')
    }
    try {
      await deps.auth.changeOwnPassword(
        user,
        form.current ?? '',
        form.next ?? '',
        deps.clientAddress(c) ?? 'unknown',
      )
    } catch (err) {
      if (err instanceof ConsoleLoginError) return refuse(throttledSentence(c, err), 429)
      if (!(err instanceof AccountError)) throw err
      const wrong = err.message === 'wrong-current'
      const key = wrong ? 'password.wrongCurrent' : 'password.weak'
      return refuse(ct(c.get('locale'), key), 422, wrong ? 'current' : 'next')
    }
    return c.redirect('/?changed=1', 303)
  })

  return app
}
