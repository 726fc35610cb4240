import path from 'node:path'
import type { Config } from '../config.js'

/**
 * Reading dnsmasq's configuration the way dnsmasq does, for `branchgate doctor`: which files a
 * running dnsmasq has loaded (from its command line and main file), and what branchgate's own
 * guest file says. Plain functions over text: doctor.ts does the reading.
 */

/** Where a dnsmasq process takes its configuration from. */
export interface DnsmasqSources {
  /** Files read as configuration: `-C`/`--conf-file` (default /etc/dnsmasq.conf) and `conf-file=`. */
  files: string[]
  /** `-7`/`--conf-dir` and `conf-dir=` values: `DIR[,ext…]` as dnsmasq takes them. */
  dirs: string[]
}

/** dnsmasq's main file when the command line names none. */
export const DNSMASQ_MAIN_FILE = '/etc/dnsmasq.conf'

/**
 * The configuration sources on a dnsmasq command line (the NUL-separated /proc/PID/cmdline).
 * `main` is null when the command line names no `-C`, i.e. /etc/dnsmasq.conf is read.
 */
export function sourcesOnCommandLine(cmdline: string): { main: string | null; dirs: string[] } {
  const args = cmdline.split('\0').filter((a) => a !== '')
  let main: string | null = null
  const dirs: string[] = []
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    const value = (short: string, long: string): string | null => {
      if (a === short || a === long) return args[++i] ?? null
      if (a.startsWith(`${long}=`)) return a.slice(long.length + 1)
      if (a.startsWith(short) && a.length > short.length) return a.slice(short.length)
      return null
    }
    const file = value('-C', '--conf-file')
    if (file !== null) {
      main = file
      continue
    }
    const dir = value('-7', '--conf-dir')
    if (dir !== null) dirs.push(dir)
  }
  return { main, dirs }
}

/** `conf-file=` and `conf-dir=` lines of a configuration file. */
export function sourcesInFile(text: string): DnsmasqSources {
  const files: string[] = []
  const dirs: string[] = []
  for (const [key, value] of settings(text)) {
    if (key === 'conf-file' && value) files.push(value)
    if (key === 'conf-dir' && value) dirs.push(value)
  }
  return { files, dirs }
}

/**
 * Whether a `conf-dir` value (`DIR[,ext…]`) makes dnsmasq read `file`: it is in DIR, is not a
 * dot-file, an editor backup (`~`, `#…#`) or of an excluded extension, and matches the `*ext`
 * patterns when there are any (dnsmasq(8), --conf-dir).
 */
export function confDirLoads(spec: string, file: string): boolean {
  const [dir, ...exts] = spec.split(',')
  if (!dir || path.resolve(dir) !== path.dirname(path.resolve(file))) return false
  const name = path.basename(file)
  if (name.startsWith('.') || name.endsWith('~') || (name.startsWith('#') && name.endsWith('#')))
    return false
  const wanted = exts.filter((e) => e.startsWith('*')).map((e) => e.slice(1))
  const excluded = exts.filter((e) => e !== '' && !e.startsWith('*'))
  if (excluded.some((e) => name.endsWith(e))) return false
  return wanted.length === 0 || wanted.some((e) => name.endsWith(e))
}

/** What branchgate's guest file says about the guest interface and option 114. */
export interface GuestFile {
  /** `interface=` values. */
  interfaces: string[]
  /** The option 114 URI that applies on the guest interface, or null. */
  captiveUrl: string | null
}

/** Reads `interface=` and the `dhcp-option=…,114,"URI"` that applies on `guestInterface`. */
export function readGuestFile(text: string, guestInterface: string): GuestFile {
  const interfaces: string[] = []
  let captiveUrl: string | null = null
  for (const [key, value] of settings(text)) {
    if (key === 'interface') interfaces.push(...value.split(',').map((v) => v.trim()))
    if (key !== 'dhcp-option' && key !== 'dhcp-option-force') continue
    const fields = value.split(',')
    const at = fields.findIndex((f) => f.trim().replace(/^option:/, '') === '114')
    if (at < 0) continue
    // Tags before the option number (an interface name, tag:NAME) say where it applies.
    const tags = fields.slice(0, at).map((f) => f.trim().replace(/^tag:/, ''))
    if (tags.length > 0 && !tags.includes(guestInterface)) continue
    captiveUrl = fields
      .slice(at + 1)
      .join(',')
      .trim()
      .replace(/^"(.*)"$/, '$1')
  }
  return { interfaces, captiveUrl }
}

/**
 * The Captive Portal API URIs option 114 may carry for this config: `/api/captive` at
 * `publicUrl`, or its https:// twin on the TLS listener (RFC 8908 wants HTTPS).
 */
export function expectedCaptiveUrls(config: Pick<Config, 'publicUrl' | 'listen'>): string[] {
  const urls = [new URL('/api/captive', config.publicUrl).href]
  const tls = config.listen.tls
  if (tls) {
    const host = new URL(config.publicUrl).hostname
    urls.push(new URL(`https://${host}:${tls.port}/api/captive`).href)
  }
  return urls
}

/** Whether two URIs name the same resource (`new URL` normalises case and default ports). */
export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href
  } catch {
    return false
  }
}

/** A UDP socket a process listens on, from `ss -H -l -n -u -p`. */
export interface ListeningSocket {
  address: string
  /** The interface it is bound to (`0.0.0.0%br-guest:67`), or null. */
  device: string | null
  port: number
  pid: number
}

/** The listening sockets of `ss -H -l -n -u -p` (or -t) output. */
export function readListeningSockets(ssOutput: string): ListeningSocket[] {
  const out: ListeningSocket[] = []
  for (const line of ssOutput.split('\n')) {
    const cols = line.trim().split(/\s+/)
    const local = cols[3]
    if (!local) continue
    const m = /^(.*?)(?:%([^:\]]+))?:(\d+|\*)$/.exec(local)
    if (!m) continue
    for (const p of line.matchAll(/pid=(\d+)/g)) {
      out.push({
        address: m[1]!.replace(/^\[|\]$/g, ''),
        device: m[2] ?? null,
        port: Number(m[3]),
        pid: Number(p[1]),
      })
    }
  }
  return out
}

/**
 * When a process started (epoch ms), from its /proc/PID/stat (field 22, clock ticks after
 * boot) and /proc/stat's `btime`. USER_HZ is 100 on every Linux architecture branchgate runs
 * on; the result is good to a second (btime's precision).
 */
export function processStartMs(pidStat: string, procStat: string): number | null {
  const rest = pidStat.slice(pidStat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(rest[19])
  const btime = Number(/^btime (\d+)$/m.exec(procStat)?.[1])
  if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return null
  return btime * 1000 + ticks * 10
}

/** `key=value` settings of a dnsmasq file, without comments and blank lines. */
function settings(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    out.push(eq < 0 ? [line, ''] : [line.slice(0, eq).trim(), line.slice(eq + 1).trim()])
  }
  return out
}
