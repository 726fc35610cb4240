import type { Context, MiddlewareHandler } from 'hono'
import type { NeighbourTable } from '../gate/neighbours.js'
import type { Mac } from '../mac.js'

/** The device behind a request: its TCP peer's address and that address's MAC, if known. */
export interface RequestDevice {
  ip: string | null
  mac: Mac | null
}

export interface DeviceVariables {
  /**
   * Who is asking, from the kernel's neighbour table for the TCP peer (never from anything the
   * phone sends). Looked up once per request, on first use: the stylesheet and /healthz never
   * ask.
   */
  device: () => Promise<RequestDevice>
}

/** Puts `c.var.device()` on every portal request. */
export function deviceLookup(o: {
  neighbours: NeighbourTable
  /** The TCP peer of a request (main.ts: the socket's remote address). */
  clientAddress: (c: Context) => string | undefined
}): MiddlewareHandler<{ Variables: DeviceVariables }> {
  return async (c, next) => {
    let found: Promise<RequestDevice> | undefined
    c.set('device', () => {
      found ??= (async () => {
        const ip = o.clientAddress(c) ?? null
        return { ip, mac: ip ? await o.neighbours.macFor(ip) : null }
      })()
      return found
    })
    await next()
  }
}
