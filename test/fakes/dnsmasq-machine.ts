import { readFileSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.join(import.meta.dirname, '..', '..')

/** deploy/dnsmasq.conf.tmpl filled the way deploy/install.sh fills it. */
export function renderedDnsmasqConf(p: {
  guest: string
  gateway: string
  captiveApiUrl: string
}): string {
  const prefix = p.gateway.split('.').slice(0, 3).join('.')
  return readFileSync(path.join(ROOT, 'deploy/dnsmasq.conf.tmpl'), 'utf8')
    .replaceAll('{{guestInterface}}', p.guest)
    .replaceAll('{{gatewayIp}}', p.gateway)
    .replaceAll('{{netmask}}', '255.255.255.0')
    .replaceAll('{{dhcpStart}}', `${prefix}.20`)
    .replaceAll('{{dhcpEnd}}', `${prefix}.250`)
    .replaceAll('{{leaseTime}}', '2h')
    .replaceAll('{{captiveApiUrl}}', p.captiveApiUrl)
    .replaceAll('{{portalHostRecord}}', '')
    .replaceAll('{{ipv6}}', '#')
    .replaceAll('{{raByDnsmasq}}', '#')
    .replaceAll('{{raByRadvd}}', '#')
}

/** Debian's dnsmasq as systemd starts it: /etc/dnsmasq.d is a conf-dir (`-7`). */
export const DEBIAN_DNSMASQ_CMDLINE = [
  '/usr/sbin/dnsmasq',
  '-x',
  '/run/dnsmasq/dnsmasq.pid',
  '-u',
  'dnsmasq',
  '-7',
  '/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new',
  '--local-service',
  '',
].join('\0')

/** libvirt's dnsmasq: a dnsmasq that is not ours. */
export const LIBVIRT_DNSMASQ_CMDLINE = [
  '/usr/sbin/dnsmasq',
  '--conf-file=/var/lib/libvirt/dnsmasq/default.conf',
  '--leasefile-ro',
  '',
].join('\0')

export interface StagedDnsmasq {
  /** Files doctor reads: the guest file, each pid's cmdline and stat, /proc/stat. */
  files: Record<string, string>
  /** When each file was last changed (epoch ms). */
  mtimes: Record<string, number>
  /** `pidof dnsmasq`, `ss -H -l -n -u -p` and `ip -j -4 addr show dev GUEST` answers. */
  run(file: string, args: string[]): { code: number; stdout: string; stderr: string } | null
  /** A DNS question to server:port, answered as the staged captive resolver would. */
  dns(server: string, port: number, name: string): Promise<string[]>
}

/**
 * A machine as deploy/install.sh leaves it: /etc/dnsmasq.d/branchgate.conf for `guest`, and a
 * Debian dnsmasq (pid 812, started at boot + 10 s) that has loaded it and listens on the guest
 * interface. Every part can be replaced to stage what doctor must catch.
 */
export function stagedDnsmasq(
  p: {
    guest?: string
    gateway?: string
    captiveApiUrl?: string
    /** pid → cmdline; default pid 812 running Debian's dnsmasq. */
    processes?: Record<string, string>
    /** `ss` output; default: DHCP and DNS of pid 812 on the guest interface. */
    sockets?: string
    /** When the guest file was last changed; default long before dnsmasq started. */
    confChangedAt?: number
    /**
     * What answers on the captive resolver's port: branchgate's own (every name gets the
     * gateway's address, the default), one that forwards, one that says NXDOMAIN, or nothing.
     */
    captive?: 'branchgate' | 'forwards' | 'nxdomain' | 'down'
    /** The captive resolver's port the machine answers on (default 5300). */
    captivePort?: number
    /** Walled-garden names the captive resolver forwards, and what they resolve to. */
    garden?: Record<string, string[]>
  } = {},
): StagedDnsmasq {
  const guest = p.guest ?? 'br-guest'
  const gateway = p.gateway ?? '192.168.77.1'
  const processes = p.processes ?? { '812': DEBIAN_DNSMASQ_CMDLINE }
  const bootS = 1_767_225_600 // 2026-01-01T00:00:00Z
  const files: Record<string, string> = {
    '/etc/dnsmasq.d/branchgate.conf': renderedDnsmasqConf({
      guest,
      gateway,
      captiveApiUrl: p.captiveApiUrl ?? 'http://localhost:8080/api/captive',
    }),
    '/proc/stat': `cpu  1 2 3 4\nbtime ${bootS}\nprocesses 900\n`,
  }
  for (const [pid, cmdline] of Object.entries(processes)) {
    files[`/proc/${pid}/cmdline`] = cmdline
    // Field 22 (start time): 1000 ticks of 10 ms after boot.
    files[`/proc/${pid}/stat`] =
      `${pid} (dnsmasq) S 1 ${pid} ${pid} 0 -1 4194624 50 0 0 0 0 0 0 0 20 0 1 0 1000 12091392 523`
  }
  const sockets =
    p.sockets ??
    [
      `UNCONN 0 0 ${gateway}:53 0.0.0.0:* users:(("dnsmasq",pid=812,fd=6))`,
      `UNCONN 0 0 0.0.0.0%${guest}:67 0.0.0.0:* users:(("dnsmasq",pid=812,fd=4))`,
    ].join('\n')
  const captive = p.captive ?? 'branchgate'
  const fail = (code: string) => Promise.reject(Object.assign(new Error(code), { code }))
  return {
    dns(server, port, name) {
      if (server !== gateway || port !== (p.captivePort ?? 5300) || captive === 'down')
        return fail('ECONNREFUSED')
      const garden = p.garden?.[name]
      if (garden) return garden.length ? Promise.resolve(garden) : fail('ENOTFOUND')
      if (captive === 'nxdomain') return fail('ENOTFOUND')
      return Promise.resolve(captive === 'forwards' ? ['93.184.215.14'] : [gateway])
    },
    files,
    mtimes: { '/etc/dnsmasq.d/branchgate.conf': p.confChangedAt ?? bootS * 1000 - 86_400_000 },
    run(file, args) {
      if (file === 'pidof') {
        const pids = Object.keys(processes)
        return { code: pids.length ? 0 : 1, stdout: pids.join(' ') + '\n', stderr: '' }
      }
      if (file === 'ss') return { code: 0, stdout: sockets + '\n', stderr: '' }
      if (file === 'ip' && args.includes(guest)) {
        const addr = [{ ifname: guest, addr_info: [{ family: 'inet', local: gateway }] }]
        return { code: 0, stdout: JSON.stringify(addr), stderr: '' }
      }
      return null
    },
  }
}
