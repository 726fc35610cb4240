import type { Db } from './open.js'

export type ConsoleRole = 'manager' | 'admin'
export const CONSOLE_ROLES: readonly ConsoleRole[] = ['manager', 'admin']

export interface ConsoleUserRow {
  id: number
  name: string
  role: ConsoleRole
  password_hash: string
  must_change: number
  created_at: number
  password_changed_at: number
  last_login_at: number | null
}

export interface ConsoleSessionRow {
  token_hash: string
  user_id: number
  csrf: string
  ip: string | null
  created_at: number
  last_seen_at: number
}

/** Prepared statements over console_users, console_sessions and console_login_failures. */
export function consoleUserStatements(db: Db) {
  const all = db.prepare(`SELECT * FROM console_users ORDER BY name`)
  const count = db.prepare(`SELECT COUNT(*) AS n FROM console_users`)
  const byName = db.prepare(`SELECT * FROM console_users WHERE name = @name`)
  const byId = db.prepare(`SELECT * FROM console_users WHERE id = @id`)
  const insert = db.prepare(
    `INSERT INTO console_users (name, role, password_hash, must_change, created_at, password_changed_at)
     VALUES (@name, @role, @hash, @mustChange, @now, @now) RETURNING *`,
  )
  const remove = db.prepare(`DELETE FROM console_users WHERE name = @name`)
  const setPassword = db.prepare(
    `UPDATE console_users SET password_hash = @hash, must_change = @mustChange, password_changed_at = @now
     WHERE id = @id`,
  )
  const loggedIn = db.prepare(`UPDATE console_users SET last_login_at = @now WHERE id = @id`)
  const insertSession = db.prepare(
    `INSERT INTO console_sessions (token_hash, user_id, csrf, ip, created_at, last_seen_at)
     VALUES (@tokenHash, @userId, @csrf, @ip, @now, @now)`,
  )
  const session = db.prepare(
    `SELECT s.*, u.name, u.role, u.must_change FROM console_sessions s
     JOIN console_users u ON u.id = s.user_id WHERE s.token_hash = @tokenHash`,
  )
  const touchSession = db.prepare(
    `UPDATE console_sessions SET last_seen_at = @now WHERE token_hash = @tokenHash`,
  )
  const endSession = db.prepare(`DELETE FROM console_sessions WHERE token_hash = @tokenHash`)
  const endSessionsOf = db.prepare(`DELETE FROM console_sessions WHERE user_id = @userId`)
  const endStale = db.prepare(
    `DELETE FROM console_sessions WHERE last_seen_at < @idleBefore OR created_at < @createdBefore`,
  )
  const insertFailure = db.prepare(
    `INSERT INTO console_login_failures (at, user_name, ip) VALUES (@now, @userName, @ip)`,
  )
  const failuresOfUser = db.prepare(
    `SELECT COUNT(*) AS n, MIN(at) AS first FROM console_login_failures WHERE user_name = @userName AND at >= @since`,
  )
  const failuresOfIp = db.prepare(
    `SELECT COUNT(*) AS n, MIN(at) AS first FROM console_login_failures WHERE ip = @ip AND at >= @since`,
  )
  const clearFailuresUpTo = db.prepare(
    `DELETE FROM console_login_failures WHERE user_name = @userName AND id <= @id`,
  )
  const pruneFailures = db.prepare(`DELETE FROM console_login_failures WHERE at < @before`)
  return {
    all: () => all.all() as ConsoleUserRow[],
    count: () => (count.get() as { n: number }).n,
    byName: (name: string) => byName.get({ name }) as ConsoleUserRow | undefined,
    byId: (id: number) => byId.get({ id }) as ConsoleUserRow | undefined,
    insert: (u: {
      name: string
      role: ConsoleRole
      hash: string
      mustChange: boolean
      now: number
    }) => insert.get({ ...u, mustChange: u.mustChange ? 1 : 0 }) as ConsoleUserRow,
    remove: (name: string) => remove.run({ name }).changes,
    setPassword: (id: number, hash: string, mustChange: boolean, now: number) =>
      setPassword.run({ id, hash, mustChange: mustChange ? 1 : 0, now }).changes,
    loggedIn: (id: number, now: number) => loggedIn.run({ id, now }),
    insertSession: (s: {
      tokenHash: string
      userId: number
      csrf: string
      ip: string | null
      now: number
    }) => insertSession.run(s),
    session: (tokenHash: string) =>
      session.get({ tokenHash }) as
        (ConsoleSessionRow & { name: string; role: ConsoleRole; must_change: number }) | undefined,
    touchSession: (tokenHash: string, now: number) => touchSession.run({ tokenHash, now }),
    endSession: (tokenHash: string) => endSession.run({ tokenHash }).changes,
    endSessionsOf: (userId: number) => endSessionsOf.run({ userId }).changes,
    endStale: (idleBefore: number, createdBefore: number) =>
      endStale.run({ idleBefore, createdBefore }).changes,
    /** Records a failed (or still undecided) sign-in; returns its id. */
    recordFailure: (userName: string, ip: string, now: number) =>
      Number(insertFailure.run({ userName, ip, now }).lastInsertRowid),
    failuresOfUser: (userName: string, since: number) =>
      failuresOfUser.get({ userName, since }) as { n: number; first: number | null },
    failuresOfIp: (ip: string, since: number) =>
      failuresOfIp.get({ ip, since }) as { n: number; first: number | null },
    /** Forgets a name's failures up to attempt `id`; attempts still being judged are kept. */
    clearFailuresUpTo: (userName: string, id: number) => clearFailuresUpTo.run({ userName, id }),
    pruneFailures: (before: number) => pruneFailures.run({ before }),
  }
}
export type ConsoleUserStatements = ReturnType<typeof consoleUserStatements>

export interface AuditRow {
  id: number
  at: number
  actor: string
  action: string
  subject: string | null
  reason: string | null
  detail: string | null
}

/** The audit log read back for admins: newest first, by page, optionally by action prefix. */
export function consoleAuditStatements(db: Db) {
  const page = db.prepare(
    `SELECT id, at, actor, action, subject, reason, detail FROM audit_log
     WHERE id < @beforeId AND action LIKE @prefix ESCAPE '\\'
     ORDER BY id DESC LIMIT @limit`,
  )
  return {
    page(p: { beforeId: number | null; actionPrefix: string; limit: number }): AuditRow[] {
      const prefix = p.actionPrefix.replace(/[\\%_]/g, (ch) => `\\${ch}`) + '%'
      return page.all({
        beforeId: p.beforeId ?? Number.MAX_SAFE_INTEGER,
        prefix,
        limit: p.limit,
      }) as AuditRow[]
    },
  }
}
