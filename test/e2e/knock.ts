/**
 * Knocks on ports of a host from inside a client namespace, for the end-to-end tests:
 *
 *   node --import tsx test/e2e/knock.ts '{"host":"10.99.2.4","udp":[53,123],"tcp":[22,853]}'
 *
 * Sends one datagram to each UDP port and opens a TCP connection to each TCP port (at most
 * timeoutMs, default 1500, all at once), from the address `from` when given. Prints one JSON line: each TCP port's outcome
 * ("connected", "refused" for a reset, "timeout", or the error code).
 */
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { connect } from 'node:net'

const o = JSON.parse(process.argv[2] ?? '{}') as {
  host: string
  udp?: number[]
  tcp?: number[]
  timeoutMs?: number
  /** The client's own address to send from (a phone's stable or temporary IPv6 address, say). */
  from?: string
}
const timeoutMs = o.timeoutMs ?? 1500

const sock = createSocket(isIPv6(o.host) ? 'udp6' : 'udp4')
await new Promise<void>((r) => sock.bind(0, o.from, () => r()))
for (const port of o.udp ?? []) {
  await new Promise<void>((r) => sock.send(Buffer.from(`knock ${port}`), port, o.host, () => r()))
}
sock.close()

const tcp = await Promise.all(
  (o.tcp ?? []).map(
    (port) =>
      new Promise<[number, string]>((resolve) => {
        const s = connect({ host: o.host, port, localAddress: o.from })
        const timer = setTimeout(() => {
          s.destroy()
          resolve([port, 'timeout'])
        }, timeoutMs)
        s.on('connect', () => {
          clearTimeout(timer)
          s.destroy()
          resolve([port, 'connected'])
        })
        s.on('error', (err: NodeJS.ErrnoException) => {
          clearTimeout(timer)
          resolve([port, err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message)])
        })
      }),
  ),
)
console.log(JSON.stringify({ tcp: Object.fromEntries(tcp) }))
