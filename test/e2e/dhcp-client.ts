/**
 * A minimal DHCPv4 client for the end-to-end test (the machine has no dhclient/udhcpc):
 * DISCOVER, OFFER, REQUEST, ACK on the interface the namespace has, broadcast replies asked for.
 * Run inside a client namespace: `node --import tsx test/e2e/dhcp-client.ts MAC`. Prints the
 * lease as JSON (address, prefix, router, dns, captive portal URI from option 114).
 */
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'

const mac = process.argv[2] ?? ''
if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) {
  console.error('usage: dhcp-client.ts MAC')
  process.exit(2)
}
const chaddr = Buffer.from(mac.replace(/:/g, ''), 'hex')
const xid = randomBytes(4)

function packet(type: 1 | 3, extra: Array<[number, Buffer]>): Buffer {
  const head = Buffer.alloc(240)
  head[0] = 1 // BOOTREQUEST
  head[1] = 1 // Ethernet
  head[2] = 6
  xid.copy(head, 4)
  head.writeUInt16BE(0x8000, 10) // broadcast flag: we have no address to receive a unicast on
  chaddr.copy(head, 28)
  head.writeUInt32BE(0x63825363, 236)
  const opts: Buffer[] = [Buffer.from([53, 1, type])]
  for (const [code, value] of [
    ...extra,
    [55, Buffer.from([1, 3, 6, 51, 54, 114])] as [number, Buffer],
  ]) {
    opts.push(Buffer.from([code, value.length]), value)
  }
  opts.push(Buffer.from([255]))
  return Buffer.concat([head, ...opts])
}

function parse(msg: Buffer) {
  if (msg.length < 240 || msg[0] !== 2 || !msg.subarray(4, 8).equals(xid)) return null
  const options = new Map<number, Buffer>()
  for (let i = 240; i < msg.length;) {
    const code = msg[i]!
    if (code === 255) break
    if (code === 0) {
      i++
      continue
    }
    const len = msg[i + 1]!
    options.set(code, msg.subarray(i + 2, i + 2 + len))
    i += 2 + len
  }
  const ip = (b: Buffer | undefined, at = 0) => (b ? [...b.subarray(at, at + 4)].join('.') : null)
  return { type: options.get(53)?.[0], yiaddr: ip(msg.subarray(16, 20))!, options, ip }
}

const sock = createSocket({ type: 'udp4', reuseAddr: true })
let stage: 'discover' | 'request' = 'discover'
let request: Buffer | null = null
const discover = packet(1, [])
const send = (b: Buffer) => sock.send(b, 67, '255.255.255.255')
const timer = setInterval(() => send(stage === 'discover' ? discover : request!), 1000)
const giveUp = setTimeout(() => {
  console.error('no DHCP answer within 15 s')
  process.exit(1)
}, 15_000)

sock.on('message', (msg) => {
  const p = parse(msg)
  if (!p) return
  if (stage === 'discover' && p.type === 2) {
    stage = 'request'
    const yi = Buffer.from(p.yiaddr.split('.').map(Number))
    request = packet(3, [
      [50, yi],
      [54, p.options.get(54) ?? Buffer.alloc(4)],
    ])
    send(request)
  } else if (stage === 'request' && p.type === 5) {
    const mask = p.options.get(1)
    const prefix = mask
      ? [...mask].reduce((n, b) => n + b.toString(2).replace(/0/g, '').length, 0)
      : 24
    console.log(
      JSON.stringify({
        address: p.yiaddr,
        prefix,
        router: p.ip(p.options.get(3)),
        dns: p.ip(p.options.get(6)),
        leaseSeconds: p.options.get(51)?.readUInt32BE(0) ?? null,
        captivePortal: p.options.get(114)?.toString('utf8') ?? null,
      }),
    )
    clearInterval(timer)
    clearTimeout(giveUp)
    sock.close()
  } else if (p.type === 6) {
    console.error('DHCP NAK')
    process.exit(1)
  }
})
sock.bind(68, '0.0.0.0', () => {
  sock.setBroadcast(true)
  send(discover)
})
