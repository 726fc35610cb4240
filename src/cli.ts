import { pathToFileURL } from 'node:url'
import { readOptions, type OptionSpec } from './cli/options.js'
import { fatalReport } from './errors.js'
import { syncCommand, SYNC_USAGE } from './cli/sync.js'
import { visitsCommand } from './cli/visits.js'
import { allowCommand } from './cli/allow.js'
import { doctorCommand } from './cli/doctor.js'
import { revokeCommand } from './cli/revoke.js'
import { smsResumeCommand, smsStatusCommand } from './cli/sms-status.js'
import { statusCommand } from './cli/status.js'
import { stopCommand } from './cli/stop.js'
import { main as serve, SERVE_USAGE } from './main.js'
import { USER_OPTIONS, USER_USAGE, userCommand } from './cli/user.js'

/** One subcommand of `branchgate`: its name, one line of help, and what it does. */
export interface Command {
  name: string
  usage: string
  summary: string
  /** The options it takes besides `--config FILE`; cli() refuses any other. Absent: none. */
  options?: OptionSpec
  /** How many arguments (not options) it takes at most; absent: none. */
  maxArgs?: number
  /** `out` receives the command's output lines (console.log unless a test captures them). */
  run(argv: string[], env: NodeJS.ProcessEnv, out?: (line: string) => void): Promise<number | void>
}

/** The commands, as a table. Each lives in src/cli/<name>.ts; add a line here for a new one. */
export const COMMANDS: Command[] = [
  {
    name: 'serve',
    usage: SERVE_USAGE,
    summary: 'run the portal and the console (what systemd starts)',
    run: (argv, env) => serve(argv, env),
  },
  {
    name: 'sync',
    usage: SYNC_USAGE,
    summary: 'send pending events to the CRM now; --status, --retry-failed, --wait',
    options: {
      status: { type: 'boolean' },
      json: { type: 'boolean' },
      'retry-failed': { type: 'boolean' },
      wait: { type: 'boolean' },
    },
    run: (argv, env) => syncCommand(argv, env),
  },
  visitsCommand,
  statusCommand,
  allowCommand,
  revokeCommand,
  stopCommand,
  doctorCommand,
  smsStatusCommand(),
  smsResumeCommand(),
  {
    name: 'user',
    usage: 'branchgate user add|list|remove|passwd …',
    summary: `console accounts: ${USER_USAGE.replace('branchgate user ', '')}`,
    options: USER_OPTIONS,
    maxArgs: 2,
    run: (argv, env) => userCommand(argv, env),
  },
]

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length))
  return [
    'branchgate — captive-portal Wi-Fi gateway for branches',
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --config FILE (or BRANCHGATE_CONFIG); without one it uses the demo defaults.',
  ].join('\n')
}

/**
 * Runs one command and returns its exit code. The boundary for the `branchgate` process: an
 * OperatorError (bad option, damaged data file, invalid config) is printed as its one sentence
 * and gives 2; anything else is a bug, printed with its stack, and gives 1.
 */
export async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: { out?: (line: string) => void; err?: (text: string) => void } = {},
): Promise<number> {
  const err = io.err ?? console.error
  const [name, ...rest] = argv
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(help())
    return name ? 0 : 1
  }
  const cmd = COMMANDS.find((c) => c.name === name)
  if (!cmd) {
    err(`branchgate: unknown command "${name}"\n\n${help()}`)
    return 2
  }
  if (cmd.name !== 'user' && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(`usage: ${cmd.usage}\n${cmd.summary}`)
    return 0
  }
  try {
    readOptions(cmd.name, cmd.usage, rest, cmd.options ?? {}, cmd.maxArgs ?? 0)
    const code = await cmd.run(rest, env, io.out)
    return typeof code === 'number' ? code : 0
  } catch (e) {
    const report = fatalReport(e)
    err(report.text)
    return report.exitCode
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cli(process.argv.slice(2), process.env).then((code) => {
    // serve keeps running: only exit for commands that finished.
    if (process.argv[2] !== 'serve' || code !== 0) process.exit(code)
  })
}
