import type { Db } from './open.js'

/** An open visit as the presence sweep sees it. Times are UTC epoch ms. */
export interface OpenVisitRow {
  id: string
  customer_id: number
  started_at: number
  last_seen_at: number
}

/** An open visit as the sweep reads it: [id, customer_id, started_at, last_seen_at, rowid]. */
export type OpenVisitTuple = [string, number, number, number, number]

/**
 * A device the sweep may count, as its memory reads it (src/visits/presence-rows.ts), with what
 * decides at each sweep's time whether it counts: [mac, customer_id, is_staff, last_seen_at,
 * verified_at, live_until (the latest end of its live authorizations, or null: none, or not
 * looked at because the device stays remembered until the horizon asked for), pass_id and
 * pass_until (a live staff pass's, or null)].
 */
export type TrackedDeviceRow = [
  string,
  number | null,
  0 | 1,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
]

/** A visit as the CLI and reports show it. */
export interface VisitReportRow {
  id: string
  customer_id: number | null
  name: string | null
  phone_e164: string | null
  started_at: number
  last_seen_at: number
  ended_at: number | null
  end_reason: string | null
  /** Null while the visit is open: it is a pass-by or not only once it has ended. */
  pass_by: 0 | 1 | null
}

/**
 * Prepared statements over visits and the presence columns of devices.
 *
 * A visitor is a customer (its id) or a staff pass (its id negated, issue 17): the visit rules
 * then need no second kind of visitor. Only these statements know how each is stored
 * (`customer_id`, or `pass_id` with no customer).
 */
