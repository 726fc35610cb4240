import { execFile } from 'node:child_process'
import type { Clock } from '../clock.js'
import {
  BatchRefusedError,
  createBatchSession,
  type BatchSession,
  spawnProgram,
  type SessionDialect,
} from './batch-session.js'
import type { Config } from '../config.js'
import type { NftablesGateConfig } from './config.js'
import { GateError } from '../errors.js'
import { atRoot } from '../paths.js'
import type { Mac } from '../mac.js'
import type { Gate, GateCounter, GateEntry, GateUsage, GateWay } from './gate.js'
import {
  classElementsOf,
  classifyCommand,
  DOWN_MAP,
  noticeCommand,
  parseClassMapJson,
  RATES_TABLE,
  UP_MAP,
  ratesFlushLines,
  ratesInstallLines,
  ratesReplaceLines,
  readRatesTemplate,
  renderRatesRuleset,
  unclassifyCommand,
} from './nft-rates.js'
import {
  inProcessWay,
  openElementReader,
  openNftLibrary,
  setIsMissing,
  type ElementReader,
  type NftLibrary,
  type NftLibraryOpener,
} from './nft-library.js'
import { FAMILIES, type DumpedElement } from './nft-elements.js'
import { createShaper, type Shaper } from './shaper.js'
import { createTcRunner, type TcRunner } from './tc.js'
import { netnsOf } from './netlink.js'
import {
  flushBatch,
  gardenBatch,
  installBatch,
  letThroughCommand,
  parseSetJson,
  PROBE_DROP,
  PROBE_SET,
  PROBE_TABLE,
  readTemplate,
  renderRuleset,
  replaceSetBatch,
  revokeCommand,
  SET,
  setElementsOf,
  TABLE,
  timeoutProbeLines,
  timeoutProbeVerdict,
  type TimeoutUpdate,
} from './nft-ruleset.js'

/**
 * How branchgate talks to nft: a long-lived session for the one-line changes of every login
 * (libnftables through libexec/nft-session.py, or `nft -i`: a process per change costs ~20 ms, a
 * line in a session well under 1 ms), and `nft -f -` for big batches. Arguments are arrays,
 * never a shell string.
 */
export interface NftRunner {
  /**
   * Runs one line (one transaction) in the long-lived session. Rejects with nft's message. The
   * line must be safe to run twice (see coalescedLines): every gate line is.
   */
  line(command: string): Promise<void>
  /** Runs a batch file through `nft -f -`: one transaction. */
  batch(text: string): Promise<void>
  /** `nft -j list set inet branchgate allowed`, or the set named (the start-up probe's). */
  listSetJson(which?: { table: string; set: string }): Promise<string>
  /**
   * `nft -j list map netdev branchgate down` or `… inet branchgate up`: per-device classes and
   * download or upload counts.
   */
  listMapJson(which: 'down' | 'up'): Promise<string>
  /**
   * The set `allowed` or the map `down` or `up` read straight from the kernel in this process (a
   * netlink dump: no `nft -j` process per presence sweep), or null where that cannot be done or
   * the read failed: the JSON listing then answers, in nft's own words if it fails too.
   */
  elements?(which: 'allowed' | 'down' | 'up'): Promise<DumpedElement[] | null>
  /** What makes the lines, once the first was run; null before. */
  way?(): GateWay | null
  close(): void
}

/**
 * How `nft -i` answers: nothing on success, an error with the offending line on failure. The
 * sentinel is the token alone, a line nft's parser refuses without asking the kernel anything;
 * its error (`Error: syntax error, …`, the line, a line of carets) ends each batch's answer. A
 * `list set` of a set that does not exist did the same for 0.53 ms of nft's CPU per login
 * against 0.39 (it fetches the table's sets first; docs/bench.md).
 */
