import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { AuditStatements } from '../db/audit.js'
import type { ConsoleRole, ConsoleUserStatements } from '../db/console.js'
import {
  dummyHash,
  hashPassword,
  passwordProblem,
  randomPassword,
  verifyPassword,
  type ScryptCost,
} from './passwords.js'

/** How sign-ins are throttled and sessions expire (from config `console`). */
export interface ConsoleAuthPolicy {
  sessionIdleMinutes: number
  sessionMaxHours: number
  maxFailuresPerUser: number
  maxFailuresPerIp: number
  loginWindowMinutes: number
}

/** Who is signed in on a request. */
export interface ConsoleUser {
  id: number
  name: string
  role: ConsoleRole
  mustChange: boolean
  csrf: string
  tokenHash: string
}

/** Sign-in refused; `retryAfterSeconds` is set when throttled. */
export class ConsoleLoginError extends Error {
  constructor(
    readonly reason: 'invalid' | 'throttled',
    readonly retryAfterSeconds = 0,
  ) {
    super(
      reason === 'throttled'
        ? `sign-in throttled for ${retryAfterSeconds}s`
        : 'wrong user name or password',
    )
    this.name = 'ConsoleLoginError'
  }
}

/** A user-management request that cannot be done; the message is shown as is. */
export class AccountError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AccountError'
  }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/
const MINUTE = 60_000

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex')