export function visitStatements(db: Db) {
  // Rows as arrays (raw): a sweep reads thousands, and objects cost it twice the time.
  const openAll = db
    .prepare(
      `SELECT id, coalesce(customer_id, -pass_id) AS customer_id, started_at, last_seen_at, rowid FROM visits
       WHERE ended_at IS NULL AND (customer_id IS NOT NULL OR pass_id IS NOT NULL)`,
    )
    .raw()
  const openFor = db.prepare(
    `SELECT id, customer_id, started_at, last_seen_at FROM visits
     WHERE customer_id = @customerId AND ended_at IS NULL LIMIT 1`,
  )
  const openForPass = db.prepare(
    `SELECT id, -pass_id AS customer_id, started_at, last_seen_at FROM visits
     WHERE pass_id = @passId AND customer_id IS NULL AND ended_at IS NULL LIMIT 1`,
  )
  const insert = db.prepare(
    `INSERT INTO visits (id, customer_id, pass_id, branch_id, started_at, last_seen_at)
     VALUES (@id, CASE WHEN @customerId > 0 THEN @customerId END,
       CASE WHEN @customerId < 0 THEN -@customerId END, @branchId, @startedAt, @lastSeenAt)`,
  )
  // MAX: a late or backward observation never moves the last activity back.
  const touch = db.prepare(
    `UPDATE visits SET last_seen_at = MAX(last_seen_at, @lastSeenAt) WHERE id = @id AND ended_at IS NULL`,
  )
  // Many visits in one statement: one call into SQLite for a sweep's thousands of rows.
  const touchMany = db.prepare(
    `UPDATE visits SET last_seen_at = MAX(visits.last_seen_at, j.value ->> 1)
     FROM json_each(@rows) AS j
     WHERE visits.id = j.value ->> 0 AND visits.ended_at IS NULL`,
  )
  // By rowid, as the sweep's memory has it: one seek instead of two (the id's index, then the
  // row), half the cost of a visit's write (issue 20). The id must match too: a VACUUM may have
  // renumbered the rows since they were read.
  const touchAt = db.prepare(
    `UPDATE visits SET last_seen_at = MAX(last_seen_at, @lastSeenAt)
     WHERE rowid = @rowid AND id = @id AND ended_at IS NULL`,
  )
  // The last activity the sweep knew may be newer than the stored one (written once a step).
  const close = db.prepare(
    `UPDATE visits SET ended_at = @endedAt, end_reason = @reason, pass_by = @passBy,
            last_seen_at = MAX(last_seen_at, @endedAt)
     WHERE id = @id AND ended_at IS NULL`,
  )
  // Only rows written on the old clock: after a forward step those seen at or before the last
  // sweep; after a backward step those that now lie in the future. A visit a login opened on the
  // new clock between the step and the sweep stays as it is.
  const rebase = db.prepare(
    `UPDATE visits SET started_at = started_at + @stepMs, last_seen_at = last_seen_at + @stepMs
     WHERE ended_at IS NULL
       AND ((@stepMs > 0 AND last_seen_at <= @lastSweepAt) OR (@stepMs < 0 AND last_seen_at > @now))`,
  )
  const between = db.prepare(
    `SELECT v.id, v.customer_id, c.name, c.phone_e164, v.started_at, v.last_seen_at, v.ended_at,
            v.end_reason, CASE WHEN v.ended_at IS NULL THEN NULL ELSE v.pass_by END AS pass_by
     FROM visits v LEFT JOIN customers c ON c.id = v.customer_id
     WHERE v.started_at >= @from AND v.started_at < @to
     ORDER BY v.started_at, v.id`,
  )
  // The devices the sweep cares about (staff, remembered, or with live access), with the times that decide later sweeps instead of
  // the answer at `now`: as time passes a device can only stop counting (an authorization ends,
  // a verification falls out of remember.days), never start, without a write that moves
  // change_counts (migration 016). A device that stays remembered until @horizon needs no look at
  // its authorizations before then (live_until NULL: the reader reads again at @horizon); most
  // are, and that look was most of the query. Duplicates (two live passes on one MAC) are left
  // to the reader.
  const trackedRows = db
    .prepare(
      `SELECT d.mac, d.customer_id, d.is_staff, d.last_seen_at, d.verified_at,
            CASE WHEN d.customer_id IS NOT NULL AND d.verified_at >= @rememberSince + (@horizon - @now)
                 THEN NULL
                 ELSE (SELECT max(a.ends_at) FROM authorizations a
                       WHERE a.mac = d.mac AND a.ended_at IS NULL) END AS live_until,
            p.pass_id, p.ends_at AS pass_until
     FROM devices d
     LEFT JOIN authorizations p ON p.mac = d.mac AND p.ended_at IS NULL AND p.ends_at > @now
       AND p.pass_id IS NOT NULL
     WHERE d.is_staff = 1
        OR (d.customer_id IS NOT NULL AND d.verified_at >= @rememberSince)
        OR d.mac IN (SELECT mac FROM authorizations WHERE ended_at IS NULL AND ends_at > @now)`,
    )
    .raw()
  // Moved by triggers on every change to what openAll and trackedRows read (migration 016).
  const changeCounts = db
    .prepare(`SELECT n FROM change_counts WHERE id IN (1, 2) ORDER BY id`)
    .pluck()
  const touchDevice = db.prepare(
    `UPDATE devices SET last_seen_at = MAX(last_seen_at, @at) WHERE mac = @mac`,
  )
  const touchDevices = db.prepare(
    `UPDATE devices SET last_seen_at = MAX(devices.last_seen_at, j.value ->> 1)
     FROM json_each(@rows) AS j
     WHERE devices.mac = j.value ->> 0`,
  )
  return {
    /** Open visits as [id, visitor (customer id, or a pass's id negated), started_at, last_seen_at, rowid]. */
    openAll: () => openAll.all() as OpenVisitTuple[],
    /** The open visit of a visitor: a customer id, or a pass's id negated. */
    openFor: (visitor: number) =>
      (visitor < 0
        ? openForPass.get({ passId: -visitor })
        : openFor.get({ customerId: visitor })) as OpenVisitRow | undefined,
    insert: (v: {
      id: string
      customerId: number
      branchId: string
      startedAt: number
      lastSeenAt: number
    }) => insert.run(v),
    touch: (id: string, lastSeenAt: number) => touch.run({ id, lastSeenAt }),
    /** Moves the last activity of many open visits forward: [visit id, UTC ms] pairs. */
    touchMany: (rows: ReadonlyArray<readonly [string, number]>) =>
      rows.length ? touchMany.run({ rows: JSON.stringify(rows) }).changes : 0,
    /**
     * `touchMany` for open visits whose rowid is known (read by `openAll`): each found by its
     * rowid, or by its id when that rowid is no longer its own. Rows changed.
     */
    touchKnown: (
      rows: ReadonlyArray<{ readonly id: string; readonly rowid: number; lastSeenAt: number }>,
    ) => {
      let changed = 0
      let missed: Array<[string, number]> | null = null
      for (const r of rows) {
        if (touchAt.run(r).changes > 0) changed++
        else (missed ??= []).push([r.id, r.lastSeenAt])
      }
      return missed ? changed + touchMany.run({ rows: JSON.stringify(missed) }).changes : changed
    },
    /** Low level; call `closeVisit` from src/visits/book.ts, the one place a visit ends. */
    close: (c: { id: string; endedAt: number; reason: string; passBy: boolean }) =>
      close.run({ ...c, passBy: c.passBy ? 1 : 0 }).changes,
    /**
     * Shifts the open visits written on the old clock by a clock step (ms, negative when the clock
     * went back), so their durations stay true. `lastSweepAt` is the previous sweep's wall time.
     */
    rebaseOpen: (stepMs: number, lastSweepAt: number, now: number) =>
      rebase.run({ stepMs, lastSweepAt, now }).changes,
    /** Visits that started in [from, to), with their customer. */
    between: (from: number, to: number) => between.all({ from, to }) as VisitReportRow[],
    /**
     * Devices the sweep cares about (staff, remembered, or with live access; a device on a staff
     * pass counts for the pass, its visitor id negated), with what decides later sweeps (see
     * TrackedDeviceRow); for the sweep's memory.
     */
    trackedRows: (now: number, rememberSince: number, horizon: number) =>
      trackedRows.all({ now, rememberSince, horizon }) as TrackedDeviceRow[],
    /**
     * How often what `openAll` and `trackedRows` read has changed, by any connection: [open
     * visits, tracked devices]. Equal counts mean equal rows (migration 016's triggers).
     */
    changeCounts: (): [number, number] => {
      const [visits, devices] = changeCounts.all() as number[]
      return [visits!, devices!]
    },
    touchDevice: (mac: string, at: number) => touchDevice.run({ mac, at }),
    /** Moves many devices' last seen forward: [MAC, UTC ms] pairs. */
    touchDevices: (rows: ReadonlyArray<readonly [string, number]>) =>
      rows.length ? touchDevices.run({ rows: JSON.stringify(rows) }).changes : 0,
  }
}
export type VisitStatements = ReturnType<typeof visitStatements>
