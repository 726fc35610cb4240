import { userInfo } from 'node:os'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { allowCommand } from '../src/cli/allow.js'
import { diagnose, formatFindings, type DoctorProbes } from '../src/cli/doctor.js'
import { revokeCommand } from '../src/cli/revoke.js'
import { statusCommand } from '../src/cli/status.js'
import { stopCommand } from '../src/cli/stop.js'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cli, COMMANDS } from '../src/cli.js'
import { loadConfig } from '../src/config.js'
import { closeDb, openDb, readMigrations } from '../src/db/open.js'
import { stagedDnsmasq } from './fakes/dnsmasq-machine.js'
import { tempDir } from './helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

/** A data folder with a migrated database and a config file pointing at it. */
function install(extra: Record<string, unknown> = {}) {
  const t = tempDir()
  cleanups.push(t.remove)
  closeDb(openDb(path.join(t.dir, 'branchgate.db')))
  const file = path.join(t.dir, 'branchgate.json')
  writeFileSync(file, JSON.stringify({ dataDir: t.dir, ...extra }))
  const lines: string[] = []
  const errors: string[] = []
  // Through the `branchgate` entry, so bad options meet the boundary that maps them.
  const run = async (cmd: typeof allowCommand, ...args: string[]) => {
    lines.length = 0
    errors.length = 0
    const code = await cli(
      [cmd.name, ...args, '--config', file],
      {},
      {
        out: (l) => lines.push(l),
        err: (l) => errors.push(l),
      },
    )
    return { code, text: lines.join('\n') }
  }
  const db = () => {
    const d = openDb(path.join(t.dir, 'branchgate.db'))
    cleanups.unshift(() => closeDb(d))
    return d
  }
  return { dir: t.dir, file, run, db, errors }
}

describe('branchgate allow, revoke and status', () => {
  it('lists every gateway command in the command table', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(
      expect.arrayContaining(['serve', 'status', 'allow', 'revoke', 'stop', 'doctor']),
    )
  })

  it('lets a device through by hand, through the one change path, and shows it in status', async () => {
    const bg = install()
    const before = Date.now()
    const allowed = await bg.run(allowCommand, '3A-11-22-33-44-55', '--minutes', '90')
    const after = Date.now()
    expect(allowed.code).toBe(0)
    expect(allowed.text).toContain('3a:11:22:33:44:55 let through until')
    const status = await bg.run(statusCommand)
    expect(status.text).toContain('1 device(s) let through')
    expect(status.text).toMatch(/3a:11:22:33:44:55 {2}\(manual-allow\)/)
    // and whether codes can be sent, with the daily budget
    expect(status.text).toContain('sms sending: on')
    expect(status.text).toMatch(/sms today: 0 of 400 codes/)
    const db = bg.db()
    const auth = db
      .prepare('SELECT mac, reason, starts_at, ends_at FROM authorizations')
      .get() as any
    expect(auth).toMatchObject({ mac: '3a:11:22:33:44:55', reason: 'manual-allow' })
    // Granted while the command ran, for 90 minutes from the moment it read the clock: both
    // bounds are instants read around the command, so the check holds however slow it ran.
    expect(auth.starts_at).toBeGreaterThanOrEqual(before)
    expect(auth.starts_at).toBeLessThanOrEqual(after)
    expect(auth.ends_at - 90 * 60_000).toBeGreaterThanOrEqual(before)
    expect(auth.ends_at - 90 * 60_000).toBeLessThanOrEqual(auth.starts_at)
    expect(db.prepare('SELECT actor, action, reason FROM audit_log').all()).toEqual([
      { actor: `cli:${userInfo().username}`, action: 'device.allow', reason: 'manual-allow' },
    ])
  })

  it('revokes a device, recording who and why', async () => {
    const bg = install()
    await bg.run(allowCommand, '3a:11:22:33:44:55')
    const revoked = await bg.run(revokeCommand, '3a:11:22:33:44:55')
    expect(revoked).toEqual({ code: 0, text: '3a:11:22:33:44:55 revoked' })
    expect((await bg.run(statusCommand)).text).toContain('0 device(s) let through')
    const audit = bg.db().prepare('SELECT actor, action, reason FROM audit_log ORDER BY id').all()
    expect(audit.at(-1)).toEqual({
      actor: `cli:${userInfo().username}`,
      action: 'device.revoke',
      reason: 'revoke',
    })
  })

  it('refuses a malformed MAC or duration with usage, and changes nothing', async () => {
    const bg = install()
    expect((await bg.run(allowCommand, 'ff:ff:ff:ff:ff:ff')).code).toBe(2)
    expect((await bg.run(allowCommand, '3a:11:22:33:44:55', '--minutes', 'lots')).code).toBe(2)
    expect((await bg.run(revokeCommand, '3a:11:22:33:44:5')).code).toBe(2)
    expect(bg.db().prepare('SELECT COUNT(*) AS n FROM audit_log').get()).toEqual({ n: 0 })
  })

  it('stop never signals a process that is not branchgate (a stale pid file)', async () => {
    const bg = install()
    const other = spawn('sleep', ['30'])
    cleanups.push(() => other.kill('SIGKILL'))
    writeFileSync(path.join(bg.dir, 'branchgate.pid'), `${other.pid}\n`)
    const r = await bg.run(stopCommand)
    expect(r).toEqual({ code: 0, text: 'branchgate was not running' })
    expect(other.exitCode).toBeNull()
    expect(other.signalCode).toBeNull()
    expect(existsSync(path.join(bg.dir, 'branchgate.pid'))).toBe(false)
  })

  // Issue 12/20, startup: the read-only commands open no services (most of the command's code),
  // so they neither load it nor create the install's secret as a side effect.
  it('status, stop and sms-status read without the services: no secret.key is created', async () => {
    const bg = install()
    expect((await bg.run(statusCommand)).code).toBe(0)
    expect((await bg.run(stopCommand)).code).toBe(0)
    expect(await cli(['sms-status', '--config', bg.file], {}, { out: () => {} })).toBe(0)
    expect(existsSync(path.join(bg.dir, 'secret.key'))).toBe(false)
    // A command that uses the services still gets them (and its secret).
    expect((await bg.run(allowCommand, '3a:11:22:33:44:55')).code).toBe(0)
    expect(existsSync(path.join(bg.dir, 'secret.key'))).toBe(true)
  })

  it('never creates a database for a config that has not served yet', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const file = path.join(t.dir, 'c.json')
    writeFileSync(file, JSON.stringify({ dataDir: path.join(t.dir, 'nothing-here') }))
    // Through the command's boundary, as the branchgate command runs it.
    expect(await cli(['status', '--config', file], {})).toBe(2)
    expect(existsSync(path.join(t.dir, 'nothing-here'))).toBe(false)
  })
})

