import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { parseMac } from '../../mac.js'
import { NameRefusedError, type ConsentDesk } from '../../customers/consent.js'
import type { RightsDesk } from '../../privacy/requests.js'
import type { CustomerDesk } from '../customers.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf, adminOnly } from '../session.js'
import type { ConsoleWorker } from '../worker.js'

export interface CustomersDeps {
  render: Render
  customers: Pick<CustomerDesk, 'page' | 'accessNow' | 'exportFile' | 'setStaff' | 'block'>
  worker: Pick<ConsoleWorker, 'searchCustomers'>
  consents: Pick<ConsentDesk, 'hasMarketing' | 'withdrawMarketing' | 'rename'>
  rights: Pick<RightsDesk, 'ofCustomer'>
}

/**
 * Customers (`/customers`): search, one customer's file, its download (ARCO access), staff
 * devices, a withdrawal of marketing asked in person, the name corrected (rectification) and
 * cancellation: block then delete (admins).
 */
export function customersPage(deps: CustomersDeps) {
  const { render, customers } = deps
  const app = new Hono<ConsoleEnv>()

  const fileOf = (c: Context<ConsoleEnv>) => {
    const file = customers.page(customerId(c))
    if (!file) throw new HTTPException(404, { message: 'no such customer' })
    return file
  }

  // A blocked (or erased) customer is shown nowhere: kept only for legal claims.
  const unerasedFileOf = (c: Context<ConsoleEnv>) => {
    const file = fileOf(c)
    if (file.customer.erased_at) throw new HTTPException(404, { message: 'no such customer' })
    return file
  }
  const customerPage = (
    c: Context<ConsoleEnv>,
    extra: { error?: string; notice?: string; nameTyped?: string } = {},
    status: 422 | 200 = 200,
  ) => {
    const file = unerasedFileOf(c)
    return render(
      c,
      'console/customer',
      {
        file,
        accessNow: customers.accessNow(file.customer.id),
        marketing: deps.consents.hasMarketing(file.customer.id),
        requests: deps.rights.ofCustomer(file.customer.id),
        nameTyped: extra.nameTyped ?? file.customer.name,
        error: extra.error ?? null,
        notice: extra.notice ?? null,
      },
      status,
    )
  }

  app.get('/', async (c) => {
    const q = c.req.query('q') ?? ''
    return render(c, 'console/customers', {
      q,
      results: await deps.worker.searchCustomers(q),
      notice: c.req.query('blocked') ? ct(c.get('locale'), 'customer.blocked') : null,
    })
  })

  app.get('/:id', (c) => {
    const locale = c.get('locale')
    const done = c.req.query('done')
    const notice =
      done === 'withdrawn' || done === 'renamed' ? ct(locale, `customer.done.${done}`) : undefined
    return customerPage(c, notice ? { notice } : {})
  })

  // Withdrawal asked for in person (any signed-in user, like a consent given at the counter).
  app.post('/:id/withdraw', (c) => {
    const file = unerasedFileOf(c)
    deps.consents.withdrawMarketing(file.customer.id, actorOf(c), 'console')
    return c.redirect(`/customers/${file.customer.id}?done=withdrawn`, 303)
  })

  // Rectification of the name: the portal's rules; the CRM gets customer.renamed.
  app.post('/:id/rename', (c) => {
    const file = unerasedFileOf(c)
    const typed = c.get('form').name ?? ''
    try {
      deps.consents.rename(file.customer.id, typed, actorOf(c))
    } catch (err) {
      if (!(err instanceof NameRefusedError)) throw err
      const error = ct(c.get('locale'), `customer.rename.${err.reason}`)
      return customerPage(c, { error, nameTyped: typed }, 422)
    }
    return c.redirect(`/customers/${file.customer.id}?done=renamed`, 303)
  })

  app.post('/:id/export', (c) => {
    const id = customerId(c)
    const data = customers.exportFile(id, actorOf(c))
    if (!data) throw new HTTPException(404, { message: 'no such customer' })
    return c.body(JSON.stringify(data, null, 2), 200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="customer-${id}.json"`,
    })
  })

  // Staff devices get through without the portal and stay out of the figures (issue 4).
  app.post('/:id/devices/:mac/staff', adminOnly, (c) => {
    const id = customerId(c)
    const mac = parseMac(c.req.param('mac'))
    if (!mac) throw new HTTPException(404, { message: 'no such device' })
    const staff = c.get('form').staff === '1'
    if (!customers.setStaff(id, mac, staff, actorOf(c))) {
      throw new HTTPException(404, { message: 'no such device' })
    }
    return c.redirect(`/customers/${id}`, 303)
  })

  app.get('/:id/erase', adminOnly, (c) => render(c, 'console/erase', { file: unerasedFileOf(c) }))

  app.post('/:id/erase', adminOnly, async (c) => {
    const file = unerasedFileOf(c)
    if (c.get('form').confirm !== 'yes') {
      const error = ct(c.get('locale'), 'erase.confirmNeeded')
      return render(c, 'console/erase', { file, error }, 422)
    }
    await customers.block(file.customer.id, actorOf(c))
    return c.redirect('/customers?blocked=1', 303)
  })

  return app
}

function customerId(c: Context): number {
  const id = Number(c.req.param('id'))
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new HTTPException(404, { message: 'no such customer' })
  return id
}
