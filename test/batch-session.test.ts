import { closeSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import {
  BatchRefusedError,
  createBatchSession,
  fifoPipes,
  SessionClosedError,
  SessionEndedError,
  SessionTimeoutError,
  spawnProgram,
  type SessionDialect,
} from '../src/gate/batch-session.js'
import { nftDialect } from '../src/gate/nftables.js'
import { tcDialect } from '../src/gate/tc.js'
import {
  FakeProgram,
  manualTimer,
  NFT_VOICE,
  TC_VOICE,
  type ProgramVoice,
} from './fakes/session-program.js'

const programs: Array<{ name: string; dialect: SessionDialect; voice: ProgramVoice }> = [
  { name: 'nft -i', dialect: nftDialect, voice: NFT_VOICE },
  { name: 'tc -force -batch -', dialect: tcDialect, voice: TC_VOICE },
]

/** Settles a promise into what a test compares: 'ok', or the error's class and message. */
const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: Error) => `${e.name}: ${e.message}`,
  )

describe.each(programs)('a batch session over $name', ({ dialect, voice }) => {
  const make = () => {
    const program = new FakeProgram(voice)
    const clock = manualTimer()
    const session = createBatchSession({
      spawn: program.spawn,
      dialect,
      timer: clock.timer,
      timeoutMs: 5000,
    })
    return { program, clock, session }
  }

  it('answers each batch in one long-lived program, sending every line once', async () => {
    const { program, session } = make()
    await session.run(['add element a'])
    await session.run(['add element b', 'add element c'])
    await session.run([])
    expect(program.starts).toBe(1)
    expect(program.commands).toEqual(['add element a', 'add element b', 'add element c'])
  })

  it("rejects a refused batch with the program's own words, and the session goes on", async () => {
    const { program, session } = make()
    program.refuse.set('del class 1:9', 'RTNETLINK answers: No such file or directory')
    const err = await session.run(['replace class 1:8', 'del class 1:9']).catch((e) => e)
    expect(err).toBeInstanceOf(BatchRefusedError)
    expect(err.message).toContain('RTNETLINK answers: No such file or directory')
    // Only the batch's own error: nothing of the sentinel's.
    expect(err.message).not.toContain('bgsync')
    await expect(session.run(['replace class 1:8'])).resolves.toBeUndefined()
    expect(program.starts).toBe(1)
  })

  it('does not take what the program says between batches for the next answer', async () => {
    const { program, session } = make()
    await session.run(['a'])
    program.mutter('Warning: table inet branchgate uses a deprecated feature\n')
    await expect(session.run(['b'])).resolves.toBeUndefined()
  })

  it('runs batches given at once one at a time, in order, each with its own answer', async () => {
    const { program, session } = make()
    program.holding = true
    program.refuse.set('line 2', 'Could not process rule: Cannot allocate memory')
    program.refuse.set('line 4', 'Could not process rule: File exists')
    const all = [1, 2, 3, 4, 5].map((i) => outcome(session.run([`line ${i}`])))
    await new Promise((r) => setImmediate(r))
    expect(program.commands).toEqual(['line 1'])
    program.release()
    expect(await Promise.all(all)).toEqual([
      'ok',
      expect.stringMatching(/^BatchRefusedError: [\s\S]*Cannot allocate memory/),
      'ok',
      expect.stringMatching(/^BatchRefusedError: [\s\S]*File exists/),
      'ok',
    ])
    expect(program.mostInFlight).toBe(1)
    expect(program.commands).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5'])
  })

  it('fails the batch the program dies in, then starts a new program for the next', async () => {
    const { program, session } = make()
    program.crash = { line: 'boom', stderr: 'Segmentation fault\n', exit: 'SIGSEGV' }
    const dying = outcome(session.run(['before', 'boom']))
    const next = outcome(session.run(['after']))
    expect(await dying).toBe(
      `SessionEndedError: ${dialect.name} session ended (SIGSEGV): Segmentation fault`,
    )
    expect(await next).toBe('ok')
    expect(program.starts).toBe(2)
    expect(program.processes[1]!.read[0]).toBe('after')
  })

  it('kills a program that does not answer in time; its late end does not fail the next batch', async () => {
    const { program, clock, session } = make()
    program.holding = true
    const stuck = outcome(session.run(['stuck']))
    await new Promise((r) => setImmediate(r))
    clock.fire()
    expect(await stuck).toBe(`SessionTimeoutError: ${dialect.name} did not answer within 5000 ms`)
    expect(program.processes[0]!.killed).toBe(true)
    program.holding = false
    const next = outcome(session.run(['next']))
    await new Promise((r) => setImmediate(r))
    // The killed program's exit arrives while the next batch waits for its answer.
    program.reapKilled()
    expect(await next).toBe('ok')
    expect(program.starts).toBe(2)
  })

  it('fails at once, not at the timeout, when the program cannot start, and tries again next time', async () => {
    const { program, clock, session } = make()
    program.missing = true
    expect(await outcome(session.run(['x']))).toBe(
      `SessionEndedError: ${dialect.name} session ended (cannot run nft: spawn nft ENOENT)`,
    )
    expect(clock.pending).toBe(0)
    program.missing = false
    expect(await outcome(session.run(['x']))).toBe('ok')
    expect(program.starts).toBe(2)
  })

  it('refuses a line with a line break in it, sending nothing', async () => {
    const { program, session } = make()
    await expect(session.run(['flush ruleset\nadd table x'])).rejects.toThrow(
      'one line per command',
    )
    expect(program.commands).toEqual([])
  })

  it('closes after the batches already given, refusing new ones, and ends the program', async () => {
    const { program, session } = make()
    program.holding = true
    const given = [outcome(session.run(['a'])), outcome(session.run(['b']))]
    const closed = session.close()
    expect(await outcome(session.run(['c']))).toBe(
      `SessionClosedError: the ${dialect.name} session is closed`,
    )
    program.release()
    expect(await Promise.all(given)).toEqual(['ok', 'ok'])
    await closed
    expect(program.commands).toEqual(['a', 'b'])
    expect(program.processes[0]).toMatchObject({ inputEnded: true, ended: true, killed: false })
  })

  it('kills at close a program that stays on when its input ends', async () => {
    const { program, clock, session } = make()
    program.ignoresEnd = true
    await session.run(['a'])
    const closed = session.close()
    await new Promise((r) => setImmediate(r))
    clock.fire()
    program.reapKilled()
    await closed
    expect(program.processes[0]).toMatchObject({ inputEnded: true, killed: true, ended: true })
  })
})

