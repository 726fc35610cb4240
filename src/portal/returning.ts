import type { CustomerStatements } from '../db/customers.js'

/** How long a verified device and a verified number are trusted. Days; see config remember/reverify. */
export interface RememberPolicy {
  /** remember.days: a device verified this recently gets "welcome back"; 0 means never. */
  rememberDays: number
  /** reverify.days: after this long since the number's last code, a code is asked again. */
  reverifyDays: number
}

const DAY = 86_400_000

/** What the portal knows about the device asking, from one database read. */
export type DeviceStanding =
  /** Nothing useful: the splash page. */
  | { kind: 'unknown' }
  /** A staff device: through without the portal. */
  | { kind: 'staff' }
  /** Verified recently on this device, and the number is fresh: one button, no code. */
  | { kind: 'remembered'; customerId: number; name: string }
  /** A known customer whose device or number needs a code again: the splash with the name kept. */
  | { kind: 'expired'; customerId: number; name: string }

type DeviceRow = ReturnType<CustomerStatements['deviceWithCustomer']>

/** Decides the device's standing. Pure: the row, the time, the policy. */
export function standingOf(
  row: DeviceRow,
  now: number,
  policy: RememberPolicy,
  isStaffMac: boolean,
): DeviceStanding {
  if (isStaffMac || row?.is_staff === 1) return { kind: 'staff' }
  if (!row || row.customer_id === null || row.name === null) return { kind: 'unknown' }
  const customer = { customerId: row.customer_id, name: row.name }
  const deviceFresh =
    policy.rememberDays > 0 &&
    row.verified_at !== null &&
    now - row.verified_at <= policy.rememberDays * DAY
  const numberFresh =
    row.last_verified_at !== null && now - row.last_verified_at <= policy.reverifyDays * DAY
  // A changed privacy notice does not end "welcome back": the welcome-back page asks to accept
  // it (src/portal/routes.ts, issue 15), as trusted as the one-tap welcome back itself.
  return deviceFresh && numberFresh
    ? { kind: 'remembered', ...customer }
    : { kind: 'expired', ...customer }
}
