import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestNetwork,
  e2eSkipReason,
  GATEWAY_IP,
  INTERNET_IP,
  OUTSIDE_IP,
  TEST_ZONE,
  until,
  type BranchgateHandle,
  type Client,
  type TestNetwork,
} from './netns.js'

const skip = e2eSkipReason()
if (skip) console.warn(`skipping the live reload end-to-end test: ${skip}`)

const INTERNET_PAGE = 'hello from the internet host'
const OLD_GARDEN = `notice.garden.${TEST_ZONE}`
const NEW_GARDEN = `help.garden.${TEST_ZONE}`

/** A POST to the internet host's /sms whose body is finished once the file `go` exists. */
const heldRequest = (host: string, go: string) => `
const net = require('node:net'), fs = require('node:fs')
const body = JSON.stringify({ to: 'held', text: 'across the reload' })
const s = net.connect(80, ${JSON.stringify(host)}, () => {
  s.write('POST /sms HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n' +
    'Content-Length: ' + body.length + '\\r\\nConnection: close\\r\\n\\r\\n' + body.slice(0, 5))
  console.log('open')
})
let got = ''
s.on('data', (d) => (got += d))
s.on('close', () => console.log('closed ' + JSON.stringify(got.split('\\r\\n')[0])))
s.on('error', (e) => console.log('error ' + e.code))
const t = setInterval(() => {
  if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); s.write(body.slice(5)) }
}, 50)
`

/**
 * Live reload (issue 14) on the real gateway: nftables, the captive resolver and real client
 * stacks. A SIGHUP with a new walled-garden name opens it to a phone that is not let through
 * (its name now resolves to the real address, and the address is reachable) while the phone that
 * is let through keeps its kernel element and a connection it had open; an invalid config is
 * refused and the garden stays as it was.
 */
describe.skipIf(skip !== null).sequential('live reload on the real gateway', () => {
  let n: TestNetwork
  let bg: BranchgateHandle
  let c1: Client
  let c2: Client
  let config: Record<string, any>

  beforeAll(async () => {
    n = await createTestNetwork({ clients: 2 })
    c1 = n.clients[0]!
    c2 = n.clients[1]!
    await n.startInternet()
    await n.startInternetDns({ [OLD_GARDEN]: '10.99.2.3', [NEW_GARDEN]: OUTSIDE_IP })
    await n.startDnsmasq([`server=${INTERNET_IP}`])
    config = n.defaultConfig()
    config.gate = { ...config.gate, walledGarden: { hosts: [OLD_GARDEN] } }
    bg = await n.startBranchgate(config)
    await n.dhcp(c1)
    await n.dhcp(c2)
    expect((await n.cli(['allow', c1.mac])).code).toBe(0)
  })
  afterAll(async () => {
    await n?.cleanup()
  })

  const page = async (c: Client, host: string, ip: string) =>
    (
      await n.curl(c, [
        ...['--max-time', '10', '--resolve', `${host}:80:${ip}`, '-o', '-'],
        `http://${host}/`,
      ])
    ).stdout
  const resolve = async (c: Client, name: string) =>
    (await n.dns(c, { server: GATEWAY_IP, names: [name] }))[0].answers as string[]
  /** The log lines since `from`, waited for until one contains `what`. */
  const logged = async (from: number, what: string) => {
    await until(async () => bg.output().slice(from).includes(what), `"${what}" in the log`)
    return bg.output().slice(from)
  }
  const hup = async (next: Record<string, unknown>) => {
    const from = bg.output().length
    writeFileSync(bg.configFile, JSON.stringify(next))
    bg.process.kill('SIGHUP')
    return from
  }

  it('opens a new walled-garden name to a phone not let through, and keeps the let-through phone and its open connection', async () => {
    // Before: the new name is answered with the portal's address and its address is shut.
    expect(await resolve(c2, NEW_GARDEN)).toEqual([GATEWAY_IP])
    expect(await page(c2, NEW_GARDEN, OUTSIDE_IP)).not.toContain(INTERNET_PAGE)
    expect(await page(c1, 'example.test', INTERNET_IP)).toBe(INTERNET_PAGE)
    const [element] = (await n.allowedSet()).filter((e) => e.mac === c1.mac)
    expect(element).toBeDefined()
    // A request the let-through phone has in flight across the reload: a POST whose body it
    // finishes only afterwards, on the same TCP connection.
    const go = path.join(n.tmp, 'finish-the-body')
    const held = n.spawnIn(c1.ns, process.execPath, ['-e', heldRequest(INTERNET_IP, go)])
    await until(async () => held.output().includes('open'), 'the held connection', held.output)

    const from = await hup({
      ...config,
      gate: { ...config.gate, walledGarden: { hosts: [OLD_GARDEN, NEW_GARDEN] } },
    })
    const log = await logged(from, 'reload: applied')
    expect(log).toContain('reload: applied gate.walledGarden.hosts')
    // The captive resolver was started again with the new name to forward. Its line comes after
    // any "needs a restart" one (logged right after "applied"), so that one is looked for here.
    expect(await logged(from, 'captive dns: started')).not.toContain('needs a restart')
    expect(readFileSync(`${bg.dataDir}/captive-dns.conf`, 'utf8')).toContain(NEW_GARDEN)

    // After: the phone not let through resolves the new name to its real address and reaches it;
    // the rest of the internet stays shut to it.
    expect(await resolve(c2, NEW_GARDEN)).toEqual([OUTSIDE_IP])
    expect(await page(c2, NEW_GARDEN, OUTSIDE_IP)).toBe(INTERNET_PAGE)
    expect(await page(c2, 'example.test', INTERNET_IP)).not.toContain(INTERNET_PAGE)
    // The let-through phone: same kernel element (its timeout runs on, not reset), still online.
    const [after] = (await n.allowedSet()).filter((e) => e.mac === c1.mac)
    expect(after).toBeDefined()
    expect(after!.expires).toBeLessThanOrEqual(element!.expires)
    expect(await page(c1, 'example.test', INTERNET_IP)).toBe(INTERNET_PAGE)
    writeFileSync(go, '')
    await until(async () => held.output().includes('closed'), 'the held request', held.output)
    expect(held.output()).toContain('closed "HTTP/1.1 200 OK"')
    expect(bg.process.exitCode).toBeNull()
  })

  it('refuses an invalid config: the running one stays, with the garden it had', async () => {
    const from = await hup({
      ...config,
      gate: { ...config.gate, walledGarden: { hosts: ['not a host name'] } },
    })
    const log = await logged(from, 'reload refused')
    expect(log).toMatch(
      /reload refused, the running config stays: [\s\S]*gate.walledGarden.hosts.0 must be host names/,
    )
    expect(await resolve(c2, NEW_GARDEN)).toEqual([OUTSIDE_IP])
    expect(await page(c2, NEW_GARDEN, OUTSIDE_IP)).toBe(INTERNET_PAGE)
    expect(bg.process.exitCode).toBeNull()
  })
})