/** A machine staged for doctor: everything right unless a test says otherwise. */
function machine(
  over: Partial<Record<string, string | null>> = {},
  nft = { code: 0, stderr: '' },
  dnsmasqUp = true,
): DoctorProbes {
  const dnsmasq = stagedDnsmasq(dnsmasqUp ? {} : { processes: {} })
  const files: Record<string, string | null> = {
    '/sys/class/net/br-guest/operstate': 'up\n',
    '/proc/sys/net/ipv4/ip_forward': '1\n',
    ...dnsmasq.files,
    ...over,
  }
  return {
    async run(file, args) {
      const staged = dnsmasq.run(file, args)
      if (staged) return staged
      if (args[0] === '--version')
        return { code: 0, stdout: 'nftables v1.0.6 (Lester Gooch #5)\n', stderr: '' }
      return { code: nft.code, stdout: '', stderr: nft.stderr }
    },
    async readFile(f) {
      const v = files[f]
      if (v === undefined || v === null) throw new Error(`ENOENT ${f}`)
      return v
    },
    mtimeMs: async (f) => dnsmasq.mtimes[f] ?? 0,
    fetch: () => Promise.reject(new Error('no provider API in this test')),
    async reach(url) {
      if (url.includes('down.example'))
        throw Object.assign(new Error('fetch failed'), {
          cause: new Error('getaddrinfo ENOTFOUND down.example'),
        })
      return 405
    },
    openDb: () => ({
      version: Math.max(...readMigrations().map((m) => m.version)),
      quickCheck: 'ok',
    }),
    dns: dnsmasq.dns,
    nftLibrary: () => ({ elementsVia: null }),
    kernelReads: () => null,
    tcNetlink: () => null,
  }
}

const gateConfig = (sms = 'https://sms.example/send') =>
  loadConfig(
    JSON.stringify({
      gate: { backend: 'nftables', guestInterface: 'br-guest' },
      sms: { providers: [{ type: 'http', url: sms }] },
    }),
  )

describe('branchgate doctor', () => {
  it('passes a well set-up gateway', async () => {
    const findings = await diagnose(gateConfig(), machine())
    expect(findings.filter((f) => !f.ok)).toEqual([])
    expect(findings.map((f) => f.check)).toEqual([
      'nft',
      'nft session',
      'presence',
      'rates',
      'guest interface',
      'IP forwarding',
      'dnsmasq config',
      'dnsmasq',
      'captive resolver',
      'database',
      'sms sms.example',
    ])
    expect(formatFindings(findings).at(-1)).toBe('everything looks right')
  })

  it('says what to fix for each failure', async () => {
    const findings = await diagnose(
      gateConfig('https://down.example/send'),
      machine(
        { '/sys/class/net/br-guest/operstate': null, '/proc/sys/net/ipv4/ip_forward': '0\n' },
        { code: 1, stderr: 'Error: No such file or directory' },
        false,
      ),
    )
    const text = formatFindings(findings).join('\n')
    expect(text).toContain(
      'FAIL  nft: nftables v1.0.6 (Lester Gooch #5); table inet branchgate is not loaded',
    )
    expect(text).toContain('fix: start the service: systemctl start branchgate')
    expect(text).toContain('FAIL  guest interface: br-guest does not exist')
    expect(text).toContain('fix: set gate.guestInterface')
    expect(text).toContain('FAIL  IP forwarding: off')
    expect(text).toContain('sysctl -w net.ipv4.ip_forward=1')
    expect(text).toContain(
      'FAIL  sms down.example: unreachable: getaddrinfo ENOTFOUND down.example',
    )
    expect(text).toContain('FAIL  dnsmasq: not running')
    expect(text).toContain('5 problem(s) found')
  })

  it('tells a person without CAP_NET_ADMIN why nft cannot read the firewall', async () => {
    const findings = await diagnose(
      gateConfig(),
      machine({}, { code: 1, stderr: 'Error: Operation not permitted' }),
    )
    expect(findings[0]).toMatchObject({ check: 'nft', ok: false })
    expect(findings[0]!.fix).toContain('root')
  })

  it('flags the dry-run demo as not a real gateway', async () => {
    const findings = await diagnose(loadConfig(null), machine())
    expect(findings[0]).toMatchObject({ check: 'gate', ok: false })
  })
})
