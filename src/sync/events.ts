/**
 * What the CRM learns, as typed event builders. Each event type has a schema version; a change
 * to a payload's shape bumps it (and docs/crm-webhook.md gets the new JSON Schema).
 *
 * Builders are pure: they turn local rows into the exact `data` the CRM receives. Privacy rules
 * (how a MAC leaves the branch) are applied here, through the `MacPolicy` handed in.
 */

/** The customer as every customer-bearing event carries it. The marketing flag always travels. */
export interface CustomerRecord {
  /** E.164, e.g. +525512345678: the customer's key in the CRM. */
  phone: string
  name: string
  /** es or en. */
  locale: string
  /** Whether the customer currently agrees to marketing. */
  marketingConsent: boolean
  /** ISO 8601 UTC. */
  firstVerifiedAt: string
  /** ISO 8601 UTC. */
  lastVerifiedAt: string
}

/** A device as it leaves the branch: a salted hash of its MAC unless config says otherwise. */
export interface DeviceRef {
  mac: string
  /** 'hmac-sha256': hex HMAC of the canonical MAC; 'plain': the MAC itself. */
  macForm: 'hmac-sha256' | 'plain'
}

/** Maps a MAC to what may leave the branch, or null when MACs are not sent at all. */
export type MacPolicy = (mac: string) => DeviceRef | null

export const EVENT_SCHEMA_VERSIONS = {
  'customer.verified': 1,
  'customer.renamed': 1,
  'consent.given': 1,
  // v2 (issue 15): the CRM's key only, no customer record.
  'consent.withdrawn': 2,
  'visit.closed': 1,
  /** Sent by branchgate before issue 15; cancellation is now customer.blocked, then customer.deleted. */
  'customer.erased': 1,
  'customer.blocked': 1,
  'customer.deleted': 1,
} as const

export type EventType = keyof typeof EVENT_SCHEMA_VERSIONS

/** An event before it is written: the outbox adds its id and branch. */
export interface NewEvent<T extends EventType = EventType, D = unknown> {
  type: T
  schemaVersion: number
  /** Epoch ms (UTC) when the change happened. */
  occurredAt: number
  /** Ordering key; events of one subject reach the CRM in the order they were written. */
  subject: string | null
  data: D
}

const iso = (ms: number) => new Date(ms).toISOString()
const customerSubject = (phone: string) => `customer:${phone}`

/** The local customer row, as the db layer returns it. */
export interface CustomerRowLike {
  phone_e164: string
  name: string
  locale: string
  first_verified_at: number
  last_verified_at: number
}

export function customerRecord(row: CustomerRowLike, marketingConsent: boolean): CustomerRecord {
  return {
    phone: row.phone_e164,
    name: row.name,
    locale: row.locale,
    marketingConsent,
    firstVerifiedAt: iso(row.first_verified_at),
    lastVerifiedAt: iso(row.last_verified_at),
  }
}

function event<T extends EventType, D>(
  type: T,
  occurredAt: number,
  subject: string | null,
  data: D,
): NewEvent<T, D> {
  return { type, schemaVersion: EVENT_SCHEMA_VERSIONS[type], occurredAt, subject, data }
}

export interface CustomerVerifiedData {
  customer: CustomerRecord
  /** True the first time this number was verified anywhere on this branch. */
  firstTime: boolean
  /** The device used, or null when config keeps MACs at the branch. */
  device: DeviceRef | null
}

/** A customer proved their number (new or returning); carries the full, current record. */
export function customerVerified(p: {
  customer: CustomerRecord
  firstTime: boolean
  mac: string
  now: number
  macs: MacPolicy
}): NewEvent<'customer.verified', CustomerVerifiedData> {
  return event('customer.verified', p.now, customerSubject(p.customer.phone), {
    customer: p.customer,
    firstTime: p.firstTime,
    device: p.macs(p.mac),
  })
}

export interface CustomerRenamedData {
  customer: CustomerRecord
  previousName: string
}

export function customerRenamed(p: {
  customer: CustomerRecord
  previousName: string
  now: number
}): NewEvent<'customer.renamed', CustomerRenamedData> {
  return event('customer.renamed', p.now, customerSubject(p.customer.phone), {
    customer: p.customer,
    previousName: p.previousName,
  })
}

export interface ConsentGivenData {
  customer: CustomerRecord
  consent: {
    noticeVersion: string
    /** 'service' always; 'marketing' when ticked. */
    purposes: string[]
    givenAt: string
    branchId: string
    locale: string
  }
}

export function consentGiven(p: {
  customer: CustomerRecord
  noticeVersion: string
  purposes: string[]
  branchId: string
  locale: string
  now: number
}): NewEvent<'consent.given', ConsentGivenData> {
  return event('consent.given', p.now, customerSubject(p.customer.phone), {
    customer: p.customer,
    consent: {
      noticeVersion: p.noticeVersion,
      purposes: p.purposes,
      givenAt: iso(p.now),
      branchId: p.branchId,
      locale: p.locale,
    },
  })
}

