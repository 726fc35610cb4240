import { execFile } from 'node:child_process'
import {
  createBatchSession,
  type BatchSession,
  spawnProgram,
  type SessionDialect,
} from './batch-session.js'
import { netnsOf } from './netlink.js'
import { openTcNetlink, parseTcLine, type TcChange, type TcNetlink } from './tc-netlink.js'

/**
 * How branchgate talks to tc and ip for per-device rates: one long-lived `tc -force -batch -`
 * for the lines of every let-through (a process per change is what it must not cost), and
 * single `ip link` commands for the few settings made at start. Arguments are arrays, never a shell string.
 */
export interface TcRunner {
  /** Runs one tc line in the long-lived session. Rejects with tc's message. */
  line(command: string): Promise<void>
  /**
   * Runs several lines in one round trip; rejects with the messages of those that failed (the
   * others took effect: every line branchgate sends is a `replace` or a `del`, safe to repeat).
   */
  lines(commands: readonly string[]): Promise<void>
  /** Runs `ip ARGS…`. Rejects with its message. */
  ip(args: readonly string[]): Promise<void>
  close(): void
}

/**
 * How `tc -force -batch -` answers: nothing on success; on failure its message, then
 * "Command failed -:N" (-force goes on with the next line). The sentinel is a `class show` of a
 * device that does not exist, named by the token; its "Cannot find device" error and its
 * "Command failed" line end each batch's answer.
 */
export const tcDialect: SessionDialect = {
  name: 'tc',
  sentinel: (token) => `class show dev ${token}`,
  answer(stderr, token) {
    const marker = `Cannot find device "${token}"\n`
    const at = stderr.indexOf(marker)
    if (at < 0) return null
    // The sentinel's own failure line follows its message.
    const after = stderr.indexOf('\n', at + marker.length)
    if (after < 0) return null
    const errors = stderr
      .slice(0, at)
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^Command failed /.test(l))
      .join('\n')
    return { errors: errors.trim(), rest: stderr.slice(after + 1) }
  },
}

/**
 * `tc` and `ip` are the commands, e.g. ['tc'], or ['ip', 'netns', 'exec', 'ns1', 'tc'] (tests,
 * bench).
 *
 * A device's lines (its class and leaf queue on each side, their removal) are sent on a netlink
 * socket of this process (src/gate/tc-netlink.ts), in the namespace tc would run in, opened at
 * the first of them; `log` is told which way they go. Any other line, and any the kernel refused
 * on the socket, goes to the tc session: tc makes it or says why.
 */
export function createTcRunner(
  tc: readonly string[] = ['tc'],
  ip: readonly string[] = ['ip'],
  o: {
    log?: (line: string) => void
    /** Opens the socket (tests); default openTcNetlink. null: every line through tc. */
    netlink?: ((o: { netns: string | null }) => TcNetlink | string) | null
    /** The tc session (tests); default `tc -force -batch -`. */
    session?: BatchSession
  } = {},
): TcRunner {
  const [file] = tc
  const [ipFile, ...ipPre] = ip
  if (!file || !ipFile) throw new Error('empty tc or ip command')
  const session =
    o.session ??
    createBatchSession({
      spawn: spawnProgram([...tc, '-force', '-batch', '-']),
      dialect: tcDialect,
    })

  const exec = (f: string, args: readonly string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(f, [...args], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, errText) =>
        err ? reject(new Error(errText.trim() || err.message)) : resolve(stdout),
      )
    })

  /** The socket, null when lines go to tc (said once), undefined until the first device line. */
  let socket: TcNetlink | null | undefined = o.netlink === null ? null : undefined
  let closed = false
  const open = (): TcNetlink | null => {
    if (socket !== undefined) return socket
    const netns = netnsOf(tc)
    const opened =
      netns === undefined
        ? `tc runs through ${tc.slice(0, -1).join(' ')}`
        : (o.netlink ?? openTcNetlink)({ netns })
    socket = typeof opened === 'string' ? null : opened
    o.log?.(
      typeof opened === 'string'
        ? `gate: each device's tc classes through tc -batch (in the service's process: ${opened})`
        : "gate: each device's tc classes on a netlink socket of the service's own",
    )
    if (closed) socket?.close()
    return socket
  }
  /** Why the socket failed, each said once. */
  const failures = new Set<string>()
  const lines = async (commands: readonly string[]): Promise<void> => {
    const changes = commands.map(parseTcLine)
    // All of them ours, or all to tc (in their order). An empty batch (no device at start)
    // opens the socket all the same, so the way is said at start.
    const nl = changes.every((c): c is TcChange => c !== null) && !closed ? open() : null
    if (commands.length === 0) return
    if (!nl) return session.run(commands)
    const refused = nl.apply(changes as TcChange[])
    if (typeof refused === 'string') {
      if (!failures.has(refused)) {
        failures.add(refused)
        o.log?.(`gate: tc changes on the netlink socket failed (${refused}): tc makes them`)
      }
      return session.run(commands)
    }
    if (refused.length === 0) return
    // tc takes them or says why, in its words (each line is safe to repeat).
    return session.run(refused.map((i) => commands[i]!))
  }

  return {
    line: (command) => lines([command]),
    lines,
    ip: async (args) => {
      await exec(ipFile, [...ipPre, ...args])
    },
    close() {
      closed = true
      socket?.close()
      void session.close()
    },
  }
}
