/**
 * A minimal DHCPv6 client for the end-to-end test: one Information-Request (stateless DHCPv6,
 * RFC 8415 §18.2.6), as a phone sends after a router advertisement with the O flag, asking for
 * the DNS servers (option 23) and the Captive Portal API URI (option 103, RFC 8910). Run inside
 * a client namespace: `node --import tsx test/e2e/dhcpv6-client.ts MAC`. Prints the answer as
 * JSON: { dns: [...], captivePortal }.
 */
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'

const mac = process.argv[2] ?? ''
if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) {
  console.error('usage: dhcpv6-client.ts MAC')
  process.exit(2)
}
const xid = randomBytes(3)
const option = (code: number, value: Buffer) => {
  const head = Buffer.alloc(4)
  head.writeUInt16BE(code, 0)
  head.writeUInt16BE(value.length, 2)
  return Buffer.concat([head, value])
}
// DUID-LL (type 3, hardware type 1 = Ethernet) from the MAC.
const duid = Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(mac.replace(/:/g, ''), 'hex')])
const request = Buffer.concat([
  Buffer.from([11]), // INFORMATION-REQUEST
  xid,
  option(1, duid), // Client Identifier
  option(6, Buffer.from([0, 23, 0, 103])), // Option Request: DNS servers, Captive Portal
  option(8, Buffer.alloc(2)), // Elapsed Time
])

const sock = createSocket({ type: 'udp6', reuseAddr: true })
const giveUp = setTimeout(() => {
  console.error('no DHCPv6 reply within 10 s')
  process.exit(1)
}, 10_000)
const timer = setInterval(() => send(), 1000)
const send = () => sock.send(request, 547, 'ff02::1:2%eth0')

sock.on('message', (msg) => {
  if (msg[0] !== 7 || !msg.subarray(1, 4).equals(xid)) return // REPLY to our request only
  const dns: string[] = []
  let captivePortal: string | null = null
  for (let i = 4; i + 4 <= msg.length;) {
    const code = msg.readUInt16BE(i)
    const len = msg.readUInt16BE(i + 2)
    const value = msg.subarray(i + 4, i + 4 + len)
    if (code === 23) {
      for (let j = 0; j + 16 <= value.length; j += 16) {
        const groups = Array.from({ length: 8 }, (_, k) =>
          value.readUInt16BE(j + k * 2).toString(16),
        )
        dns.push(groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'))
      }
    }
    if (code === 103) captivePortal = value.toString('utf8')
    i += 4 + len
  }
  console.log(JSON.stringify({ dns, captivePortal }))
  clearInterval(timer)
  clearTimeout(giveUp)
  sock.close()
})
sock.bind(546, '::', () => send())
