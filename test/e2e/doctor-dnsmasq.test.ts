/**
 * `branchgate doctor` against real dnsmasq processes in a network namespace this file creates:
 * a dnsmasq that is not ours does not count; the one that loaded branchgate's guest file from
 * its conf-dir (as Debian's does) and serves the guest interface does; an option 114 that is not
 * publicUrl's Captive Portal API is named. Doctor runs as the real command inside the namespace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderedDnsmasqConf } from '../fakes/dnsmasq-machine.js'
import { ROOT, run, until } from './netns.js'

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace'
  for (const tool of ['ip', 'ss', 'pidof', 'dnsmasq']) {
    if (spawnSync('sh', ['-c', 'command -v "$0"', tool]).status !== 0)
      return `${tool} is not installed (apt-get install iproute2 procps dnsmasq)`
  }
  return null
}
const skip = skipReason()
if (skip) console.warn(`doctor-dnsmasq e2e skipped: ${skip}`)

const GUEST = 'g0'
const GATEWAY = '10.99.7.1'
const PUBLIC_URL = `http://${GATEWAY}:8080`

describe.skipIf(skip !== null)('doctor and the dnsmasq really running', () => {
  const ns = `bg${randomBytes(3).toString('hex')}-dns`
  const tmp = mkdtempSync(path.join(tmpdir(), `${ns}-`))
  const confDir = path.join(tmp, 'dnsmasq.d')
  const guestFile = path.join(confDir, 'branchgate.conf')
  const children: ChildProcess[] = []

  /** Starts dnsmasq in the namespace and waits until its pid file is there. */
  async function dnsmasq(name: string, args: string[]): Promise<ChildProcess> {
    const pidFile = path.join(tmp, `${name}.pid`)
    const child = spawn(
      'ip',
      [
        ...['netns', 'exec', ns, 'dnsmasq', '--keep-in-foreground', '--user=root'],
        ...[`--pid-file=${pidFile}`, `--dhcp-leasefile=${path.join(tmp, `${name}.leases`)}`],
        ...['--no-resolv', '--no-hosts', '--log-facility=-', ...args],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    children.push(child)
    await until(
      async () =>
        (await run('ip', ['netns', 'exec', ns, 'ss', '-H', '-lnup'])).stdout.includes(
          `pid=${child.pid},`,
        ),
      `dnsmasq ${name}`,
      () => out,
    )
    return child
  }

  /** `branchgate doctor` in the namespace; only the dnsmasq lines. */
  async function doctor(publicUrl: string): Promise<string[]> {
    const config = path.join(tmp, `branchgate-${randomBytes(2).toString('hex')}.json`)
    writeFileSync(
      config,
      JSON.stringify({
        publicUrl,
        dataDir: tmp,
        gate: { backend: 'nftables', guestInterface: GUEST, dnsmasqConfFile: guestFile },
        sms: { providers: [{ type: 'console' }] },
      }),
    )
    const r = await run(
      'ip',
      ['netns', 'exec', ns, process.execPath, 'bin/branchgate.js', 'doctor', '--config', config],
      60_000,
    )
    const lines = r.stdout.split('\n')
    return lines.filter(
      (l, i) => /^\S+\s+dnsmasq/.test(l) || (/^\s+fix:/.test(l) && /dnsmasq/.test(lines[i - 1]!)),
    )
  }

  beforeAll(async () => {
    const ip = (...args: string[]) => {
      const r = spawnSync('ip', args, { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
    }
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'link', 'add', GUEST, 'type', 'veth', 'peer', 'name', `${GUEST}p`)
    ip('-n', ns, 'addr', 'add', `${GATEWAY}/24`, 'dev', GUEST)
    ip('-n', ns, 'link', 'set', GUEST, 'up')
    ip('-n', ns, 'link', 'set', `${GUEST}p`, 'up')
    mkdirSync(confDir)
    writeFileSync(
      guestFile,
      renderedDnsmasqConf({
        guest: GUEST,
        gateway: GATEWAY,
        captiveApiUrl: `${PUBLIC_URL}/api/captive`,
      }),
    )
    // Someone else's dnsmasq (a DNS cache on loopback, as libvirt or NetworkManager run one).
    const other = path.join(tmp, 'other.conf')
    writeFileSync(other, 'port=5354\nlisten-address=127.0.0.1\nbind-interfaces\n')
    await dnsmasq('other', [`--conf-file=${other}`])
  })

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
    )
    spawnSync('ip', ['netns', 'del', ns])
    rmSync(tmp, { recursive: true, force: true })
  })

  it('does not count a dnsmasq that has not loaded the guest file', async () => {
    const lines = await doctor(PUBLIC_URL)
    expect(lines[0]).toBe(
      `ok    dnsmasq config: ${guestFile}: DHCP on ${GUEST}, option 114 ${PUBLIC_URL}/api/captive`,
    )
    expect(lines[1]).toMatch(
      new RegExp(
        `^FAIL  dnsmasq: running, but no dnsmasq has loaded ${guestFile} \\(.*other\\.conf`,
      ),
    )
  })

  it("says OK once a dnsmasq has loaded it from its conf-dir, as Debian's does", async () => {
    const ours = await dnsmasq('ours', [
      '-C',
      '/dev/null',
      '-7',
      `${confDir},.dpkg-dist,.dpkg-old,.dpkg-new`,
    ])
    const lines = await doctor(PUBLIC_URL)
    expect(lines).toEqual([
      `ok    dnsmasq config: ${guestFile}: DHCP on ${GUEST}, option 114 ${PUBLIC_URL}/api/captive`,
      // `ip netns exec` execs dnsmasq in place: the child's pid is dnsmasq's.
      `ok    dnsmasq: pid ${ours.pid} has loaded ${guestFile} and answers DHCP and DNS on ${GUEST} (${GATEWAY})`,
    ])
  })

  it('says what is wrong when option 114 is not at publicUrl', async () => {
    const lines = await doctor('http://portal.branch.lan:8080')
    expect(lines[0]).toBe(
      `FAIL  dnsmasq config: option 114 in ${guestFile} is "${PUBLIC_URL}/api/captive", but ` +
        'publicUrl puts the Captive Portal API at http://portal.branch.lan:8080/api/captive',
    )
    expect(lines[1]).toBe(
      `      fix: set dhcp-option=${GUEST},114,"http://portal.branch.lan:8080/api/captive" in ` +
        `${guestFile} (or correct publicUrl), then systemctl restart dnsmasq`,
    )
  })
})
