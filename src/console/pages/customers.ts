import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { parseMac } from '../../mac.js'
import type { CustomerDesk } from '../customers.js'
import { ct } from '../messages.js'
import type { ConsoleEnv, Render } from '../render.js'
import { actorOf, adminOnly } from '../session.js'
import type { ConsoleWorker } from '../worker.js'

export interface CustomersDeps {
  render: Render
  customers: Pick<CustomerDesk, 'page' | 'accessNow' | 'exportFile' | 'setStaff' | 'erase'>
  worker: Pick<ConsoleWorker, 'searchCustomers'>
}

/**
 * Customers (`/customers`): search, one customer's file, its download (ARCO access), staff
 * devices and erasure (admins).
 */
export function customersPage(deps: CustomersDeps) {
  const { render, customers } = deps
  const app = new Hono<ConsoleEnv>()

  const fileOf = (c: Context<ConsoleEnv>) => {
    const file = customers.page(customerId(c))
    if (!file) throw new HTTPException(404, { message: 'no such customer' })
    return file
  }

  const unerasedFileOf = (c: Context<ConsoleEnv>) => {
    const file = fileOf(c)
    if (file.customer.erased_at) throw new HTTPException(404, { message: 'no such customer' })
    return file
  }

  app.get('/', async (c) => {
    const q = c.req.query('q') ?? ''
    return render(c, 'console/customers', {
      q,
      results: await deps.worker.searchCustomers(q),
      notice: c.req.query('erased') ? ct(c.get('locale'), 'customer.erased') : null,
    })
  })

  app.get('/:id', (c) => {
    const file = fileOf(c)
    return render(c, 'console/customer', { file, accessNow: customers.accessNow(file.customer.id) })
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
    await customers.erase(file.customer.id, actorOf(c))
    return c.redirect('/customers?erased=1', 303)
  })

  return app
}

function customerId(c: Context): number {
  const id = Number(c.req.param('id'))
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new HTTPException(404, { message: 'no such customer' })
  return id
}
