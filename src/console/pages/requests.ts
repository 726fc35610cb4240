import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Clock } from '../../clock.js'
import { NameRefusedError, type ConsentDesk } from '../../customers/consent.js'
import type { Erasure } from '../../customers/erasure.js'
import { parsePhone, type PhoneRules } from '../../customers/phone.js'
import type { CustomerStatements } from '../../db/customers.js'
import {
  DUE_ACTION,
  IDENTITY_CHECKS,
  rightsKindsOf,
  type IdentityCheck,
  type RightsDesk,
  type RightsKind,
} from '../../privacy/requests.js'
import { localMidnight, isDate, localDate } from '../time.js'
import type { CustomerDesk } from '../customers.js'
import { ct, type ConsoleVoice } from '../messages.js'
import type { RightsDeadline } from '../../customers/config.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf } from '../session.js'

export interface RequestsDeps {
  render: Render
  clock: Clock
  timeZone: string
  phoneRules: PhoneRules
  rights: RightsDesk
  customers: Pick<CustomerDesk, 'exportFile'>
  customerRows: Pick<CustomerStatements, 'byPhone' | 'byId'>
  consents: Pick<ConsentDesk, 'withdrawMarketing' | 'rename'>
  erasure: Pick<Erasure, 'block' | 'blockedRecord'>
  /** How long the branch has to answer (rightsDeadlineOf), said on the page. */
  deadline: RightsDeadline
  /** The branch is in Spain (GDPR): the deadline's extension is said too. */
  spain: boolean
}

/** The deadline in the manager's words: "20 días hábiles", "un mes, prorrogable dos meses más…". */
export function deadlineText(locale: ConsoleVoice, d: RightsDeadline, spain: boolean): string {
  if (!('months' in d))
    return ct(
      locale,
      d.businessDays ? 'requests.deadline.businessDays' : 'requests.deadline.days',
      {
        n: d.days,
      },
    )
  const span = ct(locale, d.months === 1 ? 'requests.deadline.month' : 'requests.deadline.months', {
    n: d.months,
  })
  return spain ? span + ct(locale, 'requests.deadline.extension') : span
}

/**
 * Rights requests (`/requests`; ARCO in Mexico, GDPR arts. 15–21 in Spain): each recorded with
 * who asked, when, how their identity was checked and its legal deadline; the open ones listed
 * by deadline with what is due; each answered through the console's existing paths (the file as
 * JSON, the name corrected, block then delete, promotions stopped) or refused with a reason.
 */
