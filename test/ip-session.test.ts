import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { SessionTimer } from '../src/gate/batch-session.js'
import { createIpSession, spawnIp, type IpProcess, type StartIp } from '../src/gate/ip-session.js'

/** A hand-made `ip -batch -`: records what it was given; the test answers for it. */
function fakeIp() {
  const started: Array<{
    options: readonly string[]
    lines: string[]
    held: boolean
    killed: boolean
    answer(line: string): void
    end(why: string): void
  }> = []
  const start: StartIp = (options) => {
    let onLine: (l: string) => void = () => {}
    let onEnd: (w: string) => void = () => {}
    const p = {
      options,
      lines: [] as string[],
      held: false,
      killed: false,
      answer: (l: string) => onLine(l),
      end: (w: string) => onEnd(w),
    }
    started.push(p)
    const proc: IpProcess = {
      write: (l) => p.lines.push(l),
      onLine: (f) => (onLine = f),
      onEnd: (f) => (onEnd = f),
      hold: (busy) => (p.held = busy),
      kill: () => (p.killed = true),
    }
    return proc
  }
  return { start, started }
}

/** Timers the test fires. */
function manualTimers() {
  const pending = new Set<() => void>()
  const timer: SessionTimer = (_ms, fire) => {
    pending.add(fire)
    return () => pending.delete(fire)
  }
  return { timer, fireAll: () => [...pending].forEach((f) => (pending.delete(f), f())) }
}

describe('one long-lived ip for many commands', () => {
  it('answers commands in the order given, from one process, and lets Node go when idle', async () => {
    const ip = fakeIp()
    const run = createIpSession(['-j', '-s'], { start: ip.start })
    const a = run('ip', ['neigh', 'show', 'dev', 'br-guest'])
    const b = run('ip', ['neigh', 'show'])
    expect(ip.started).toHaveLength(1)
    expect(ip.started[0]!.options).toEqual(['-j', '-s'])
    expect(ip.started[0]!.lines).toEqual(['neigh show dev br-guest\n', 'neigh show\n'])
    expect(ip.started[0]!.held).toBe(true)
    ip.started[0]!.answer('[{"dst":"10.0.0.2"}]')
    ip.started[0]!.answer('[]')
    expect(await a).toBe('[{"dst":"10.0.0.2"}]')
    expect(await b).toBe('[]')
    expect(ip.started[0]!.held).toBe(false)
    const c = run('ip', ['neigh', 'show'])
    ip.started[0]!.answer('[]')
    expect(await c).toBe('[]')
    expect(ip.started).toHaveLength(1)
  })

  it("fails a command with ip's words when ip ends on it, and starts a new ip for the next", async () => {
    const ip = fakeIp()
    const run = createIpSession(['-j'], { start: ip.start })
    const a = run('ip', ['neigh', 'show', 'dev', 'nope'])
    ip.started[0]!.end('ip ended (exit 1): Cannot find device "nope"')
    await expect(a).rejects.toThrow(/Cannot find device "nope"/)
    const b = run('ip', ['neigh', 'show'])
    expect(ip.started).toHaveLength(2)
    ip.started[1]!.answer('[]')
    expect(await b).toBe('[]')
  })

  it('ends an ip that does not answer in time and fails what waited for it', async () => {
    const ip = fakeIp()
    const t = manualTimers()
    const run = createIpSession(['-j'], { start: ip.start, timer: t.timer, timeoutMs: 5000 })
    const a = run('ip', ['neigh', 'show'])
    t.fireAll()
    await expect(a).rejects.toThrow(/did not answer within 5000 ms/)
    expect(ip.started[0]!.killed).toBe(true)
    // a late answer from the old process goes nowhere; the next command has a new one
    ip.started[0]!.answer('[]')
    const b = run('ip', ['neigh', 'show'])
    ip.started[1]!.answer('[{"dst":"10.0.0.3"}]')
    expect(await b).toBe('[{"dst":"10.0.0.3"}]')
  })

  it('refuses a line break in an argument and anything after close', async () => {
    const ip = fakeIp()
    const run = createIpSession(['-j'], { start: ip.start })
    await expect(run('ip', ['neigh', 'show\nlink set lo down'])).rejects.toThrow(/bad argument/)
    const a = run('ip', ['neigh', 'show'])
    run.close()
    await expect(a).rejects.toThrow(/closed/)
    expect(ip.started[0]!.killed).toBe(true)
    await expect(run('ip', ['neigh', 'show'])).rejects.toThrow(/closed/)
  })
})

const hasIp = (() => {
  try {
    execFileSync('ip', ['-V'])
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!hasIp)('the real ip -batch', () => {
  it("answers neigh show as JSON each time, and a bad device with ip's words", async () => {
    const run = createIpSession(['-j', '-s'], { start: spawnIp })
    try {
      for (let i = 0; i < 3; i++)
        expect(JSON.parse(await run('ip', ['neigh', 'show']))).toEqual(expect.any(Array))
      await expect(run('ip', ['neigh', 'show', 'dev', 'no-such-dev0'])).rejects.toThrow(
        /Cannot find device/,
      )
      expect(JSON.parse(await run('ip', ['neigh', 'show', 'dev', 'lo']))).toEqual([])
    } finally {
      run.close()
    }
  })
})