export const nftDialect: SessionDialect = {
  name: 'nft',
  sentinel: (token) => token,
  answer(stderr, token) {
    // The token's line follows its error line: a whole line, never part of a batch's own lines.
    const marker = `\n${token}\n`
    const at = stderr.indexOf(marker)
    if (at < 0) return null
    const caret = stderr.indexOf('\n', at + marker.length)
    if (caret < 0) return null
    const before = stderr.slice(0, at)
    // The sentinel's own "Error: ..." line sits just before its command line.
    const own = before.lastIndexOf('Error:')
    return {
      errors: (own >= 0 ? before.slice(0, own) : before).trim(),
      rest: stderr.slice(caret + 1),
    }
  },
}

/**
 * One-line changes given while the session is answering another batch go out together in the
 * next one, behind one sentinel (its error and nft's byte-by-byte read of it are paid once,
 * not per line): twenty guests verifying at once queued twenty round trips on the one session
 * (issue 20, the real path). Each line stays its own nft transaction. When nft refuses any line
 * of a joint batch, each line of it runs again alone, so every caller gets its own line's answer:
 * the gate's lines are all safe to repeat (add-delete-add, add-delete, map adds).
 */
export function coalescedLines(
  run: (lines: readonly string[]) => Promise<void>,
): (line: string) => Promise<void> {
  type Waiter = { resolve: () => void; reject: (err: unknown) => void }
  let forming: { lines: string[]; waiters: Waiter[] } | null = null
  let tail: Promise<void> = Promise.resolve()
  return (line) =>
    new Promise<void>((resolve, reject) => {
      if (forming) {
        forming.lines.push(line)
        forming.waiters.push({ resolve, reject })
        return
      }
      const batch = { lines: [line], waiters: [{ resolve, reject }] }
      forming = batch
      tail = tail.then(async () => {
        // The batch closes when its turn comes: what was given meanwhile goes in it.
        if (forming === batch) forming = null
        const { lines, waiters } = batch
        try {
          await run(lines)
          for (const w of waiters) w.resolve()
        } catch (err) {
          if (lines.length === 1 || !(err instanceof BatchRefusedError)) {
            for (const w of waiters) w.reject(err)
            return
          }
          for (let i = 0; i < lines.length; i++)
            await run([lines[i]!]).then(waiters[i]!.resolve, waiters[i]!.reject)
        }
      })
    })
}

/**
 * What makes the one-line changes: 'auto' is libnftables in the service's own process
 * (src/gate/nft-library.ts) when it can be loaded, else as 'helper'; 'helper' is libnftables
 * through a session program (libexec/nft-session.py, with Debian's python3-nftables) when it can
 * be loaded, else `nft -i`; 'nft' is always `nft -i` (the program `gate.nftPath` names).
 */
export type NftSessionChoice = 'auto' | 'helper' | 'nft'

/** The interpreter the helper runs with: Debian's, where python3-nftables installs its module. */
export const NFT_SESSION_PYTHON = '/usr/bin/python3'
/** The helper: `nft -i`'s job in one read and one write per line (issue 20, docs/bench.md). */
export const NFT_SESSION_HELPER = atRoot('libexec', 'nft-session.py')

/** Runs the helper's `--check`: null when libnftables can be used, else why not. */
export type NftSessionCheck = (argv: readonly string[]) => Promise<string | null>

/**
 * Why the helper's `--check` refused: the first line it wrote, without its own "libnftables
 * cannot be used: " (the caller says that), or `otherwise` when it wrote nothing.
 */
export function checkRefusal(stderr: string, otherwise: string): string {
  const first = stderr.trim().split('\n')[0] || otherwise
  return first.replace(/^libnftables cannot be used: /, '')
}

const checkByRunning: NftSessionCheck = ([file, ...args]) =>
  new Promise((resolve) => {
    execFile(file!, args, { timeout: 10_000 }, (err, _out, errText) =>
      resolve(err ? checkRefusal(errText, err.message) : null),
    )
  })

/**
 * The session's program for the nft command `argv` (its last word is nft; what comes before it,
 * such as `ip netns exec ns1`, comes before the helper too), and a line saying which.
 */