export function requestsPage(deps: RequestsDeps) {
  const { render, rights } = deps
  const app = new Hono<ConsoleEnv>()

  const listPage = (
    c: Context<ConsoleEnv>,
    extra: { error?: string; values?: Record<string, string>; fields?: string[] } = {},
    status: 200 | 422 = 200,
  ) => {
    const now = deps.clock.now()
    return render(
      c,
      'console/requests',
      {
        open: rights.open().map((r) => ({ ...r, customer: customerLabel(r.customer_id) })),
        closed: rights.closed(),
        kinds: rightsKindsOf(deps.spain),
        checks: IDENTITY_CHECKS,
        due: DUE_ACTION,
        now,
        today: localDate(now, deps.timeZone),
        values: extra.values ?? {},
        error: extra.error ?? null,
        // The inputs a refusal is about: tied to its message (aria-invalid, aria-describedby).
        invalid: extra.fields ?? [],
        notice: c.req.query('done') ? ct(c.get('locale'), 'requests.closedNotice') : null,
        deadline: deadlineText(c.get('locale'), deps.deadline, deps.spain),
      },
      status,
    )
  }

  const customerLabel = (id: number | null) => {
    if (id === null) return null
    const row = deps.customerRows.byId(id)
    // A blocked customer is named nowhere: the request shows it is blocked, not who.
    if (!row || !row.phone_e164.startsWith('+')) return { id, name: null, blocked: true }
    return { id, name: row.name, phone: row.phone_e164, blocked: false }
  }

  const requestOf = (c: Context<ConsoleEnv>) => {
    const id = Number(c.req.param('id'))
    const r = Number.isSafeInteger(id) && id > 0 ? rights.byId(id) : undefined
    if (!r) throw new HTTPException(404, { message: 'no such request' })
    return r
  }

  const requestPage = (
    c: Context<ConsoleEnv>,
    extra: { error?: string; nameTyped?: string; field?: 'name' | 'confirm' | 'why' } = {},
    status: 200 | 422 = 200,
  ) => {
    const r = requestOf(c)
    const customer = customerLabel(r.customer_id)
    return render(
      c,
      'console/request',
      {
        r,
        customer,
        blocked: r.customer_id === null ? null : deps.erasure.blockedRecord(r.customer_id),
        action: DUE_ACTION[r.kind],
        now: deps.clock.now(),
        nameTyped: extra.nameTyped ?? (customer && !customer.blocked ? customer.name : ''),
        error: extra.error ?? null,
        invalid: extra.field ?? null,
      },
      status,
    )
  }

  app.get('/', (c) => listPage(c))

  app.post('/', (c) => {
    const form = c.get('form')
    const locale = c.get('locale')
    const values = {
      kind: form.kind ?? '',
      phone: form.phone ?? '',
      requester: (form.requester ?? '').trim(),
      received: form.received ?? '',
      identity: form.identity ?? '',
      identityNote: (form.identityNote ?? '').trim(),
      details: (form.details ?? '').trim(),
    }
    // Each refusal names the inputs it is about (a11y: errors tied to their fields).
    const FIELDS: Record<string, string[]> = {
      'requests.err.kind': ['kind'],
      'requests.err.identity': ['identity'],
      'requests.err.requester': ['requester'],
      'requests.err.tooLong': [
        ...(values.identityNote.length > 500 ? ['identityNote'] : []),
        ...(values.details.length > 2000 ? ['details'] : []),
      ],
      'requests.err.received': ['received'],
      'requests.err.phone': ['phone'],
    }
    const refuse = (key: string) =>
      listPage(c, { error: ct(locale, key), values, fields: FIELDS[key] ?? [] }, 422)
    if (!rightsKindsOf(deps.spain).includes(values.kind as RightsKind))
      return refuse('requests.err.kind')
    if (!IDENTITY_CHECKS.includes(values.identity as IdentityCheck))
      return refuse('requests.err.identity')
    if (values.requester === '' || values.requester.length > 120)
      return refuse('requests.err.requester')
    if (values.identityNote.length > 500 || values.details.length > 2000)
      return refuse('requests.err.tooLong')
    const today = localDate(deps.clock.now(), deps.timeZone)
    if (!isDate(values.received) || values.received > today) return refuse('requests.err.received')
    // The number the person gave: the customer it names, if any (a request about a number the
    // branch does not know is recorded too, and answered "no data held").
    let customerId: number | null = null
    if (values.phone.trim() !== '') {
      const phone = parsePhone(values.phone, deps.phoneRules)
      if (!phone.ok) return refuse('requests.err.phone')
      customerId = deps.customerRows.byPhone(phone.e164)?.id ?? null
    }
    const receivedAt =
      values.received === today
        ? deps.clock.now()
        : localMidnight(values.received, deps.timeZone) + 12 * 3_600_000
    const id = rights.record(
      {
        kind: values.kind as RightsKind,
        customerId,
        requester: values.requester,
        receivedAt,
        identityCheck: values.identity as IdentityCheck,
        identityNote: values.identityNote || null,
        details: values.details || null,
      },
      actorOf(c),
    )
    return c.redirect(`/requests/${id}`, 303)
  })

  app.get('/:id', (c) => requestPage(c))

  const openRequestOf = (c: Context<ConsoleEnv>) => {
    const r = requestOf(c)
    if (r.status !== 'open') throw new HTTPException(404, { message: 'request closed' })
    return r
  }
  const done = (c: Context<ConsoleEnv>, id: number, outcome: string) => {
    rights.close(id, 'done', outcome, actorOf(c))
    return c.redirect(`/requests?done=${id}`, 303)
  }

  // Access and portability: the customer's whole file as JSON (machine-readable), then closed.
  app.post('/:id/export', (c) => {
    const r = openRequestOf(c)
    if (r.customer_id === null) throw new HTTPException(404, { message: 'no customer' })
    const data = deps.customers.exportFile(r.customer_id, actorOf(c))
    if (!data || data.customer.erased_at) throw new HTTPException(404, { message: 'no customer' })
    rights.close(r.id, 'done', 'exported', actorOf(c))
    return c.body(JSON.stringify(data, null, 2), 200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="customer-${r.customer_id}.json"`,
    })
  })

  app.post('/:id/rename', (c) => {
    const r = openRequestOf(c)
    if (r.customer_id === null) throw new HTTPException(404, { message: 'no customer' })
    const typed = c.get('form').name ?? ''
    try {
      deps.consents.rename(r.customer_id, typed, actorOf(c))
    } catch (err) {
      if (!(err instanceof NameRefusedError)) throw err
      const error = ct(c.get('locale'), `customer.rename.${err.reason}`)
      return requestPage(c, { error, nameTyped: typed, field: 'name' }, 422)
    }
    return done(c, r.id, 'renamed')
  })

  app.post('/:id/withdraw', (c) => {
    const r = openRequestOf(c)
    if (r.customer_id === null) throw new HTTPException(404, { message: 'no customer' })
    deps.consents.withdrawMarketing(r.customer_id, actorOf(c), 'console')
    return done(c, r.id, 'withdrawn')
  })

  // Cancellation blocks now and deletes after privacy.blockingDays: admins, as erasure was.
  app.post('/:id/block', async (c) => {
    const r = openRequestOf(c)
    if (c.get('user')?.role !== 'admin') throw new HTTPException(403, { message: 'admins only' })
    if (r.customer_id === null) throw new HTTPException(404, { message: 'no customer' })
    if (c.get('form').confirm !== 'yes') {
      return requestPage(
        c,
        { error: ct(c.get('locale'), 'erase.confirmNeeded'), field: 'confirm' },
        422,
      )
    }
    await deps.erasure.block(r.customer_id, { actor: actorOf(c), reason: 'request' })
    return done(c, r.id, 'blocked')
  })

  // Restriction (GDPR art. 18): the manager restricted its use by hand (docs/privacy.md says
  // how); the request is closed with that said, and audit-logged like every answer.
  app.post('/:id/restrict', (c) => {
    const r = openRequestOf(c)
    if (r.kind !== 'restriction') throw new HTTPException(404, { message: 'not a restriction' })
    if (r.customer_id === null) throw new HTTPException(404, { message: 'no customer' })
    return done(c, r.id, 'restriction-recorded')
  })

  // A number the branch does not know: answered that no data is held.
  app.post('/:id/no-data', (c) => {
    const r = openRequestOf(c)
    if (r.customer_id !== null) throw new HTTPException(404, { message: 'has a customer' })
    return done(c, r.id, 'no-data')
  })

  app.post('/:id/refuse', (c) => {
    const r = openRequestOf(c)
    const why = (c.get('form').why ?? '').trim()
    if (why === '' || why.length > 500) {
      return requestPage(c, { error: ct(c.get('locale'), 'requests.err.why'), field: 'why' }, 422)
    }
    rights.close(r.id, 'refused', why, actorOf(c))
    return c.redirect(`/requests?done=${r.id}`, 303)
  })

  return app
}