/** Constant-time comparison of two short strings (CSRF tokens). */
export function sameToken(a: string | undefined, b: string): boolean {
  if (a === undefined) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export interface ConsoleAuthDeps {
  users: ConsoleUserStatements
  audit: AuditStatements
  clock: Clock
  policy: ConsoleAuthPolicy
  /** scrypt cost of new password hashes: production's in the service, a small one in tests. */
  passwordCost: ScryptCost
}

/** Console accounts, sign-in with throttling, and sessions. Used by the routes and the CLI. */
export function createConsoleAuth(deps: ConsoleAuthDeps) {
  const { users, audit, clock, policy } = deps
  const unknownUserHash = dummyHash(deps.passwordCost)

  function checkName(name: string) {
    if (!NAME_RE.test(name)) {
      throw new AccountError(
        'user names are 1–40 letters, digits, ".", "_" or "-", starting with a letter or digit',
      )
    }
  }

  /**
   * The throttle of every password check (sign-in, or the current password when changing it):
   * refused when the name or the address has too many failures in the window; otherwise the
   * attempt is counted as a failure now, in the same synchronous step as the check and before
   * the hash is awaited, so checks that arrive together see each other (counting after the
   * hash let 40 parallel guesses through). Returns the attempt's id, to take it back on success.
   */
  function countAttempt(subject: string, ip: string, now: number): number {
    const windowMs = policy.loginWindowMinutes * MINUTE
    const since = now - windowMs
    const byUser = users.failuresOfUser(subject, since)
    const byIp = users.failuresOfIp(ip, since)
    const locked = [
      byUser.n >= policy.maxFailuresPerUser ? (byUser.first ?? now) : null,
      byIp.n >= policy.maxFailuresPerIp ? (byIp.first ?? now) : null,
    ].filter((x): x is number => x !== null)
    if (locked.length) {
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil((Math.max(...locked) + windowMs - now) / 1000),
      )
      audit.record({
        at: now,
        actor: 'console',
        action: 'console.login.throttled',
        subject,
        detail: { ip },
      })
      throw new ConsoleLoginError('throttled', retryAfterSeconds)
    }
    return users.recordFailure(subject, ip, now)
  }

  return {
    list: () => users.all().map(({ password_hash: _, ...u }) => u),
    count: () => users.count(),

    async add(
      name: string,
      role: ConsoleRole,
      password: string,
      actor: string,
      opts: { mustChange?: boolean } = {},
    ) {
      checkName(name)
      const problem = passwordProblem(password, name)
      if (problem) throw new AccountError(`password ${problem}`)
      if (users.byName(name)) throw new AccountError(`user ${name} already exists`)
      const now = clock.now()
      const row = users.insert({
        name,
        role,
        hash: await hashPassword(password, deps.passwordCost),
        mustChange: opts.mustChange ?? false,
        now,
      })
      audit.record({ at: now, actor, action: 'console.user.add', subject: name, detail: { role } })
      return row
    },

    remove(name: string, actor: string): void {
      const user = users.byName(name)
      if (!user) throw new AccountError(`no user named ${name}`)
      if (user.role === 'admin' && users.all().filter((u) => u.role === 'admin').length === 1) {
        throw new AccountError(`${name} is the last admin; add another admin first`)
      }
      users.remove(name)
      audit.record({ at: clock.now(), actor, action: 'console.user.remove', subject: user.name })
    },

    /** Sets a new password and ends the user's sessions everywhere. */
    async setPassword(name: string, password: string, actor: string): Promise<void> {
      const user = users.byName(name)
      if (!user) throw new AccountError(`no user named ${name}`)
      const problem = passwordProblem(password, user.name)
      if (problem) throw new AccountError(`password ${problem}`)
      const now = clock.now()
      users.setPassword(user.id, await hashPassword(password, deps.passwordCost), false, now)
      users.endSessionsOf(user.id)
      audit.record({ at: now, actor, action: 'console.user.passwd', subject: user.name })
    },

    /**
     * Demo start: when nobody can sign in yet, creates `admin` with a random password that must be
     * changed at first sign-in, and returns it (to print once). Null when users exist.
     */
    async createFirstAdmin(): Promise<{ name: string; password: string } | null> {
      if (users.count() > 0) return null
      const password = randomPassword()
      await this.add('admin', 'admin', password, 'system', { mustChange: true })
      return { name: 'admin', password }
    },

    /**
     * Checks a sign-in. Throttled per user name and per client address over the window, whether
     * or not the name exists, and before the password is even looked at (countAttempt). A
     * success takes its own attempt back, with the name's earlier failures.
     */
    async login(
      name: string,
      password: string,
      ip: string,
    ): Promise<{ token: string; user: ConsoleUser }> {
      const now = clock.now()
      const subject = name.slice(0, 40)
      const attempt = countAttempt(subject, ip, now)
      const user = users.byName(name)
      const ok = await verifyPassword(password, user?.password_hash ?? (await unknownUserHash()))
      if (!user || !ok) {
        audit.record({
          at: now,
          actor: 'console',
          action: 'console.login.failed',
          subject,
          reason: user ? 'wrong-password' : 'unknown-user',
          detail: { ip },
        })
        throw new ConsoleLoginError('invalid')
      }
      users.clearFailuresUpTo(user.name, attempt)
      users.pruneFailures(now - 24 * 60 * MINUTE)
      users.endStale(
        now - policy.sessionIdleMinutes * MINUTE,
        now - policy.sessionMaxHours * 60 * MINUTE,
      )
      users.loggedIn(user.id, now)
      const token = randomBytes(32).toString('base64url')
      const csrf = randomBytes(24).toString('base64url')
      const hash = tokenHash(token)
      users.insertSession({ tokenHash: hash, userId: user.id, csrf, ip, now })
      audit.record({
        at: now,
        actor: `user:${user.name}`,
        action: 'console.login',
        subject: user.name,
        detail: { ip },
      })
      return {
        token,
        user: {
          id: user.id,
          name: user.name,
          role: user.role,
          mustChange: user.must_change === 1,
          csrf,
          tokenHash: hash,
        },
      }
    },

    /** The signed-in user for a cookie token, or null when unknown or expired (then it is ended). */
    session(token: string | undefined): ConsoleUser | null {
      if (!token || token.length > 100) return null
      const hash = tokenHash(token)
      const s = users.session(hash)
      if (!s) return null
      const now = clock.now()
      if (
        now - s.last_seen_at > policy.sessionIdleMinutes * MINUTE ||
        now - s.created_at > policy.sessionMaxHours * 60 * MINUTE
      ) {
        users.endSession(hash)
        return null
      }
      // Written at most once a minute: reading a page should not mean a write every time.
      if (now - s.last_seen_at > MINUTE) users.touchSession(hash, now)
      return {
        id: s.user_id,
        name: s.name,
        role: s.role,
        mustChange: s.must_change === 1,
        csrf: s.csrf,
        tokenHash: hash,
      }
    },

    logout(user: ConsoleUser): void {
      users.endSession(user.tokenHash)
      audit.record({
        at: clock.now(),
        actor: `user:${user.name}`,
        action: 'console.logout',
        subject: user.name,
      })
    },

    /**
     * A signed-in user changes their own password (current one required); other sessions end.
     * The current password is throttled like a sign-in, on the same counters: a session left
     * open is no way to guess it (ConsoleLoginError 'throttled').
     */
    async changeOwnPassword(
      user: ConsoleUser,
      current: string,
      next: string,
      ip: string,
    ): Promise<void> {
      const attempt = countAttempt(user.name, ip, clock.now())
      const row = users.byId(user.id)
      if (!row || !(await verifyPassword(current, row.password_hash))) {
        audit.record({
          at: clock.now(),
          actor: `user:${user.name}`,
          action: 'console.login.failed',
          subject: user.name,
          reason: 'wrong-current-password',
          detail: { ip },
        })
        throw new AccountError('wrong-current')
      }
      users.clearFailuresUpTo(row.name, attempt)
      const problem = passwordProblem(next, row.name)
      if (problem) throw new AccountError('weak')
      const now = clock.now()
      users.setPassword(row.id, await hashPassword(next, deps.passwordCost), false, now)
      users.endSessionsOf(row.id)
      users.insertSession({
        tokenHash: user.tokenHash,
        userId: row.id,
        csrf: user.csrf,
        ip: null,
        now,
      })
      audit.record({
        at: now,
        actor: `user:${row.name}`,
        action: 'console.user.passwd',
        subject: row.name,
      })
    },
  }
}
export type ConsoleAuth = ReturnType<typeof createConsoleAuth>
