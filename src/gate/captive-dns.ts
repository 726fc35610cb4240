import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { atRoot } from '../paths.js'
import { fillPlaceholders } from './nft-ruleset.js'

/**
 * The captive resolver: the DNS of guests who are not let through. A dnsmasq of branchgate's
 * own, on its own port of the guest interface, that answers every name with the gateway's
 * address and forwards only the walled garden's names to the branch's resolver (the gateway's
 * dnsmasq on port 53). The firewall switches a guest's port-53 traffic to it until the device is
 * let through (deploy/nftables.nft.tmpl, chain prelogin_dns): nothing a guest asks before login
 * reaches the internet, so no DNS tunnel.
 *
 * The config text is built by pure functions; `startCaptiveResolver` runs and watches the process.
 */

export const CAPTIVE_DNS_TEMPLATE_FILE = atRoot('deploy/captive-dns.conf.tmpl')

export function readCaptiveDnsTemplate(file = CAPTIVE_DNS_TEMPLATE_FILE): string {
  return readFileSync(file, 'utf8')
}

export interface CaptiveDnsParams {
  guestInterface: string
  /** The port it listens on (gate.captiveDns.port). */
  port: number
  /** The gateway's addresses on the guest interface (one per family is used). */
  gatewayAddresses: readonly string[]
  /** Walled-garden host names, forwarded to the branch's resolver (`*.` allowed in front). */
  gardenHosts: readonly string[]
  /**
   * Whether this dnsmasq can put answers into nftables sets (compiled with nftset, 2.87+);
   * without it the garden's names are only resolved periodically by branchgate.
   */
  nftset: boolean
}

/** The sets of `inet branchgate` the captive resolver fills with the garden's addresses. */
export const GARDEN_DNS_SETS = '4#inet#branchgate#garden_dns4,6#inet#branchgate#garden_dns6'

const HOST_RE = /^(?=.{1,253}$)[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

/** A walled-garden name as dnsmasq matches it: `*.bank.example` and `bank.example` both cover the domain and every name under it. */
export function gardenDomain(host: string): string {
  const name = host.replace(/^\*\./, '').replace(/\.$/, '').toLowerCase()
  if (!HOST_RE.test(name)) throw new Error(`not a host name: ${JSON.stringify(host)}`)
  return name
}

/** The first address of each family, IPv4 first. */
export function answerAddresses(addresses: readonly string[]): string[] {
  const v4 = addresses.find((a) => isIP(a) === 4)
  const v6 = addresses.find((a) => isIP(a) === 6)
  return [v4, v6].filter((a): a is string => a !== undefined)
}

/** The captive resolver's dnsmasq file. Every value is checked before it reaches the text. */
export function renderCaptiveDns(template: string, p: CaptiveDnsParams): string {
  const answers = answerAddresses(p.gatewayAddresses)
  if (answers.length === 0) throw new Error(`${p.guestInterface} has no address to answer with`)
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(p.guestInterface))
    throw new Error(`not an interface name: ${JSON.stringify(p.guestInterface)}`)
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535 || p.port === 53)
    throw new Error(`not a port for the captive resolver: ${p.port}`)
  // The branch's resolver answers on the gateway's guest address, port 53.
  const upstream = answers[0]!
  const domains = [...new Set(p.gardenHosts.map(gardenDomain))]
  return fillPlaceholders(template, {
    port: String(p.port),
    guestInterface: p.guestInterface,
    gatewayRecords: answers.map((a) => `address=/#/${a}`).join('\n'),
    gardenServers: domains.length
      ? domains.map((d) => `server=/${d}/${upstream}`).join('\n')
      : '# (none configured)',
    gardenSets:
      domains.length === 0
        ? ''
        : p.nftset
          ? `nftset=/${domains.join('/')}/${GARDEN_DNS_SETS}`
          : '# (this dnsmasq has no nftset: branchgate resolves the names itself)',
  })
}

/** The global addresses of an interface, from `ip -j addr show dev IF` (link-local left out). */
export function interfaceAddresses(ipJson: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(ipJson || '[]')
  } catch {
    return []
  }
  if (!Array.isArray(parsed)) return []
  const out: string[] = []
  for (const link of parsed as Array<{ addr_info?: Array<Record<string, unknown>> }>) {
    for (const a of link.addr_info ?? []) {
      // `scope` absent counts as global (older iproute2 prints none for IPv4).
      if ((a.scope ?? 'global') !== 'global' || typeof a.local !== 'string') continue
      if (isIP(a.local) === 0) continue
      if (a.tentative === true || a.dadfailed === true) continue
      out.push(a.local)
    }
  }
  return out
}

/** Reads the interface's addresses with iproute2 (no shell). */
export function kernelInterfaceAddresses(iface: string): () => Promise<string[]> {
  return () =>
    new Promise((resolve) => {
      execFile('ip', ['-j', 'addr', 'show', 'dev', iface], { timeout: 2000 }, (err, stdout) =>
        resolve(err ? [] : interfaceAddresses(stdout)),
      )
    })
}

/** Whether a dnsmasq was built with nftset, from its `--version` text ("no-nftset" when not). */
export function hasNftset(versionText: string): boolean {
  return /(^|\s)nftset(\s|$)/m.test(versionText)
}