export async function nftSessionProgram(
  argv: readonly string[],
  choice: NftSessionChoice,
  check: NftSessionCheck = checkByRunning,
): Promise<{ argv: string[]; which: string; way: 'helper' | 'nft' }> {
  const nftI = { argv: [...argv, '-i'], which: 'nft -i', way: 'nft' as const }
  if (choice === 'nft') return { ...nftI, which: 'nft -i (gate.nftSession is "nft")' }
  const helper = [...argv.slice(0, -1), NFT_SESSION_PYTHON, NFT_SESSION_HELPER]
  const why = await check([...helper, '--check'])
  // `--else`: a helper started after the library went away becomes nft -i itself.
  return why === null
    ? {
        argv: [...helper, '--else', argv.at(-1)!],
        which: 'libnftables (python3-nftables)',
        way: 'helper',
      }
    : { ...nftI, which: `nft -i (libnftables cannot be used: ${why})` }
}

/**
 * `argv` is the nft command, e.g. ['nft'] or ['ip', 'netns', 'exec', 'ns1', 'nft'] (bench).
 * What makes the changes is chosen when the first line is run (a CLI command that never runs one
 * loads and starts nothing), and `log` is told which.
 */
export function createNftRunner(
  argv: readonly string[] = ['nft'],
  o: {
    session?: NftSessionChoice
    log?: (line: string) => void
    check?: NftSessionCheck
    library?: NftLibraryOpener
    /** Opens the reader used before the library is chosen (tests); default openElementReader. */
    reader?: (o: { netns: string | null }) => ElementReader | string
  } = {},
): NftRunner {
  const [file, ...pre] = argv
  if (!file) throw new Error('empty nft command')
  const choice = o.session ?? 'auto'
  let inProcess: NftLibrary | null = null
  let way: GateWay | null = null
  let closed = false
  let session: Promise<BatchSession> | null = null
  /** The library in this process, or null once a session program makes the changes. */
  let chosen: Promise<NftLibrary | null> | null = null
  const choose = async (): Promise<NftLibrary | null> => {
    let why = ''
    if (choice === 'auto') {
      const netns = netnsOf(argv)
      const lib =
        netns === undefined
          ? `the nft command runs through ${argv.slice(0, -1).join(' ')}`
          : (o.library ?? openNftLibrary)({ netns })
      if (typeof lib !== 'string') {
        if (closed) lib.close()
        else o.log?.(`gate: nft session: ${inProcessWay(lib.elementsVia)}`)
        way = 'in-process'
        return (inProcess = lib)
      }
      why = lib
    }
    session = nftSessionProgram(argv, choice === 'nft' ? 'nft' : 'helper', o.check).then(
      (program) => {
        o.log?.(
          `gate: nft session: ${program.which}${why ? ` (in the service's process: ${why})` : ''}`,
        )
        way = program.way
        // Real pipes for its input and errors: nft -i reads one byte per read(2), cheaper from
        // a pipe; the helper reads and writes a line at a time either way.
        return createBatchSession({
          spawn: spawnProgram(program.argv, { pipe: true }),
          dialect: nftDialect,
        })
      },
    )
    await session
    return null
  }

  const exec = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        file,
        [...pre, ...args],
        { timeout: 10_000, maxBuffer: 64 << 20 },
        (err, stdout, errText) =>
          err ? reject(new Error(errText.trim() || err.message)) : resolve(stdout),
      )
      if (input !== undefined) child.stdin?.end(input)
    })

  const dumpFailures = new Set<string>()
  let reader: ElementReader | null | undefined
  const openReader = (): ElementReader | null => {
    const netns = netnsOf(argv)
    if (netns === undefined) return null
    const opened = (o.reader ?? openElementReader)({ netns })
    return typeof opened === 'string' ? null : opened
  }
  const viaSession = coalescedLines(async (lines) => (await session!).run(lines))
  return {
    async line(command) {
      const lib = await (chosen ??= choose())
      if (!lib) return viaSession(command)
      const refused = lib.run(command)
      if (refused !== null) throw new BatchRefusedError(refused)
    },
    async batch(text) {
      await exec(['-f', '-'], text)
    },
    listSetJson: (which = { table: TABLE, set: SET }) =>
      exec(['-j', 'list', 'set', ...which.table.split(' '), which.set]),
    listMapJson: (which) =>
      exec([
        '-j',
        'list',
        'map',
        ...(which === 'down'
          ? [...RATES_TABLE.split(' '), DOWN_MAP]
          : [...TABLE.split(' '), UP_MAP]),
      ]),
    async elements(which) {
      if (choice !== 'auto' || closed) return null
      // The library once a line has chosen it (the service's start-up probe runs lines); before
      // that, a reader of its own, opened without a word (a one-shot command that only reads,
      // `status`, has nothing to tell), or nft where it cannot be opened.
      if (!chosen && reader === undefined) reader = openReader()
      const lib = chosen ? await chosen : reader
      if (!lib?.elements) return null
      const [table, set] =
        which === 'allowed'
          ? [TABLE, SET]
          : which === 'down'
            ? [RATES_TABLE, DOWN_MAP]
            : [TABLE, UP_MAP]
      const [family, name] = table.split(' ') as [string, string]
      const read = lib.elements(FAMILIES[family]!, name, set)
      if (typeof read !== 'string') return read
      // Said once a reason: a sweep every few seconds would repeat it all day. A table or set
      // that is not there (ENOENT: no service running) is for nft to say, in its own words.
      if (!dumpFailures.has(read) && !setIsMissing(read)) {
        dumpFailures.add(read)
        o.log?.(`gate: cannot read ${set} straight from the kernel (${read}): nft -j answers`)
      }
      return null
    },
    way: () => way,
    close() {
      closed = true
      reader?.close()
      inProcess?.close()
      void session?.then((s) => s.close())
    },
  }
}

