import { userInfo } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { cliActor } from '../src/cli/actor.js'
import { userCommand, type UserCommandIo } from '../src/cli/user.js'
import { consoleUserStatements } from '../src/db/console.js'
import { openDb, closeDb } from '../src/db/open.js'
import { verifyPassword } from '../src/console/passwords.js'
import { tempDir } from './helpers.js'
import path from 'node:path'

let t: ReturnType<typeof tempDir>
afterEach(() => t?.remove())

function io(p: { stdin?: string; answers?: string[]; tty?: boolean } = {}) {
  const out: string[] = []
  const err: string[] = []
  const answers = [...(p.answers ?? [])]
  const value: UserCommandIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTty: p.tty ?? false,
    askHidden: async () => answers.shift() ?? '',
    readStdin: async () => p.stdin ?? '',
  }
  return { value, out, err }
}

const run = (argv: string[], x: ReturnType<typeof io>) =>
  userCommand(argv, { BRANCHGATE_DATA_DIR: t.dir }, x.value)
const users = () => {
  const db = openDb(path.join(t.dir, 'branchgate.db'))
  try {
    return consoleUserStatements(db).all()
  } finally {
    closeDb(db)
  }
}

describe('branchgate user', () => {
  it('adds a user from a password on stdin, lists, changes the password and removes them', async () => {
    t = tempDir()
    expect(
      await run(
        ['add', 'maria', '--role', 'manager', '--password-stdin'],
        io({ stdin: 'secreto-gerente-1\n' }),
      ),
    ).toBe(0)
    expect(
      await run(
        ['add', 'root', '--role=admin', '--password-stdin'],
        io({ stdin: 'secreto-admin-22\n' }),
      ),
    ).toBe(0)
    const listed = io()
    expect(await run(['list'], listed)).toBe(0)
    expect(listed.out.map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual([
      'maria manager',
      'root admin',
    ])
    expect(await verifyPassword('secreto-gerente-1', users()[0]!.password_hash)).toBe(true)

    expect(
      await run(
        ['passwd', 'maria'],
        io({ tty: true, answers: ['otra-clave-nueva', 'otra-clave-nueva'] }),
      ),
    ).toBe(0)
    expect(await verifyPassword('otra-clave-nueva', users()[0]!.password_hash)).toBe(true)

    expect(await run(['remove', 'maria'], io())).toBe(0)
    expect(users().map((u) => u.name)).toEqual(['root'])
  })

  it('asks twice on a terminal and changes nothing when the two differ', async () => {
    t = tempDir()
    const x = io({ tty: true, answers: ['clave-uno-12345', 'clave-dos-12345'] })
    expect(await run(['add', 'maria', '--role', 'manager'], x)).toBe(2)
    expect(x.err.join()).toContain('differ')
    expect(users()).toEqual([])
  })

  it('refuses without a terminal unless --password-stdin is given', async () => {
    t = tempDir()
    const x = io()
    expect(await run(['add', 'maria', '--role', 'manager'], x)).toBe(2)
    expect(x.err.join()).toContain('--password-stdin')
  })

  it('refuses a short password, an unknown role, a taken name and removing the last admin', async () => {
    t = tempDir()
    const short = io({ stdin: 'corta\n' })
    expect(await run(['add', 'maria', '--role', 'manager', '--password-stdin'], short)).toBe(1)
    expect(short.err.join()).toContain('at least 10 characters')
    expect(
      await run(
        ['add', 'maria', '--role', 'boss', '--password-stdin'],
        io({ stdin: 'secreto-gerente-1' }),
      ),
    ).toBe(2)
    expect(
      await run(
        ['add', 'root', '--role', 'admin', '--password-stdin'],
        io({ stdin: 'secreto-admin-22' }),
      ),
    ).toBe(0)
    const again = io({ stdin: 'secreto-admin-22' })
    expect(await run(['add', 'ROOT', '--role', 'admin', '--password-stdin'], again)).toBe(1)
    expect(again.err.join()).toContain('already exists')
    const last = io()
    expect(await run(['remove', 'root'], last)).toBe(1)
    expect(last.err.join()).toContain('last admin')
  })
})

describe('who ran a command', () => {
  it('is the Unix user from the OS when $USER is unset, never "unknown"', async () => {
    t = tempDir()
    // The test's env has no USER, SUDO_USER or LOGNAME, as under systemd or cron.
    expect(
      await run(
        ['add', 'maria', '--role', 'manager', '--password-stdin'],
        io({ stdin: 'secreto-gerente-1\n' }),
      ),
    ).toBe(0)
    const db = openDb(path.join(t.dir, 'branchgate.db'))
    try {
      expect(db.prepare(`SELECT actor FROM audit_log`).all()).toEqual([
        { actor: `cli:${userInfo().username}` },
      ])
    } finally {
      closeDb(db)
    }
  })

  it('names the person behind sudo first, then $USER, then the OS user, then the uid', () => {
    const os = () => 'branchgate'
    expect(cliActor({ SUDO_USER: 'ana', USER: 'root' }, os)).toBe('cli:ana')
    expect(cliActor({ USER: 'beto' }, os)).toBe('cli:beto')
    expect(cliActor({ LOGNAME: 'carla' }, os)).toBe('cli:carla')
    expect(cliActor({ USER: ' ' }, os)).toBe('cli:branchgate')
    const none = () => {
      throw new Error('no passwd entry')
    }
    expect(cliActor({}, none)).toMatch(/^cli:uid-\d+$/)
  })
})
