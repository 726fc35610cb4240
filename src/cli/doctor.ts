import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from '../cli.js'
import { ConfigError, type Config } from '../config.js'
import { closeDb, openDb, readMigrations } from '../db/open.js'
import { readConfig } from '../main.js'

/** One thing doctor looked at: fine, or what is wrong and how to fix it. */
export interface Finding {
  check: string
  ok: boolean
  detail: string
  /** What to do about it (failures only). */
  fix?: string
}

/** The outside world doctor looks at, handed in so tests can stage any machine. */
export interface DoctorProbes {
  run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  readFile(file: string): Promise<string>
  /** Any HTTP answer (even 4xx) means reachable; rejects on network errors and timeouts. */
  reach(url: string): Promise<number>
  openDb(file: string): { version: number; quickCheck: string }
}

export const systemProbes: DoctorProbes = {
  run: (file, args) =>
    new Promise((resolve) => {
      execFile(file, args, { timeout: 5000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 127) : 0
        resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') })
      })
    }),
  readFile: (file) => readFile(file, 'utf8'),
  async reach(url) {
    const res = await fetch(url, {
      method: 'HEAD',
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    })
    return res.status
  },
  openDb(file) {
    if (!existsSync(file)) throw new Error('it does not exist yet (branchgate serve creates it)')
    const db = openDb(file)
    try {
      const version = db.pragma('user_version', { simple: true }) as number
      const quickCheck = String(db.pragma('quick_check', { simple: true }))
      return { version, quickCheck }
    } finally {
      closeDb(db)
    }
  },
}

