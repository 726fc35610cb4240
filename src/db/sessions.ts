import type { Db } from './open.js'

/** Prepared statements the session policy needs: what expired, what went idle, who is staff. */
export function sessionStatements(db: Db) {
  const expired = db.prepare(
    `SELECT DISTINCT mac FROM authorizations WHERE ended_at IS NULL AND ends_at <= @now ORDER BY mac`,
  )
  // A device's last sign of life is its device row's last_seen_at (kept by the presence sweep), or
  // the start of its access when it has no row yet. Staff and hand-made allows never go idle.
  const idle = db.prepare(
    `SELECT a.mac, MAX(a.starts_at, COALESCE(d.last_seen_at, 0)) AS last_active
     FROM authorizations a LEFT JOIN devices d ON d.mac = a.mac
     WHERE a.ended_at IS NULL AND a.ends_at > @now
       AND a.reason NOT IN ('staff', 'manual-allow') AND COALESCE(d.is_staff, 0) = 0
       AND MAX(a.starts_at, COALESCE(d.last_seen_at, 0)) <= @since
     ORDER BY a.mac`,
  )
  const staff = db.prepare(`SELECT mac FROM devices WHERE is_staff = 1 ORDER BY mac`)
  const markStaff = db.prepare(
    `INSERT INTO devices (mac, first_seen_at, last_seen_at, is_staff, staff_from_config)
     VALUES (@mac, @now, @now, 1, 1)
     ON CONFLICT (mac) DO UPDATE SET is_staff = 1,
       staff_from_config = CASE WHEN devices.is_staff = 1 AND devices.staff_from_config = 0 THEN 0 ELSE 1 END`,
  )
  const configStaff = db.prepare(`SELECT mac FROM devices WHERE staff_from_config = 1`)
  const unmarkStaff = db.prepare(
    `UPDATE devices SET is_staff = 0, staff_from_config = 0 WHERE mac = @mac AND staff_from_config = 1`,
  )
  return {
    /** MACs whose access ran out but was never recorded as ended. */
    expired: (now: number) => (expired.all({ now }) as Array<{ mac: string }>).map((r) => r.mac),
    /** MACs with live access and no sign of life since `since`. */
    idleSince: (now: number, since: number) =>
      idle.all({ now, since }) as Array<{ mac: string; last_active: number }>,
    /** Devices marked as staff (console). */
    staffDevices: () => (staff.all() as Array<{ mac: string }>).map((r) => r.mac),
    /**
     * Makes the devices table agree with the config's staffMacs: those MACs marked staff, and the
     * ones the config marked before but no longer lists unmarked. Devices marked by hand stay.
     */
    syncConfigStaff: db.transaction((macs: ReadonlySet<string>, now: number) => {
      for (const mac of macs) markStaff.run({ mac, now })
      for (const { mac } of configStaff.all() as Array<{ mac: string }>) {
        if (!macs.has(mac)) unmarkStaff.run({ mac })
      }
    }),
  }
}
export type SessionStatements = ReturnType<typeof sessionStatements>