export interface NftablesGateOptions {
  runner: NftRunner
  clock: Clock
  log: (line: string) => void
  /** The rendered table (renderRuleset); installed by the first replaceAll. */
  ruleset: string
  /** Tries per change before it is reported as failed. */
  attempts: number
  /** Walled-garden addresses/CIDRs (configured ones and resolved host names). */
  garden?: readonly string[]
  /** Waits between tries; tests pass a no-op. */
  pause?: (ms: number) => Promise<void>
  /**
   * Per-device rates and byte counts (issue 17): tc's side, and the rendered `netdev branchgate`
   * table (renderRatesRuleset). Absent: devices are let through without classes or counts.
   */
  rates?: { shaper: Shaper; ruleset: string }
}

export interface NftablesGate extends Gate {
  /** Replaces the walled garden (after re-resolving host names). */
  setGarden(cidrs: readonly string[]): Promise<void>
  /** Removes the whole table (`branchgate stop --flush`). */
  flush(): Promise<void>
  /** What makes its one-line changes, once the first was made; null before. */
  way(): GateWay | null
  close(): void
}

/**
 * The real gate over nftables. Verbs only: no policy. Each change is one nft transaction,
 * tried `attempts` times (a failing nft is often a passing resource problem), then logged and
 * thrown as GateError so the caller reports it.
 */
