import type { OptionSpec } from './options.js'

/** What `branchgate --help` and the option check need of a command, without loading it. */
export interface CommandSpec {
  name: string
  usage: string
  summary: string
  /** The options it takes besides `--config FILE`; cli() refuses any other. Absent: none. */
  options?: OptionSpec
  /** How many arguments (not options) it takes at most; absent: none. */
  maxArgs?: number
}

/** One subcommand of `branchgate`: its spec and what it does. */
export interface Command extends CommandSpec {
  /** `out` receives the command's output lines (console.log unless a test captures them). */
  run(argv: string[], env: NodeJS.ProcessEnv, out?: (line: string) => void): Promise<number | void>
}

/**
 * Every command's name, usage line, summary and options, in the order `--help` lists them. The
 * command's code (src/cli/<name>.ts, or main.ts for serve) is loaded only when it runs.
 */
export const SPECS = {
  serve: {
    name: 'serve',
    usage: 'branchgate serve [--config FILE]',
    summary: 'run the portal and the console (what systemd starts)',
  },
  sync: {
    name: 'sync',
    usage: 'branchgate sync [--status [--json] | --retry-failed | --wait] [--config FILE]',
    summary: 'send pending events to the CRM now; --status, --retry-failed, --wait',
    options: {
      status: { type: 'boolean' },
      json: { type: 'boolean' },
      'retry-failed': { type: 'boolean' },
      wait: { type: 'boolean' },
    },
  },
  visits: {
    name: 'visits',
    usage: 'branchgate visits [--today | --from YYYY-MM-DD --to YYYY-MM-DD] [--csv]',
    summary: 'list visits: customer, arrival, departure, dwell (branch local time)',
    options: {
      today: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      csv: { type: 'boolean' },
    },
  },
  status: {
    name: 'status',
    usage: 'branchgate status',
    summary: 'let-through devices (MAC, customer, until) and whether codes can be sent',
  },
  allow: {
    name: 'allow',
    usage: 'branchgate allow MAC [--minutes N]',
    summary: 'let a device through by hand (default: session.hours)',
    options: { minutes: { type: 'string' } },
    maxArgs: 1,
  },
  revoke: {
    name: 'revoke',
    usage: 'branchgate revoke MAC',
    summary: 'cut a device off now',
    maxArgs: 1,
  },
  // Issue 17: staff passes for walk-ins without a usable mobile.
  pass: {
    name: 'pass',
    usage: 'branchgate pass [--name NAME] [--minutes N]',
    summary: 'issue a one-time pass for one device (default: tiers.pass.minutes)',
    options: { name: { type: 'string' }, minutes: { type: 'string' } },
  },
  stop: {
    name: 'stop',
    usage: 'branchgate stop [--flush]',
    summary: 'stop the server; --flush also removes the firewall table',
    options: { flush: { type: 'boolean' } },
  },
  doctor: {
    name: 'doctor',
    usage: 'branchgate doctor [--json]',
    summary:
      'check nft, the guest port, forwarding, dnsmasq, the DB and SMS; --json for automation',
    options: { json: { type: 'boolean' } },
  },
  'sms-status': {
    name: 'sms-status',
    usage: 'branchgate sms-status [--config FILE]',
    summary: 'SMS sending: breaker, daily budget, blocked prefixes, per-provider figures',
  },
  'sms-resume': {
    name: 'sms-resume',
    usage: 'branchgate sms-resume [--prefix PREFIX] [--config FILE]',
    summary: 'end the SMS circuit breaker pause (or one blocked prefix) early',
    options: { prefix: { type: 'string' } },
  },
  user: {
    name: 'user',
    usage: 'branchgate user add|list|remove|passwd …',
    summary:
      'console accounts: add NAME --role manager|admin [--password-stdin] | list | remove NAME | passwd NAME [--password-stdin]',
    options: {
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    maxArgs: 2,
  },
  // Fleet (issue 14): consistent copies of the database, putting one back, live reload.
  backup: {
    name: 'backup',
    usage: 'branchgate backup FILE [--config FILE]',
    summary: 'copy the database consistently to FILE, also while the service runs',
    maxArgs: 1,
  },
  restore: {
    name: 'restore',
    usage: 'branchgate restore FILE [--config FILE]',
    summary: 'put a backup back (service stopped; FILE is checked first, the old DB kept)',
    maxArgs: 1,
  },
  reload: {
    name: 'reload',
    usage: 'branchgate reload [--config FILE]',
    summary: 're-read the config in the running service (as systemctl reload: SIGHUP)',
  },
} as const satisfies Record<string, CommandSpec>
