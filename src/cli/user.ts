import { createInterface } from 'node:readline'
import { SPECS } from './specs.js'
import type { Clock } from '../clock.js'
import { AccountError } from '../console/auth.js'
import { ConfigError } from '../config.js'
import { CONSOLE_ROLES, type ConsoleRole } from '../db/console.js'
import { openCliContext } from './context.js'
import { cliActor } from './actor.js'
import { readOptions } from './options.js'

/** How the command talks to the person running it; tests pass their own. */
export interface UserCommandIo {
  out(line: string): void
  err(line: string): void
  /** Whether a person is at the terminal (passwords may then be asked). */
  isTty: boolean
  /** Asks for a password without echoing it. */
  askHidden(prompt: string): Promise<string>
  /** All of standard input (for --password-stdin). */
  readStdin(): Promise<string>
  clock?: Clock
}

/** The options of `branchgate user` (besides --config). */
export const USER_OPTIONS = SPECS.user.options

export const USER_USAGE = `branchgate user ${SPECS.user.summary.replace('console accounts: ', '')}`

/** `branchgate user …`: console accounts. Returns the exit code. */
export async function userCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: UserCommandIo = terminalIo(),
): Promise<number> {
  const { values, args } = readOptions('user', USER_USAGE, argv, USER_OPTIONS, 2)
  const [verb, name] = args
  if (!verb || verb === 'help' || values.help) {
    io.out(`usage: ${USER_USAGE}`)
    return verb ? 0 : 2
  }
  let ctx: Awaited<ReturnType<typeof openCliContext>>
  try {
    // `user add` may come before the first `serve` on a new install: the database is made here.
    ctx = await openCliContext(argv, env, {
      createDatabase: true,
      ...(io.clock ? { clock: io.clock } : {}),
    })
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`branchgate: ${err.message}`)
      return 2
    }
    throw err
  }
  const auth = ctx.services.consoleAuth
  const actor = cliActor(env)
  try {
    switch (verb) {
      case 'list': {
        const users = auth.list()
        if (users.length === 0)
          io.out('no console users; add one with: branchgate user add NAME --role admin')
        for (const u of users) {
          const last = u.last_login_at ? new Date(u.last_login_at).toISOString() : 'never'
          io.out(
            `${u.name}\t${u.role}\tlast sign-in ${last}${u.must_change ? '\t(must change password)' : ''}`,
          )
        }
        return 0
      }
      case 'add': {
        if (!name) return usage(io, `${verb} needs the account's NAME`)
        const role = values.role
        if (!role || !CONSOLE_ROLES.includes(role as ConsoleRole)) {
          io.err(`branchgate: --role must be one of ${CONSOLE_ROLES.join(', ')}`)
          return 2
        }
        const password = await newPassword(values['password-stdin'] === true, io)
        if (password === null) return 2
        await auth.add(name, role as ConsoleRole, password, actor)
        io.out(`added ${name} (${role})`)
        return 0
      }
      case 'remove': {
        if (!name) return usage(io, `${verb} needs the account's NAME`)
        auth.remove(name, actor)
        io.out(`removed ${name}`)
        return 0
      }
      case 'passwd': {
        if (!name) return usage(io, `${verb} needs the account's NAME`)
        const password = await newPassword(values['password-stdin'] === true, io)
        if (password === null) return 2
        await auth.setPassword(name, password, actor)
        io.out(`password of ${name} changed; their sessions were signed out`)
        return 0
      }
      default:
        return usage(io, `unknown subcommand ${JSON.stringify(verb)}`)
    }
  } catch (err) {
    if (err instanceof AccountError) {
      io.err(`branchgate: ${err.message}`)
      return 1
    }
    throw err
  } finally {
    ctx.close()
  }
}

function usage(io: UserCommandIo, what: string): number {
  io.err(`branchgate user: ${what} (usage: ${USER_USAGE})`)
  return 2
}

async function newPassword(fromStdin: boolean, io: UserCommandIo): Promise<string | null> {
  if (fromStdin) {
    const text = await io.readStdin()
    return text.split(/\r?\n/)[0] ?? ''
  }
  if (!io.isTty) {
    io.err('branchgate: no terminal to ask the password on; pipe it with --password-stdin')
    return null
  }
  const first = await io.askHidden('New password: ')
  const second = await io.askHidden('Same password again: ')
  if (first !== second) {
    io.err('branchgate: the two passwords differ; nothing changed')
    return null
  }
  return first
}

function terminalIo(): UserCommandIo {
  return {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    isTty: Boolean(process.stdin.isTTY),
    askHidden: (prompt) =>
      new Promise((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
        // Echo the prompt only, never what is typed.
        const out = rl as unknown as { _writeToOutput: (s: string) => void }
        let prompted = false
        out._writeToOutput = (s: string) => {
          if (!prompted) {
            process.stdout.write(s)
            prompted = true
          }
        }
        rl.question(prompt, (answer) => {
          rl.close()
          process.stdout.write('\n')
          resolve(answer)
        })
      }),
    readStdin: async () => {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return Buffer.concat(chunks).toString('utf8')
    },
  }
}