export function createNftablesGate(o: NftablesGateOptions): NftablesGate {
  const pause = o.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const shaper = o.rates?.shaper ?? null
  let installed = false
  let learned = false
  /**
   * What `add` does to a present element's timeout, probed once by the first replaceAll (the
   * service's start); a one-shot command never probes and keeps the 'replace' that works on
   * every kernel.
   */
  let timeouts: TimeoutUpdate = 'replace'
  let probed = false
  let garden: readonly string[] = o.garden ?? []

  async function tried<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let last = ''
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      try {
        return await fn()
      } catch (err) {
        last = briefly((err as Error).message)
        if (attempt < o.attempts) {
          o.log(`gate: ${what} failed (try ${attempt} of ${o.attempts}), retrying: ${last}`)
          await pause(20 * attempt)
        }
      }
    }
    o.log(`gate: ${what} failed after ${o.attempts} tries: ${last}`)
    throw new GateError(`${what}: ${last}`)
  }

  const elements = async () => {
    const read = await o.runner.elements?.('allowed')
    return read ? setElementsOf(read) : parseSetJson(await o.runner.listSetJson())
  }
  const classElements = async (which: 'down' | 'up') => {
    const read = await o.runner.elements?.(which)
    return read ? classElementsOf(read) : parseClassMapJson(await o.runner.listMapJson(which))
  }

  /**
   * Which device has which class, as the kernel says: a one-shot command (or a service that has
   * not installed the table) asks once before its first change.
   */
  const learnClasses = async (s: Shaper) => {
    if (learned || installed) return
    const down = await classElements('down').catch(() => [])
    s.learn(new Map(down.map((e) => [e.mac, e.minor])))
    learned = true
  }

  /**
   * The probe, in a table of its own and removed after; a probe that fails keeps 'replace'.
   * Logged either way: which command every login runs depends on it.
   */
  const probeTimeouts = async (): Promise<TimeoutUpdate> => {
    let how: TimeoutUpdate = 'replace'
    try {
      for (const line of timeoutProbeLines()) await o.runner.line(line)
      how = timeoutProbeVerdict(await o.runner.listSetJson({ table: PROBE_TABLE, set: PROBE_SET }))
      o.log(
        how === 'update'
          ? "gate: this kernel re-sets a let-through device's timeout in place: one add per login"
          : "gate: this kernel keeps a let-through device's old timeout on add (before Linux 6.10): each login adds, deletes and adds",
      )
    } catch (err) {
      o.log(
        `gate: cannot probe how this kernel re-sets timeouts, so each login adds, deletes and adds: ${briefly((err as Error).message)}`,
      )
    }
    await o.runner.line(PROBE_DROP).catch(() => {})
    return how
  }

  /** A malformed MAC is refused before nft, without retries: trying again cannot fix it. */
  const command = (build: () => string): string => {
    try {
      return build()
    } catch (err) {
      throw new GateError((err as Error).message)
    }
  }

  return {
    async letThrough(mac, until, rate = null) {
      command(() => letThroughCommand(mac, until, o.clock.now()))
      let minor: number | null = null
      if (shaper) {
        await learnClasses(shaper)
        minor = await tried(`set the rate of ${mac}`, () => shaper.apply(mac, rate))
      }
      await tried(`let ${mac} through`, () =>
        o.runner.line(
          letThroughCommand(mac, until, o.clock.now(), timeouts) +
            (minor === null ? '' : `; ${classifyCommand(mac, minor)}`),
        ),
      )
    },
    async revoke(mac) {
      command(() => revokeCommand(mac))
      if (shaper) await learnClasses(shaper)
      const line = command(
        () => `${revokeCommand(mac)}; ${unclassifyCommand(mac, shaper?.minorOf(mac) ?? null)}`,
      )
      await tried(`revoke ${mac}`, () => o.runner.line(line))
      // Its classes are no longer reached; removing them may fail without harm.
      await shaper?.remove(mac).catch(() => null)
    },
    async replaceAll(entries: readonly GateEntry[]) {
      const now = o.clock.now()
      const live = entries.filter((e) => e.until > now)
      const notices = live.filter((e) => e.notice).map((e) => e.mac)
      await tried(`rebuild the set of ${entries.length}`, async () => {
        const classes = shaper
          ? await shaper.install(live.map((e) => ({ mac: e.mac, rate: e.rate ?? null })))
          : new Map()
        const rates = o.rates
        await o.runner.batch(
          installed
            ? replaceSetBatch(entries, now) +
                [...ratesReplaceLines(classes, notices, !!rates), ''].join('\n')
            : installBatch(
                o.ruleset,
                entries,
                garden,
                now,
                rates
                  ? ratesInstallLines(rates.ruleset, classes, notices)
                  : ratesReplaceLines(new Map(), notices, false),
              ),
        )
        installed = true
      })
      if (!probed) {
        probed = true
        timeouts = await probeTimeouts()
      }
    },
    async setRate(mac, rate) {
      if (!shaper) return
      await learnClasses(shaper)
      const minor = await tried(`set the rate of ${mac}`, () => shaper.apply(mac, rate))
      await tried(`classify ${mac}`, () => o.runner.line(classifyCommand(mac, minor)))
    },
    async setNotice(mac, on) {
      const line = command(() => noticeCommand(mac, on))
      await tried(`${on ? 'set' : 'clear'} the notice of ${mac}`, () => o.runner.line(line))
    },
    async usage() {
      const out = new Map<Mac, GateUsage>()
      if (!shaper) return out
      const [down, up] = await Promise.all([classElements('down'), classElements('up')])
      shaper.learn(new Map(down.map((e) => [e.mac, e.minor])))
      learned = true
      const sent = new Map(up.map((e) => [e.mac, e.bytes]))
      for (const e of down) out.set(e.mac, { downBytes: e.bytes, upBytes: sent.get(e.mac) ?? 0 })
      return out
    },
    async list() {
      const now = o.clock.now()
      return (await elements()).map((e) => ({
        mac: e.mac,
        until: Number.isFinite(e.expiresSeconds)
          ? now + e.expiresSeconds * 1000
          : Number.MAX_SAFE_INTEGER,
      }))
    },
    async counters() {
      // The map `up`'s counters: what each device sent through the gateway. The set `allowed`
      // has none of its own (two per-CPU allocations per element, a quarter of a rebuild), and
      // `up` holds every let-through device when the gate has rates (the service's always has).
      const out = new Map<Mac, GateCounter>()
      if (!shaper) return out
      for (const e of await classElements('up'))
        out.set(e.mac, { packets: e.packets, bytes: e.bytes })
      return out
    },
    async setGarden(cidrs) {
      garden = [...cidrs]
      if (installed)
        await tried('refresh the walled garden', () => o.runner.batch(gardenBatch(garden)))
    },
    async flush() {
      await tried('remove the table', () => o.runner.batch(flushBatch(ratesFlushLines())))
      await shaper?.teardown()
    },
    way: () => o.runner.way?.() ?? null,
    close: () => o.runner.close(),
  }
}