/** Asks the dnsmasq program what it can do (false when it cannot be run). */
export function dnsmasqHasNftset(dnsmasqPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(dnsmasqPath, ['--version'], { timeout: 5000 }, (err, stdout) =>
      resolve(!err && hasNftset(stdout)),
    )
  })
}

/** A started process, as the resolver's watcher sees it. */
export interface WatchedProcess {
  /** Called once with the exit code (null after a signal or when it could not start). */
  onExit(listener: (code: number | null, why: string) => void): void
  kill(): void
}

export type StartProcess = (
  file: string,
  args: string[],
  output: (line: string) => void,
) => WatchedProcess

const startChild: StartProcess = (file, args, output) => {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let rest = ''
  const lines = (chunk: Buffer) => {
    rest += chunk.toString('utf8')
    const parts = rest.split('\n')
    rest = parts.pop() ?? ''
    for (const l of parts) if (l.trim()) output(l.trim())
  }
  child.stdout.on('data', lines)
  child.stderr.on('data', lines)
  let done = false
  const listeners: Array<(code: number | null, why: string) => void> = []
  const finish = (code: number | null, why: string) => {
    if (done) return
    done = true
    for (const l of listeners) l(code, why)
  }
  child.on('error', (err) => finish(null, `cannot run ${file}: ${err.message}`))
  child.on('exit', (code, signal) => finish(code, signal ? `signal ${signal}` : `exit ${code}`))
  return {
    onExit: (l) => listeners.push(l),
    kill: () => child.kill('SIGTERM'),
  }
}

export interface CaptiveResolverOptions {
  dnsmasqPath: string
  /** Where its config is written (branchgate's data folder). */
  confFile: string
  guestInterface: string
  /** The config text for the gateway's current addresses (renderCaptiveDns). */
  render: (addresses: readonly string[]) => string
  /** The guest interface's addresses now. */
  addresses: () => Promise<string[]>
  log: (line: string) => void
  start?: StartProcess
  write?: (file: string, text: string) => Promise<void>
  /** Waits before a retry; tests pass one that returns at once. */
  pause?: (ms: number) => Promise<void>
}

export interface CaptiveResolver {
  /** Resolves once dnsmasq has said it started (or a try failed and a retry is planned). */
  started: Promise<void>
  /** Ends the process and the retries. */
  stop(): void
  /**
   * Live reload's door: the config is rendered again and dnsmasq started afresh with it (not
   * counted as a failure). Resolves once the new one said it started, or a retry is planned.
   */
  restart(): Promise<void>
}

/** Waits between tries, doubling from 1 s to 30 s; a run of a minute or more starts over. */
const RETRY_MS = [1000, 2000, 4000, 8000, 16_000, 30_000]

/**
 * Runs the captive resolver and keeps it running: when dnsmasq exits (or the guest interface has
 * no address yet) it is started again after a pause, with the addresses read afresh. Its lines
 * go to branchgate's log (it logs no queries: no guest's names in the journal).
 */
export function startCaptiveResolver(o: CaptiveResolverOptions): CaptiveResolver {
  const start = o.start ?? startChild
  const write = o.write ?? ((file: string, text: string) => writeFile(file, text, { mode: 0o644 }))
  const pause = o.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()))
  let stopped = false
  let current: WatchedProcess | null = null
  let failures = 0
  let firstTry: () => void = () => {}
  const started = new Promise<void>((r) => (firstTry = r))
  let restarting: WatchedProcess | null = null
  // A restart between tries starts a new run; older runs and planned retries then stand down.
  let generation = 0

  const retry = async (why: string) => {
    const ms = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]!
    failures++
    o.log(`captive dns: ${why}; starting it again in ${ms / 1000} s`)
    firstTry()
    const gen = generation
    await pause(ms)
    if (!stopped && gen === generation) void run()
  }

  const run = async (): Promise<void> => {
    if (stopped) return
    const gen = generation
    let text: string
    try {
      text = o.render(await o.addresses())
      await write(o.confFile, text)
    } catch (err) {
      if (gen !== generation) return
      return retry(`cannot be set up: ${(err as Error).message}`)
    }
    if (stopped || gen !== generation) return
    const since = performance.now()
    const proc = start(
      o.dnsmasqPath,
      ['--keep-in-foreground', `--conf-file=${o.confFile}`, '--pid-file=', '--log-facility=-'],
      (line) => {
        const text = line.replace(/^dnsmasq(\[\d+\])?: /, '')
        o.log(`captive dns: ${text}`)
        // dnsmasq says "started" once its sockets are bound: guests get answers from now on.
        if (text.startsWith('started')) firstTry()
      },
    )
    current = proc
    proc.onExit((_code, why) => {
      if (current === proc) current = null
      if (stopped) return
      if (restarting === proc) {
        restarting = null
        void run()
        return
      }
      if (performance.now() - since >= 60_000) failures = 0
      void retry(`${o.dnsmasqPath} ended (${why})`)
    })
  }

  void run()
  return {
    started,
    stop() {
      stopped = true
      current?.kill()
      current = null
    },
    restart() {
      if (stopped) return Promise.resolve()
      const next = new Promise<void>((r) => (firstTry = r))
      if (current) {
        restarting = current
        current.kill()
      } else {
        generation++ // between tries: start at once with the new config
        void run()
      }
      return next
    },
  }
}
