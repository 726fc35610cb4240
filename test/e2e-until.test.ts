/**
 * The e2e harness's wait for a process to come up (test/e2e/netns.ts `until`): it has no
 * deadline of its own (a 30 s bound fired on a loaded machine while the namespaces were on their
 * way up), and it ends at once, with the process's output, when the process exits. No kernel
 * state: only the function.
 */
import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { until } from './e2e/netns.js'

describe('e2e until', () => {
  afterEach(() => vi.useRealTimers())

  it('keeps waiting past 30 s of the clock while the process is on its way up', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    let polls = 0
    await until(async () => {
      // Each poll, the clock jumps 20 s: the old 30 s deadline passed on the second one.
      vi.setSystemTime(Date.now() + 20_000)
      return ++polls === 4
    }, 'slow starter')
    expect(polls).toBe(4)
  })

  it('stops at once, with its output, when the process exits before it comes up', async () => {
    const child = spawn(process.execPath, ['-e', 'console.log("bind failed"); process.exit(3)'])
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    await expect(
      until(
        async () => false,
        'the starter',
        () => out,
        child,
      ),
    ).rejects.toThrow(/the starter exited before it came up:\nbind failed/)
  })
})