// The real spawn: `nft -i` reads its input one byte per read(2) and answers in many small writes,
// which cost more through the socket pairs Node gives a child than through pipes (docs/bench.md),
// so its session asks for pipes.
describe('a session program started for real', () => {
  /** Runs `sh -c SCRIPT` as a session program, writes `input`, ends it; its stderr and its end. */
  const run = (script: string, input: string, o: { pipe?: boolean; lastWordsMs?: number }) =>
    new Promise<{ stderr: string; why: string }>((resolve) => {
      let stderr = ''
      const p = spawnProgram(
        ['sh', '-c', script],
        o,
      )({
        stderr: (t) => (stderr += t),
        ended: (why) => resolve({ stderr, why }),
      })
      p.write(input)
      p.end()
    })
  const script = 'stat -L -c %F /dev/stdin /dev/stderr >&2; cat >&2'

  it('gets real pipes for its input and errors when asked, which carry every line and then its end', async () => {
    expect(await run(script, 'add element\nlist set\n', { pipe: true })).toEqual({
      stderr: 'fifo\nfifo\nadd element\nlist set\n',
      why: 'exit 0',
    })
    // Without it, Node's own: sockets.
    expect(await run(script, 'x\n', {})).toEqual({ stderr: 'socket\nsocket\nx\n', why: 'exit 0' })
  })

  it('tells a program ended only once what it wrote on stderr is read', async () => {
    // The shell exits at once; what it left running writes after that, and holds stderr open
    // until it has. Its end was told at 'exit', before its words were read (a flaky failure of
    // the test above on a loaded machine). No wall clock: the fallback is out of reach.
    // (A background job's stdin is /dev/null in sh: it reads the shell's through fd 3.)
    const late = 'exec 3<&0; (read x <&3; echo "late $x" >&2) & echo early >&2; exit 3'
    for (const pipe of [true, false]) {
      const r = await run(late, 'go\n', { pipe, lastWordsMs: 2 ** 31 - 1 })
      expect({ pipe, lines: r.stderr.split('\n').sort(), why: r.why }).toEqual({
        pipe,
        lines: ['', 'early', 'late go'],
        why: 'exit 3',
      })
    }
  })

  it('leaves no FIFO behind in the temporary folder', async () => {
    const mine = () => readdirSync(tmpdir()).filter((f) => f.startsWith('branchgate-stdio-'))
    const before = mine()
    const pipes = fifoPipes()!
    expect(mine()).toEqual(before)
    for (const end of [pipes.stdin, pipes.stderr]) {
      closeSync(end.child)
      end.ours.destroy()
    }
  })
})
