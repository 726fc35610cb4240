import type { Db } from './open.js'

/** One line of the audit log: who did what to whom, and why. */
export interface AuditEntry {
  at: number
  /** 'portal', 'system', 'cli', or 'user:NAME'. */
  actor: string
  /** Dotted verb, e.g. 'device.allow', 'device.revoke', 'customer.verify'. */
  action: string
  subject?: string | null
  reason?: string | null
  detail?: Record<string, unknown> | null
}

export function auditStatements(db: Db) {
  const insert = db.prepare(
    `INSERT INTO audit_log (at, actor, action, subject, reason, detail)
     VALUES (@at, @actor, @action, @subject, @reason, @detail)`,
  )
  return {
    record(e: AuditEntry): void {
      insert.run({
        at: e.at,
        actor: e.actor,
        action: e.action,
        subject: e.subject ?? null,
        reason: e.reason ?? null,
        detail: e.detail ? JSON.stringify(e.detail) : null,
      })
    },
  }
}
export type AuditStatements = ReturnType<typeof auditStatements>