export interface ConsentWithdrawnData {
  /** E.164: the customer's key in the CRM. Nothing else about the customer. */
  phone: string
  consent: {
    /** Today always ['marketing']. */
    purposes: string[]
    withdrawnAt: string
    branchId: string
    noticeVersion: string
    /**
     * Where: 'portal' (the customer's own page, after an SMS code, or from the welcome-back page),
     * 'console' (asked in person, recorded by a manager), 'login' (not ticked again at a login).
     */
    via: 'portal' | 'console' | 'login'
  }
}

/** A purpose the customer agreed to before is no longer agreed to (today: marketing). */
export function consentWithdrawn(p: {
  phone: string
  purposes: string[]
  noticeVersion: string
  branchId: string
  via: ConsentWithdrawnData['consent']['via']
  now: number
}): NewEvent<'consent.withdrawn', ConsentWithdrawnData> {
  return event('consent.withdrawn', p.now, customerSubject(p.phone), {
    phone: p.phone,
    consent: {
      purposes: p.purposes,
      withdrawnAt: iso(p.now),
      branchId: p.branchId,
      noticeVersion: p.noticeVersion,
      via: p.via,
    },
  })
}

export interface VisitClosedData {
  visit: {
    /** UUID v7 of the visit: the CRM's key for it. */
    id: string
    branchId: string
    startedAt: string
    endedAt: string
    /** Whole minutes between start and end. */
    dwellMinutes: number
    /** Why it ended: 'absent' (the device left), 'restart' (closed at its last activity after a downtime). */
    endReason: string | null
    /** Shorter than the branch's minimum visit (a pass-by); absent when not known. */
    passBy?: boolean
  }
  /** Who visited, or null when the customer was erased meanwhile. */
  customer: CustomerRecord | null
}

export function visitClosed(p: {
  visit: {
    id: string
    branchId: string
    startedAt: number
    endedAt: number
    endReason: string | null
    passBy?: boolean
  }
  customer: CustomerRecord | null
}): NewEvent<'visit.closed', VisitClosedData> {
  const v = p.visit
  return event('visit.closed', v.endedAt, p.customer ? customerSubject(p.customer.phone) : null, {
    visit: {
      id: v.id,
      branchId: v.branchId,
      startedAt: iso(v.startedAt),
      endedAt: iso(v.endedAt),
      dwellMinutes: Math.max(0, Math.floor((v.endedAt - v.startedAt) / 60_000)),
      endReason: v.endReason,
      ...(v.passBy === undefined ? {} : { passBy: v.passBy }),
    },
    customer: p.customer,
  })
}

export interface CustomerErasedData {
  /** E.164 of the customer whose data the CRM must erase. */
  phone: string
  requestedAt: string
  /** Who asked at the branch, e.g. 'user:maria' (console) or 'cli'. */
  requestedBy: string
}

export function customerErased(p: {
  phone: string
  requestedBy: string
  now: number
}): NewEvent<'customer.erased', CustomerErasedData> {
  return event('customer.erased', p.now, customerSubject(p.phone), {
    phone: p.phone,
    requestedAt: iso(p.now),
    requestedBy: p.requestedBy,
  })
}

export interface CustomerBlockedData {
  /** E.164: the customer's key in the CRM. */
  phone: string
  blockedAt: string
  /** 'request': the customer asked for cancellation; 'retention': not seen for too long. */
  reason: 'request' | 'retention'
  /** When the branch deletes the blocked record (privacy.blockingDays later). */
  deleteAfter: string
}

/**
 * The branch blocked the customer: from now on their data is kept only for legal claims, used
 * for nothing (no marketing), and deleted at `deleteAfter`. The CRM should block theirs too.
 */
export function customerBlocked(p: {
  phone: string
  reason: CustomerBlockedData['reason']
  now: number
  deleteAfter: number
}): NewEvent<'customer.blocked', CustomerBlockedData> {
  return event('customer.blocked', p.now, customerSubject(p.phone), {
    phone: p.phone,
    blockedAt: iso(p.now),
    reason: p.reason,
    deleteAfter: iso(p.deleteAfter),
  })
}

export interface CustomerDeletedData {
  /** E.164: the customer's key in the CRM; kept at the branch only until delivered. */
  phone: string
  deletedAt: string
}

/** The branch deleted the blocked record: the CRM should delete theirs. */
export function customerDeleted(p: {
  phone: string
  now: number
}): NewEvent<'customer.deleted', CustomerDeletedData> {
  return event('customer.deleted', p.now, customerSubject(p.phone), {
    phone: p.phone,
    deletedAt: iso(p.now),
  })
}
