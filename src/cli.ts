import { readOptions } from './cli/options.js'
import { SPECS, type Command } from './cli/specs.js'

export type { Command }
import { fatalReport } from './errors.js'
import { versionLine } from './version.js'
import { holdYoungGeneration } from './young-generation.js'

type Run = Command['run']

/** Where each command's code is: loaded when it runs, so `--help` loads none of it. */
const LOADERS: Record<keyof typeof SPECS, () => Promise<Run>> = {
  serve: async () => {
    // Its start does not size V8's young generation for good (src/young-generation.ts).
    const release = holdYoungGeneration()
    const { main } = await import('./main.js')
    return async (argv, env) => {
      try {
        await main(argv, env)
      } finally {
        release()
      }
    }
  },
  sync: async () => {
    const { syncCommand } = await import('./cli/sync.js')
    return (argv, env) => syncCommand(argv, env)
  },
  visits: async () => (await import('./cli/visits.js')).visitsCommand.run,
  status: async () => (await import('./cli/status.js')).statusCommand.run,
  allow: async () => (await import('./cli/allow.js')).allowCommand.run,
  revoke: async () => (await import('./cli/revoke.js')).revokeCommand.run,
  stop: async () => (await import('./cli/stop.js')).stopCommand.run,
  pass: async () => (await import('./cli/pass.js')).passCommand.run,
  doctor: async () => (await import('./cli/doctor.js')).doctorCommand.run,
  'sms-status': async () => (await import('./cli/sms-status.js')).smsStatusCommand().run,
  'sms-resume': async () => (await import('./cli/sms-status.js')).smsResumeCommand().run,
  user: async () => {
    const { userCommand } = await import('./cli/user.js')
    return (argv, env) => userCommand(argv, env)
  },
  backup: async () => (await import('./cli/backup.js')).backupCommand.run,
  restore: async () => (await import('./cli/backup.js')).restoreCommand.run,
  reload: async () => (await import('./cli/backup.js')).reloadCommand.run,
}

/** The commands, as a table: each spec with its code behind a loader. */
export const COMMANDS: Command[] = (Object.keys(SPECS) as Array<keyof typeof SPECS>).map(
  (name) => ({
    ...SPECS[name],
    run: async (argv, env, out) => (await LOADERS[name]())(argv, env, out),
  }),
)

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length))
  return [
    'branchgate — captive-portal Wi-Fi gateway for branches',
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --config FILE (or BRANCHGATE_CONFIG); without one it uses the demo defaults.',
    'branchgate --version prints the version and the commit it was built from.',
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
  if (name === '--version' || name === '-V' || name === 'version') {
    ;(io.out ?? console.log)(versionLine())
    return 0
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
