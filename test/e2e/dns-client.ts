/**
 * A DNS client for the end-to-end tests and the bench, run inside a client namespace:
 *
 *   node --import tsx test/e2e/dns-client.ts '{"server":"10.99.1.1","names":["a.e2e.test"]}'
 *
 * Options (JSON, or an array of them run one after the other, answered with an array):
 * server, port (53), proto ("udp" | "tcp"), type ("A"), names, sourcePort (UDP:
 * one fixed source port for every query, as some phone resolvers keep), timeoutMs (2000), and
 * flood (a number: send that many queries at once over UDP and count the answers).
 * Prints one JSON line: per name its rcode ("TIMEOUT" when nothing came), answers, answer size
 * and milliseconds; or, for a flood, { sent, answered }.
 */
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import dnsPacket from 'dns-packet'

interface Options {
  server: string
  port?: number
  proto?: 'udp' | 'tcp'
  type?: string
  names?: string[]
  sourcePort?: number
  timeoutMs?: number
  flood?: number
}

export interface DnsResult {
  name: string
  rcode: string
  answers: string[]
  size: number
  ms: number
}

let nextId = Math.floor(Math.random() * 60000)

async function ask(o: Options) {
  const port = o.port ?? 53
  const timeoutMs = o.timeoutMs ?? 2000
  const type = (o.type ?? 'A') as dnsPacket.RecordType

  const query = (name: string, id: number) =>
    dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name }],
    })

  function answersOf(buf: Buffer): { rcode: string; answers: string[] } {
    const p = dnsPacket.decode(buf)
    return {
      // dns-packet sets rcode at run time; its types leave it out.
      rcode: (p as unknown as { rcode?: string }).rcode ?? 'NOERROR',
      answers: (p.answers ?? []).map((a) =>
        typeof (a as { data?: unknown }).data === 'string'
          ? ((a as { data: string }).data as string)
          : JSON.stringify((a as { data?: unknown }).data),
      ),
    }
  }

  async function udp(names: string[]): Promise<DnsResult[]> {
    const sock = createSocket({ type: o.server.includes(':') ? 'udp6' : 'udp4', reuseAddr: true })
    await new Promise<void>((r) => sock.bind(o.sourcePort ?? 0, () => r()))
    const waiting = new Map<number, (b: Buffer) => void>()
    sock.on('message', (msg) => waiting.get(msg.readUInt16BE(0))?.(msg))
    const out: DnsResult[] = []
    for (const name of names) {
      const id = nextId++ & 0xffff
      const t0 = performance.now()
      const reply = await new Promise<Buffer | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), timeoutMs)
        waiting.set(id, (b) => {
          clearTimeout(timer)
          resolve(b)
        })
        sock.send(query(name, id), port, o.server)
      })
      const ms = performance.now() - t0
      waiting.delete(id)
      out.push(
        reply
          ? { name, ...answersOf(reply), size: reply.length, ms }
          : { name, rcode: 'TIMEOUT', answers: [], size: 0, ms },
      )
    }
    sock.close()
    return out
  }

  async function tcp(names: string[]): Promise<DnsResult[]> {
    const out: DnsResult[] = []
    for (const name of names) {
      const t0 = performance.now()
      const reply = await new Promise<Buffer | null>((resolve) => {
        const s = connect({ host: o.server, port })
        let got = Buffer.alloc(0)
        const timer = setTimeout(() => {
          s.destroy()
          resolve(null)
        }, timeoutMs)
        const end = (b: Buffer | null) => {
          clearTimeout(timer)
          s.destroy()
          resolve(b)
        }
        s.on('connect', () => s.write(dnsPacket.streamEncode(dnsPacket.decode(query(name, 1)))))
        s.on('data', (d) => {
          got = Buffer.concat([got, d])
          if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) end(got.subarray(2))
        })
        s.on('error', () => end(null))
        s.on('close', () => end(null))
      })
      const ms = performance.now() - t0
      out.push(
        reply
          ? { name, ...answersOf(reply), size: reply.length, ms }
          : { name, rcode: 'TIMEOUT', answers: [], size: 0, ms },
      )
    }
    return out
  }

  async function flood(n: number): Promise<{ sent: number; answered: number }> {
    const sock = createSocket({ type: o.server.includes(':') ? 'udp6' : 'udp4' })
    await new Promise<void>((r) => sock.bind(0, () => r()))
    let answered = 0
    sock.on('message', () => answered++)
    for (let i = 0; i < n; i++) {
      const name = `flood-${i}-${Math.random().toString(36).slice(2, 8)}.e2e.test`
      await new Promise<void>((r) => sock.send(query(name, i), port, o.server, () => r()))
    }
    await new Promise((r) => setTimeout(r, timeoutMs))
    sock.close()
    return { sent: n, answered }
  }

  const names = o.names ?? []
  return o.flood !== undefined
    ? await flood(o.flood)
    : o.proto === 'tcp'
      ? await tcp(names)
      : await udp(names)
}

const input = JSON.parse(process.argv[2] ?? '{}') as Options | Options[]
const results = []
for (const o of Array.isArray(input) ? input : [input]) results.push(await ask(o))
console.log(JSON.stringify(Array.isArray(input) ? results : results[0]))