/** nft's answer in one line: its distinct "Error:" lines, with a hint when the table is missing. */
export function briefly(message: string): string {
  const errors = [...new Set(message.split('\n').filter((l) => l.startsWith('Error:')))]
  const text = errors.length ? errors.map((l) => l.slice(7).trim()).join('; ') : message.trim()
  return /No such file or directory/.test(text)
    ? `${text} (the table ${TABLE} is missing: is branchgate serve running?)`
    : text
}

/** The nftables gate for a config (composition helper for main.ts and the CLI). */
export function nftablesGateFor(
  config: Config,
  gate: NftablesGateConfig,
  deps: {
    clock: Clock
    log: (line: string) => void
    runner?: NftRunner
    template?: string
    tc?: TcRunner
  },
): NftablesGate {
  const portalPort = gate.portalPort ?? config.listen.portal.port
  const ports = [portalPort, config.listen.portal.port]
  if (config.listen.tls) ports.push(config.listen.tls.port)
  const tcRunner = deps.tc ?? createTcRunner([gate.tcPath], ['ip'], { log: deps.log })
  const shaper = createShaper({
    runner: tcRunner,
    params: {
      guestInterface: gate.guestInterface,
      uplinkInterface: gate.uplinkInterface,
      totalDownKbps: gate.rate.totalDownKbps,
      totalUpKbps: gate.rate.totalUpKbps,
    },
    log: deps.log,
  })
  const nftRunner =
    deps.runner ?? createNftRunner([gate.nftPath], { session: gate.nftSession, log: deps.log })
  return createNftablesGate({
    runner: {
      ...nftRunner,
      close() {
        nftRunner.close()
        tcRunner.close()
      },
    },
    clock: deps.clock,
    log: deps.log,
    attempts: gate.attempts,
    rates: {
      shaper,
      ruleset: renderRatesRuleset(readRatesTemplate(), { guestInterface: gate.guestInterface }),
    },
    ruleset: renderRuleset(deps.template ?? readTemplate(), {
      guestInterface: gate.guestInterface,
      portalPort,
      portalPorts: ports,
      uplinkInterface: gate.uplinkInterface,
      captiveDnsPort: gate.captiveDns.port,
      preLogin: gate.preLogin,
      ipv6Uplink: gate.ipv6?.uplink ?? 'nat',
    }),
  })
}
