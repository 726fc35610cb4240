import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTestNetwork,
  e2eSkipReason,
  run,
  withTestNetwork,
  GARDEN_IP,
  GATEWAY_IP,
  INTERNET_IP,
  PUBLIC_URL,
  type Client,
  type Lease,
  type TestNetwork,
} from './netns.js'

const skip = e2eSkipReason()
if (skip) console.warn(`skipping the gateway end-to-end test: ${skip}`)

const INTERNET_PAGE = 'hello from the internet host'
const APPLE_SUCCESS = '<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>'
const PHONE = '55 1234 5678'

/**
 * Real client network stacks in namespaces, caught by branchgate's nftables table, logging in
 * over plain HTTP with the code the SMS provider received, and getting through. The steps run in
 * order and share one network; afterAll removes it whatever happened.
 */
describe.skipIf(skip !== null)('the gateway, end to end', () => {
  let n: TestNetwork
  let c1: Client
  let c2: Client
  let lease1: Lease

  beforeAll(async () => {
    n = await createTestNetwork({ clients: 2 })
    c1 = n.clients[0]!
    c2 = n.clients[1]!
    await n.startInternet()
    // The internet's DNS, played by dnsmasq: probe hosts resolve to the internet host.
    await n.startDnsmasq([
      `address=/captive.apple.com/${INTERNET_IP}`,
      `address=/connectivitycheck.gstatic.com/${INTERNET_IP}`,
      `address=/example.test/${INTERNET_IP}`,
    ])
    await n.startBranchgate()
  })
  afterAll(async () => {
    await n?.cleanup()
  })

  /** What a client gets for plain HTTP to the internet host: the page, or where it was sent. */
  async function browse(c: Client, url = `http://${INTERNET_IP}/`) {
    const r = await n.curl(c, [
      '--max-time',
      '10',
      '-o',
      '-',
      '-w',
      '\n%{http_code} %{redirect_url}',
      url,
    ])
    const lines = r.stdout.split('\n')
    const [status = '', location = ''] = (lines.pop() ?? '').split(' ')
    return { code: r.code, status: Number(status), location, body: lines.join('\n') }
  }

  /** A probe as the OS sends it, to the address DNS gave for its host. */
  async function probe(c: Client, host: string, path: string) {
    const r = await n.curl(c, [
      '--max-time',
      '10',
      '--resolve',
      `${host}:80:${INTERNET_IP}`,
      '-o',
      '-',
      '-w',
      '\n%{http_code} %{redirect_url}',
      `http://${host}${path}`,
    ])
    const lines = r.stdout.split('\n')
    const [status = '', location = ''] = (lines.pop() ?? '').split(' ')
    return { status: Number(status), location, body: lines.join('\n') }
  }

  /** A TCP connection to port 443 of the internet host (which answers there): refused fast or not. */
  async function https(c: Client) {
    const r = await n.curl(c, ['--max-time', '10', '-o', '/dev/null', `https://${INTERNET_IP}/`])
    const plain = await n.curl(c, ['--max-time', '10', '-o', '-', `http://${INTERNET_IP}:443/`])
    return { code: r.code, ms: r.ms, plainPage: plain.stdout }
  }

  async function expectBlocked(c: Client) {
    const page = await browse(c)
    expect(page.body).not.toContain(INTERNET_PAGE)
    expect((await https(c)).plainPage).not.toContain(INTERNET_PAGE)
  }

  async function expectOnline(c: Client) {
    const page = await browse(c)
    expect(page.status).toBe(200)
    expect(page.body).toBe(INTERNET_PAGE)
    expect((await https(c)).plainPage).toBe(INTERNET_PAGE)
  }

  it('hands out addresses by DHCP through the firewall, with the Captive Portal API URI (option 114)', async () => {
    lease1 = await n.dhcp(c1)
    const lease2 = await n.dhcp(c2)
    expect(lease1).toMatchObject({ prefix: 24, router: GATEWAY_IP, dns: GATEWAY_IP })
    expect(lease1.address).toMatch(/^10\.99\.1\.\d+$/)
    expect(lease2.address).not.toBe(lease1.address)
    expect(lease1.captivePortal).toBe(`${PUBLIC_URL}/api/captive`)
  })

  it('answers DNS before login from the captive resolver: every name is the gateway', async () => {
    const r = await n.exec(c1.ns, process.execPath, [
      '-e',
      `const r = new (require('node:dns').promises.Resolver)(); r.setServers(['${lease1.dns}']);
       r.resolve4('captive.apple.com').then((a) => console.log(a.join(',')))`,
    ])
    expect(r.stdout.trim()).toBe(GATEWAY_IP)
  })

  it("sends the client's plain HTTP to the splash page, and its HTTPS fails fast", async () => {
    const page = await browse(c1)
    expect(page.status).toBe(302)
    expect(page.location).toBe(`${PUBLIC_URL}/`)
    const splash = await n.curl(c1, ['--max-time', '10', '-L', `http://${INTERNET_IP}/some/page`])
    expect(splash.stdout).toContain('<form method="post" action="/login"')
    const h = await https(c1)
    expect(h.code).toBe(7) // connection refused: a TCP reset, not a timeout
    expect(h.ms).toBeLessThan(2000)
    expect(h.plainPage).not.toContain(INTERNET_PAGE)
  })

  it('shows a captive network to the Apple and Android probes', async () => {
    const apple = await probe(c1, 'captive.apple.com', '/hotspot-detect.html')
    expect(apple.status).toBe(302)
    expect(apple.location).toBe(`${PUBLIC_URL}/`)
    expect(apple.body).not.toContain('Success')
    const android = await probe(c1, 'connectivitycheck.gstatic.com', '/generate_204')
    expect(android.status).toBe(302)
    expect(android.location).toBe(`${PUBLIC_URL}/`)
    const api = JSON.parse((await n.curl(c1, [`${PUBLIC_URL}/api/captive`])).stdout)
    expect(api).toEqual({ captive: true, 'user-portal-url': `${PUBLIC_URL}/` })
  })

  it('keeps the second client blocked', async () => {
    await expectBlocked(c2)
  })

  it('lets a client reach the walled garden before login, and nothing next to it', async () => {
    const garden = await browse(c2, `http://${GARDEN_IP}/privacy`)
    expect(garden).toMatchObject({ status: 200, body: INTERNET_PAGE })
    expect((await n.curl(c2, ['--max-time', '10', `http://${GARDEN_IP}:443/`])).stdout).toBe(
      INTERNET_PAGE,
    )
    await expectBlocked(c2)
  })

  it('lets the client log in over HTTP with the texted code, then through to the internet', async () => {
    const form = await n.curl(c1, [
      '--data-urlencode',
      'name=Ana López',
      '--data-urlencode',
      `phone=${PHONE}`,
      '--data-urlencode',
      'consent=yes',
      `${PUBLIC_URL}/login`,
    ])
    const challenge = /name="challenge" value="([^"]+)"/.exec(form.stdout)?.[1]
    expect(challenge, form.stdout.slice(0, 500)).toBeTruthy()
    const sms = (await n.smsMessages()).at(-1)!
    expect(sms.to).toBe('+525512345678')
    const code = /#(\d{6})\s*$/.exec(sms.text)?.[1]
    expect(code, sms.text).toMatch(/^\d{6}$/)
    expect(sms.text).toContain(`@${GATEWAY_IP} #${code}`)

    const welcome = await n.curl(c1, [
      '--data-urlencode',
      `challenge=${challenge}`,
      '--data-urlencode',
      `code=${code}`,
      `${PUBLIC_URL}/verify`,
    ])
    expect(welcome.stdout).toContain('¡Listo, Ana López!')
    expect(welcome.stdout).toContain('Puedes cerrar esta ventana')

    await expectOnline(c1)
    const h = await https(c1)
    expect(h.plainPage).toBe(INTERNET_PAGE)
  })

  it('then the probes say online, and the portal answers them as the OS expects', async () => {
    const apple = await probe(c1, 'captive.apple.com', '/hotspot-detect.html')
    expect(apple).toMatchObject({ status: 200, body: APPLE_SUCCESS })
    const android = await probe(c1, 'connectivitycheck.gstatic.com', '/generate_204')
    expect(android).toMatchObject({ status: 204, body: '' })
    // A probe that still reaches the portal (stale DNS, a slow flush) gets the same answers.
    const viaPortal = await n.curl(c1, [
      '-H',
      'Host: captive.apple.com',
      `${PUBLIC_URL}/hotspot-detect.html`,
    ])
    expect(viaPortal.stdout).toBe(APPLE_SUCCESS)
    const api = JSON.parse((await n.curl(c1, [`${PUBLIC_URL}/api/captive`])).stdout)
    expect(api.captive).toBe(false)
    expect(api['seconds-remaining']).toBeGreaterThan(3500)
    expect(api['can-extend-session']).toBe(false)
  })

  it("counts the let-through client's traffic per MAC, and status shows it in the firewall", async () => {
    const set = JSON.parse(
      (await n.nft(['-j', 'list', 'set', 'inet', 'branchgate', 'allowed'])).stdout,
    )
    expect(set.nftables.find((x: any) => x.set).set.elem.map((e: any) => e.elem.val)).toEqual([
      c1.mac,
    ])
    // What it sent through is counted in the map `up` (its class on the uplink), which presence
    // reads: the set's elements carry no counters of their own.
    const up = JSON.parse((await n.nft(['-j', 'list', 'map', 'inet', 'branchgate', 'up'])).stdout)
    const elems = up.nftables.find((x: any) => x.map).map.elem.map(([k]: any) => k.elem)
    expect(elems.map((e: any) => e.val)).toEqual([c1.mac])
    expect(elems[0].counter.packets).toBeGreaterThan(0)
    const status = await n.cli(['status'])
    expect(status.stdout).toMatch(new RegExp(`${c1.mac} +Ana López .* yes`))
  })

  it('still keeps the second client blocked', async () => {
    await expectBlocked(c2)
    expect((await probe(c2, 'captive.apple.com', '/hotspot-detect.html')).status).toBe(302)
  })

  it('catches the first client again after branchgate revoke', async () => {
    const r = await n.cli(['revoke', c1.mac])
    expect(r.stdout.trim()).toBe(`${c1.mac} revoked`)
    const page = await browse(c1)
    expect(page.status).toBe(302)
    expect(page.location).toBe(`${PUBLIC_URL}/`)
    expect((await https(c1)).code).toBe(7)
    expect((await probe(c1, 'captive.apple.com', '/hotspot-detect.html')).status).toBe(302)
  })

  it('keeps a let-through client online across a restart, without logging in again', async () => {
    const allowed = await n.cli(['allow', c1.mac, '--minutes', '30'])
    expect(allowed.code, allowed.stderr).toBe(0)
    await expectOnline(c1)

    // Stopped: the table stays and the kernel keeps governing access.
    expect(await n.stopBranchgate()).toBe(0)
    expect((await n.nft(['list', 'table', 'inet', 'branchgate'])).code).toBe(0)
    await expectOnline(c1)
    await expectBlocked(c2)

    // Whatever the kernel lost (here: the set, flushed by hand), the start rebuilds it from the database.
    expect((await n.nft(['flush', 'set', 'inet', 'branchgate', 'allowed'])).code).toBe(0)
    expect((await browse(c1)).body).not.toContain(INTERNET_PAGE)
    const bg = await n.startBranchgate()
    expect(bg.output()).toContain('1 device(s) let through from the database')
    await expectOnline(c1)
    await expectBlocked(c2)
  })

  it('removes the table with branchgate stop --flush', async () => {
    const r = await n.cli(['stop', '--flush'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('removed the firewall table inet branchgate')
    expect((await n.nft(['list', 'table', 'inet', 'branchgate'])).code).not.toBe(0)
  })
})

describe.skipIf(skip !== null)('the end-to-end network', () => {
  it('is removed with its processes even when a step fails', async () => {
    let prefix = ''
    let pids: number[] = []
    const failing = withTestNetwork({ clients: 1 }, async (n) => {
      prefix = n.prefix
      await n.startInternet()
      await n.startBranchgate()
      pids = n.runningPids()
      expect(pids.length).toBe(2)
      throw new Error('an assertion failed here')
    })
    await expect(failing).rejects.toThrow('an assertion failed here')
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(prefix)
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
  })
})