/** Every check for this config: nft, the guest interface, forwarding, dnsmasq, the DB, SMS. */
export async function diagnose(config: Config, probes: DoctorProbes): Promise<Finding[]> {
  const out: Finding[] = []
  const gate = config.gate
  if (gate.backend === 'dry-run') {
    out.push({
      check: 'gate',
      ok: false,
      detail: 'dry-run: nobody is really let through (demo)',
      fix: 'set gate.backend to "nftables" with gate.guestInterface in the config file',
    })
  } else {
    const version = await probes.run(gate.nftPath, ['--version'])
    if (version.code !== 0) {
      out.push({
        check: 'nft',
        ok: false,
        detail: `cannot run ${gate.nftPath}: ${(version.stderr || `exit ${version.code}`).trim()}`,
        fix: 'apt-get install nftables',
      })
    } else {
      const table = await probes.run(gate.nftPath, ['list', 'table', 'inet', 'branchgate'])
      const denied = /Operation not permitted|Permission denied/i.test(table.stderr)
      out.push(
        table.code === 0
          ? {
              check: 'nft',
              ok: true,
              detail: `${version.stdout.trim()}; table inet branchgate loaded`,
            }
          : denied
            ? {
                check: 'nft',
                ok: false,
                detail: `${version.stdout.trim()}, but not allowed to read the firewall`,
                fix: 'run doctor as root (sudo -u branchgate lacks CAP_NET_ADMIN outside the service)',
              }
            : {
                check: 'nft',
                ok: false,
                detail: `${version.stdout.trim()}; table inet branchgate is not loaded`,
                fix: 'start the service: systemctl start branchgate (it installs the table)',
              },
      )
    }
    const iface = gate.guestInterface
    try {
      const state = (await probes.readFile(`/sys/class/net/${iface}/operstate`)).trim()
      out.push(
        state === 'up' || state === 'unknown'
          ? { check: 'guest interface', ok: true, detail: `${iface} is ${state}` }
          : {
              check: 'guest interface',
              ok: false,
              detail: `${iface} is ${state}`,
              fix: `ip link set ${iface} up, and check its cable or access point`,
            },
      )
    } catch {
      out.push({
        check: 'guest interface',
        ok: false,
        detail: `${iface} does not exist`,
        fix: 'set gate.guestInterface to one of the names `ip -br link` lists',
      })
    }
    try {
      const fwd = (await probes.readFile('/proc/sys/net/ipv4/ip_forward')).trim()
      out.push(
        fwd === '1'
          ? { check: 'IP forwarding', ok: true, detail: 'on' }
          : {
              check: 'IP forwarding',
              ok: false,
              detail: 'off: guests cannot reach the internet',
              fix: 'sysctl -w net.ipv4.ip_forward=1 and keep it in /etc/sysctl.d/90-branchgate.conf (deploy/install.sh does both)',
            },
      )
    } catch (err) {
      out.push({
        check: 'IP forwarding',
        ok: false,
        detail: `cannot read it: ${(err as Error).message}`,
        fix: 'is this Linux?',
      })
    }
    const dnsmasq = await probes.run('pidof', ['dnsmasq'])
    out.push(
      dnsmasq.code === 0
        ? { check: 'dnsmasq', ok: true, detail: `running (pid ${dnsmasq.stdout.trim()})` }
        : {
            check: 'dnsmasq',
            ok: false,
            detail: 'not running: guests get no address (DHCP) and no DNS',
            fix: 'systemctl enable --now dnsmasq (deploy/install.sh writes /etc/dnsmasq.d/branchgate.conf)',
          },
    )
  }

  const dbFile = path.join(path.resolve(config.dataDir), 'branchgate.db')
  try {
    const latest = Math.max(0, ...readMigrations().map((m) => m.version))
    const db = probes.openDb(dbFile)
    out.push(
      db.quickCheck === 'ok' && db.version === latest
        ? { check: 'database', ok: true, detail: `${dbFile}, schema ${db.version}` }
        : {
            check: 'database',
            ok: false,
            detail: `${dbFile}: schema ${db.version} of ${latest}, integrity ${db.quickCheck}`,
            fix: 'restore the database from a backup, or move it aside to start empty',
          },
    )
  } catch (err) {
    out.push({
      check: 'database',
      ok: false,
      detail: `cannot open ${dbFile}: ${(err as Error).message}`,
      fix: `make ${path.dirname(dbFile)} writable by the branchgate user (install.sh creates /var/lib/branchgate)`,
    })
  }

  for (const p of config.sms.providers) {
    if (p.type === 'console') {
      out.push({
        check: 'sms console',
        ok: config.gate.backend === 'dry-run',
        detail: 'codes are only printed to the log; guests never receive them',
        fix: 'add a real provider (http, twilio, infobip, whatsapp) under sms.providers',
      })
      continue
    }
    const url = p.type === 'http' ? p.url : p.type === 'whatsapp' ? p.baseUrl : p.baseUrl
    const check = `sms ${p.type === 'http' ? '' : `${p.type} `}${new URL(url).host}`
    try {
      const status = await probes.reach(url)
      out.push({
        check,
        ok: true,
        detail: `reachable (HTTP ${status})`,
      })
    } catch (err) {
      const e = err as Error
      out.push({
        check,
        ok: false,
        detail: `unreachable: ${e.name === 'TimeoutError' ? 'no answer within 5 s' : ((e.cause as Error)?.message ?? e.message)}`,
        fix: 'check the uplink, DNS and the provider URL in sms.providers',
      })
    }
  }
  return out
}

export function formatFindings(findings: readonly Finding[]): string[] {
  const lines: string[] = []
  for (const f of findings) {
    lines.push(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.check}: ${f.detail}`)
    if (!f.ok && f.fix) lines.push(`      fix: ${f.fix}`)
  }
  const failed = findings.filter((f) => !f.ok).length
  lines.push(failed ? `${failed} problem(s) found` : 'everything looks right')
  return lines
}

/** `branchgate doctor`: checks what a gateway needs and prints what to fix for each failure. */
export const doctorCommand: Command = {
  name: 'doctor',
  usage: 'branchgate doctor',
  summary: 'check nft, the guest port, forwarding, dnsmasq, the DB and SMS',
  async run(argv, env, out = console.log) {
    let config: Config
    try {
      config = readConfig(argv, env).config
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      out(`FAIL  config: ${err.message}`)
      return 2
    }
    const findings = await diagnose(config, systemProbes)
    for (const line of formatFindings(findings)) out(line)
    return findings.every((f) => f.ok) ? 0 : 1
  },
}
