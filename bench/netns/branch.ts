/**
 * A branch in network namespaces for the bench: a gateway running the compiled service with the
 * nftables gate, an "internet" host behind it, and a few client namespaces each holding many
 * phones (macvlan interfaces, each with its own MAC and address, and its own routing table so
 * what it sends leaves through its own interface). Everything lives in namespaces this file
 * creates, with private addresses inside them; `close()` removes it all.
 *
 *   client k: m0 … m(M-1) (macvlan on eth0) ─┐
 *                                             ├─ bridge "guest" 10.98.0.1/16 ─ gateway ─ up0 10.97.0.1 ─ internet 10.97.0.2
 *   client k+1: …                           ─┘   (branchgate, nftables)
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const GATEWAY_IP = '10.98.0.1'
export const INTERNET_IP = '10.97.0.2'
export const PORTAL_PORT = 8080
/** The internet host's port that records the first connection of each phone. */
export const FIRST_PACKET_PORT = 9000

export interface Phone {
  /** Client namespace. */
  ns: string
  ip: string
  mac: string
}

/** Why the namespace bench cannot run here, or null. */
export function netnsSkipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (process.getuid?.() !== 0)
    return 'needs root (network namespaces, nftables, macvlan): run it as root, e.g. sudo npm run bench -- scale'
  for (const tool of ['ip', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      return `${tool} is not installed (apt-get install iproute2 nftables)`
    }
  }
  return null
}

/**
 * Prints why a namespace bench section cannot run here and returns false; or builds the compiled
 * service it runs (dist/, when src/ changed) and returns true.
 */
export function netnsBenchReady(): boolean {
  const skip = netnsSkipReason()
  if (skip) {
    console.log(`skipped: ${skip}`)
    return false
  }
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: 'inherit' })
  return true
}

function ipBatch(ns: string | null, lines: string[]): void {
  execFileSync('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], {
    input: lines.join('\n') + '\n',
    stdio: ['pipe', 'ignore', 'pipe'],
  })
}

const hex = (n: number) => n.toString(16).padStart(2, '0')

const GC = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].map(
  (k) => `/proc/sys/net/ipv4/neigh/default/${k}`,
)

/**
 * The kernel's neighbour table is shared by all namespaces and holds 1,024 entries by default
 * (gc_thresh3): a thousand phones need it raised. Returns a function that puts the old values back.
 */
export function raiseNeighbourLimits(entries: number): () => void {
  const old = GC.map((f) => readFileSync(f, 'utf8').trim())
  const want = [entries, entries * 2, entries * 4]
  GC.forEach((f, i) => {
    if (Number(old[i]) < want[i]!) writeFileSync(f, String(want[i]))
  })
  return () => {
    // Lowest first on the way up, highest first on the way down: thresh1 ≤ thresh2 ≤ thresh3.
    for (let i = GC.length - 1; i >= 0; i--) writeFileSync(GC[i]!, old[i]!)
  }
}

export interface BranchOptions {
  /** Client namespaces. */
  namespaces: number
  /** Phones (macvlan interfaces) per client namespace, at most 250. */
  phonesPerNamespace: number
}

export type Branch = Awaited<ReturnType<typeof createBranch>>

