import { pathToFileURL } from 'node:url'
import { syncCommand, SYNC_USAGE } from './cli/sync.js'
import { visitsCommand } from './cli/visits.js'
import { allowCommand } from './cli/allow.js'
import { doctorCommand } from './cli/doctor.js'
import { revokeCommand } from './cli/revoke.js'
import { smsResumeCommand, smsStatusCommand } from './cli/sms-status.js'
import { statusCommand } from './cli/status.js'
import { stopCommand } from './cli/stop.js'
import { main as serve } from './main.js'
import { USER_USAGE, userCommand } from './cli/user.js'

/** One subcommand of `branchgate`: its name, one line of help, and what it does. */
export interface Command {
  name: string
  usage: string
  summary: string
  /** `out` receives the command's output lines (console.log unless a test captures them). */
  run(argv: string[], env: NodeJS.ProcessEnv, out?: (line: string) => void): Promise<number | void>
}

/** The commands, as a table. Each lives in src/cli/<name>.ts; add a line here for a new one. */
export const COMMANDS: Command[] = [
  {
    name: 'serve',
    usage: 'branchgate serve [--config FILE]',
    summary: 'run the portal and the console (what systemd starts)',
    run: (argv, env) => serve(argv, env),
  },
  {
    name: 'sync',
    usage: SYNC_USAGE,
    summary: 'send pending events to the CRM now; --status, --retry-failed, --wait',
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

export async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(help())
    return name ? 0 : 1
  }
  const cmd = COMMANDS.find((c) => c.name === name)
  if (!cmd) {
    console.error(`branchgate: unknown command "${name}"\n\n${help()}`)
    return 2
  }
  const code = await cmd.run(rest, env)
  return typeof code === 'number' ? code : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cli(process.argv.slice(2), process.env).then(
    (code) => {
      // serve keeps running: only exit for commands that finished.
      if (process.argv[2] !== 'serve') process.exit(code)
    },
    (err) => {
      console.error(`branchgate: ${(err as Error).message}`)
      process.exit(1)
    },
  )
}
