import type { Db } from '../src/db/open.js'

/** Branch time of the seeded data: America/Mexico_City is UTC−6 all year (no DST since 2022). */
export const local = (text: string) => Date.parse(`${text}:00-06:00`)

/**
 * A small week at the branch, checked by hand in console-dashboard.test.ts. The fake clock's
 * 2026-03-02T15:00Z is Monday 2 March, 09:00 at the branch.
 */
export function seedWeek(db: Db) {
  const customer = db.prepare(
    `INSERT INTO customers (id, phone_e164, name, locale, first_verified_at, last_verified_at, updated_at)
     VALUES (@id, @phone, @name, 'es', @at, @at, @at)`,
  )
  const device = db.prepare(
    `INSERT INTO devices (mac, customer_id, first_seen_at, last_seen_at, is_staff) VALUES (@mac, @id, @at, @at, @staff)`,
  )
  const visit = db.prepare(
    `INSERT INTO visits (id, customer_id, branch_id, started_at, last_seen_at, ended_at, end_reason)
     VALUES (@vid, @id, 'demo', @start, @last, @end, @reason)`,
  )
  const people = [
    { id: 1, phone: '+525512345601', name: 'Ana López', mac: '3a:00:00:00:00:01', staff: 0 },
    { id: 2, phone: '+525512345602', name: 'Beto Ruiz', mac: '3a:00:00:00:00:02', staff: 0 },
    { id: 3, phone: '+525512345603', name: 'Carla Núñez', mac: '3a:00:00:00:00:03', staff: 0 },
    { id: 4, phone: '+525512345604', name: 'Sam Staff', mac: '3a:00:00:00:00:04', staff: 1 },
    { id: 5, phone: '+525512345605', name: 'Dana Pérez', mac: '3a:00:00:00:00:05', staff: 0 },
  ]
  for (const p of people) {
    customer.run({ ...p, at: local('2026-02-01T09:00') })
    device.run({ mac: p.mac, id: p.id, at: local('2026-02-01T09:00'), staff: p.staff })
  }
  let n = 0
  const add = (id: number, start: string, minutes: number, open = false) => {
    const s = local(start)
    const end = s + minutes * 60_000
    visit.run({
      vid: `v${String(++n).padStart(2, '0')}`,
      id,
      start: s,
      last: end,
      end: open ? null : end,
      reason: open ? null : 'left',
    })
  }
  add(1, '2026-02-20T10:00', 20) // Ana, before the week: she is returning
  add(2, '2026-02-23T23:30', 10) // Beto, Monday 23 local (already the 24th in UTC): before the week
  add(5, '2026-02-24T00:10', 6) // Dana, first ever: new
  add(1, '2026-02-25T10:10', 12)
  add(2, '2026-02-25T10:40', 3)
  add(4, '2026-02-25T12:00', 30) // staff: left out
  add(2, '2026-02-26T11:00', 1) // pass-by: left out
  add(1, '2026-02-27T17:30', 45)
  add(3, '2026-03-01T23:50', 75) // Carla, new, crosses midnight: counted on Sunday
  add(3, '2026-03-02T08:30', 28, true) // Carla, at the branch now
  add(4, '2026-03-02T08:45', 14, true) // staff, at the branch now: left out
}