export async function createBranch(o: BranchOptions) {
  if (o.phonesPerNamespace > 250) throw new Error('at most 250 phones per namespace')
  const prefix = `bgb${randomBytes(2).toString('hex')}`
  const gw = `${prefix}-gw`
  const net = `${prefix}-net`
  const tmp = mkdtempSync(path.join(tmpdir(), `${prefix}-`))
  const namespaces: string[] = []
  const children = new Set<ChildProcess>()
  const phones: Phone[] = []
  const clientNs: string[] = []

  const addNs = (name: string) => {
    execFileSync('ip', ['netns', 'add', name])
    namespaces.push(name)
    ipBatch(name, ['link set lo up'])
  }
  const sysctl = (ns: string, ...kv: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...kv])

  const close = async () => {
    await Promise.all(
      [...children]
        .filter((c) => c.exitCode === null && c.signalCode === null)
        .map(
          (c) =>
            new Promise<void>((resolve) => {
              const t = setTimeout(() => c.kill('SIGKILL'), 5000)
              c.once('exit', () => {
                clearTimeout(t)
                resolve()
              })
              c.kill('SIGTERM')
            }),
        ),
    )
    for (const ns of namespaces.reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
    rmSync(tmp, { recursive: true, force: true })
  }

  try {
    addNs(gw)
    addNs(net)
    sysctl(gw, 'net.ipv4.ip_forward=1')
    ipBatch(gw, [
      'link add guest type bridge',
      `addr add ${GATEWAY_IP}/16 dev guest`,
      'link set guest up',
      `link add up0 type veth peer name eth0 netns ${net}`,
      'addr add 10.97.0.1/24 dev up0',
      'link set up0 up',
    ])
    ipBatch(net, [`addr add ${INTERNET_IP}/24 dev eth0`, 'link set eth0 up'])
    for (let k = 1; k <= o.namespaces; k++) {
      const ns = `${prefix}-c${k}`
      addNs(ns)
      clientNs.push(ns)
      ipBatch(gw, [
        `link add g${k} type veth peer name eth0 netns ${ns}`,
        `link set g${k} master guest up`,
      ])
      // Each interface answers ARP for its own address only and speaks from it; replies may
      // come back on any interface of the namespace.
      sysctl(
        ns,
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      )
      const lines = ['link set eth0 up']
      for (let i = 0; i < o.phonesPerNamespace; i++) {
        const ip = `10.98.${k}.${i + 2}`
        const mac = `02:98:${hex(k)}:00:${hex(i >> 8)}:${hex(i & 255)}`
        const table = 1000 + i
        lines.push(
          `link add m${i} link eth0 address ${mac} type macvlan mode bridge`,
          `addr add ${ip}/16 dev m${i}`,
          `link set m${i} up`,
          `route add 10.98.0.0/16 dev m${i} src ${ip} table ${table}`,
          `route add default via ${GATEWAY_IP} dev m${i} table ${table}`,
          `rule add from ${ip} lookup ${table}`,
        )
        phones.push({ ns, ip, mac })
      }
      ipBatch(ns, lines)
      // Sockets that bind no address (autocannon) leave through the first phone.
      ipBatch(ns, [`route replace default via ${GATEWAY_IP} dev m0 src 10.98.${k}.2`])
    }
  } catch (err) {
    await close()
    throw err
  }

  /** Starts a program in a namespace; stopped by close(). */
  function spawnIn(ns: string, args: string[], ipc = false): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
    })
    children.add(child)
    child.once('exit', () => children.delete(child))
    return child
  }

  /** Codes the service printed (console SMS provider), by number, and who waits for one. */
  const codes = new Map<string, string>()
  const wanting = new Map<string, Array<(code: string) => void>>()
  const gotCode = (to: string, code: string) => {
    const w = wanting.get(to)
    if (w) {
      wanting.delete(to)
      for (const f of w) f(code)
    } else codes.set(to, code)
  }
  const codeFor = (to: string) =>
    new Promise<string>((resolve) => {
      const known = codes.get(to)
      if (known !== undefined) {
        codes.delete(to)
        return resolve(known)
      }
      wanting.set(to, [...(wanting.get(to) ?? []), resolve])
    })

  /**
   * Starts the compiled service on the gateway (as `node dist/serve.js`, the pid is the
   * service's) and resolves once it listens. Codes it prints go to the phones that wait.
   */
  async function startService(config: Record<string, unknown>, nodeArgs: string[] = []) {
    const file = path.join(tmp, 'branchgate.json')
    writeFileSync(file, JSON.stringify(config, null, 2))
    const child = spawnIn(gw, [
      process.execPath,
      ...nodeArgs,
      path.join(ROOT, 'dist/serve.js'),
      '--config',
      file,
    ])
    let log = ''
    let rest = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()!
      for (const l of lines) {
        const m = /^\[sms\] to=(\S+) code=(\d+)/.exec(l)
        if (m) gotCode(m[1]!, m[2]!)
        else log += l + '\n'
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => (log += d))
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (/ data in /.test(log)) {
          clearInterval(t)
          resolve()
        }
      }, 20)
      child.once('exit', (code) => {
        clearInterval(t)
        reject(new Error(`the service exited (${code}):\n${log}`))
      })
    })
    return {
      child,
      file,
      pid: child.pid!,
      log: () => log,
      stop: () =>
        new Promise<number | null>((resolve) => {
          if (child.exitCode !== null) return resolve(child.exitCode)
          child.once('exit', (code) => resolve(code))
          child.kill('SIGTERM')
        }),
    }
  }

  /** The phone process of a client namespace (bench/netns/phones.ts), answering its code requests. */
  async function startPhones(ns: string) {
    const child = spawnIn(
      ns,
      [process.execPath, '--import', 'tsx', path.join(ROOT, 'bench/netns/phones.ts')],
      true,
    )
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    child.stdout!.resume()
    child.on('message', (m: any) => {
      if (m?.want) void codeFor(m.want).then((code) => child.send({ code: { to: m.want, code } }))
    })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', (code) => reject(new Error(`phones in ${ns} exited (${code}): ${err}`)))
    })
    const ask = <T>(msg: Record<string, unknown>, key: string) =>
      new Promise<T>((resolve, reject) => {
        const exit = (code: number | null) =>
          reject(new Error(`phones in ${ns} exited (${code}): ${err}`))
        const on = (m: any) => {
          if (m?.[key] === undefined) return
          child.off('message', on)
          child.off('exit', exit)
          resolve(m[key] as T)
        }
        child.on('message', on)
        child.once('exit', exit)
        child.send(msg)
      })
    return { child, ask }
  }

  /** The internet host (bench/netns/internet.ts): first-packet times by phone id. */
  async function startInternet() {
    const child = spawnIn(net, [
      process.execPath,
      '--import',
      'tsx',
      path.join(ROOT, 'bench/netns/internet.ts'),
    ])
    const arrivals = new Map<string, bigint>()
    let rest = ''
    let up!: () => void
    const listening = new Promise<void>((r) => (up = r))
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (d: string) => {
      const lines = (rest + d).split('\n')
      rest = lines.pop()!
      for (const l of lines) {
        if (l === 'listening') up()
        const [id, ns] = l.split(' ')
        if (id && ns) arrivals.set(id, BigInt(ns))
      }
    })
    await listening
    return { arrivals }
  }

  /**
   * The phones of client namespace `k` as customers logging in: each its own number (`prefix`
   * and six digits) and name.
   */
  const customersIn = (k: number, prefix: string) =>
    phones
      .filter((ph) => ph.ns === clientNs[k])
      .map((ph, i) => ({
        ip: ph.ip,
        number: `${prefix}${String(i).padStart(6, '0')}`,
        name: `Cliente ${k}-${i}`,
      }))

  return {
    prefix,
    customersIn,
    startService,
    startPhones,
    startInternet,
    gw,
    net,
    tmp,
    phones,
    clientNs,
    spawnIn,
    close,
    /** Runs a command in a namespace and returns its stdout. */
    exec(ns: string, args: string[]): Promise<string> {
      return new Promise((resolve, reject) =>
        execFile(
          'ip',
          ['netns', 'exec', ns, ...args],
          { maxBuffer: 64 << 20 },
          (err, stdout, stderr) =>
            err ? reject(new Error(stderr || err.message)) : resolve(stdout),
        ),
      )
    },
    /** A config for the service on the gateway: nftables on the bridge, codes on stdout. */
    config(extra: Record<string, unknown> = {}) {
      return {
        branch: { id: 'bench' },
        publicUrl: `http://${GATEWAY_IP}:${PORTAL_PORT}`,
        listen: {
          portal: { host: '0.0.0.0', port: PORTAL_PORT },
          admin: { host: '127.0.0.1', port: 0 },
        },
        dataDir: path.join(tmp, 'data'),
        gate: {
          backend: 'nftables',
          guestInterface: 'guest',
          uplinkInterface: 'up0',
          // BENCH_NFT_SESSION=helper|nft: the service's other ways, to set beside the default.
          ...(process.env.BENCH_NFT_SESSION ? { nftSession: process.env.BENCH_NFT_SESSION } : {}),
        },
        sms: {
          providers: [{ type: 'console' }],
          fraud: { perPrefixPerHour: 1e9, branchPerHour: 1e9, dailyBudget: 1e9 },
        },
        ...extra,
      }
    },
    writeConfig(config: Record<string, unknown>): string {
      const file = path.join(tmp, 'branchgate.json')
      writeFileSync(file, JSON.stringify(config, null, 2))
      return file
    },
  }
}
