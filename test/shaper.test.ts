import { describe, expect, it } from 'vitest'
import { BatchRefusedError } from '../src/gate/batch-session.js'
import { createShaper } from '../src/gate/shaper.js'
import type { TcRunner } from '../src/gate/tc.js'
import type { Mac } from '../src/mac.js'

/**
 * tc as a kernel answers it, for the lines the shaper writes: a root HTB cannot be replaced by
 * another (HTB has no change operation: "Change operation not supported by specified qdisc"),
 * classes and leaf queues can; fq_codel only where `fqCodel` (a module some kernels leave out).
 */
class KernelTc implements TcRunner {
  roots = new Set<string>()
  leaves = new Map<string, string>()
  classes = new Set<string>()
  constructor(private readonly fqCodel: boolean) {}
  private one(line: string): string | null {
    let m = /^qdisc del dev (\S+) root$/.exec(line)
    if (m) {
      if (!this.roots.delete(m[1]!)) return 'Error: Cannot delete qdisc with handle of zero.'
      for (const k of [...this.leaves.keys(), ...this.classes])
        if (k.startsWith(`${m[1]} `)) (this.leaves.delete(k), this.classes.delete(k))
      return null
    }
    m = /^qdisc replace dev (\S+) root handle 1: htb default 2$/.exec(line)
    if (m) {
      if (this.roots.has(m[1]!)) return 'Error: Change operation not supported by specified qdisc.'
      this.roots.add(m[1]!)
      return null
    }
    m = /^class replace dev (\S+) parent \S+ classid (\S+) htb /.exec(line)
    if (m) {
      if (!this.roots.has(m[1]!)) return 'Error: Cannot find device.'
      this.classes.add(`${m[1]} ${m[2]}`)
      return null
    }
    m = /^qdisc replace dev (\S+) parent (\S+) handle \S+ (\w+)/.exec(line)
    if (m) {
      if (!this.classes.has(`${m[1]} ${m[2]}`)) return 'Error: Failed to find specified qdisc.'
      if (m[3] === 'fq_codel' && !this.fqCodel) return 'Error: Specified qdisc kind is unknown.'
      this.leaves.set(`${m[1]} ${m[2]}`, m[3]!)
      return null
    }
    m = /^class del dev (\S+) classid (\S+)$/.exec(line)
    if (m) {
      this.classes.delete(`${m[1]} ${m[2]}`)
      this.leaves.delete(`${m[1]} ${m[2]}`)
      return null
    }
    return `Error: not a line the shaper writes: ${line}`
  }
  async line(command: string) {
    return this.lines([command])
  }
  async lines(commands: readonly string[]) {
    // As `tc -force -batch -`: every line is tried, the batch fails with the errors.
    const errors = commands.map((c) => this.one(c)).filter((e): e is string => e !== null)
    if (errors.length) throw new BatchRefusedError(errors.join('\n'))
  }
  async ip() {}
  close() {}
}

describe('the shaper against a kernel', () => {
  const params = {
    guestInterface: 'guest0',
    uplinkInterface: 'up0',
    totalDownKbps: 20_000,
    totalUpKbps: null,
  }
  const A = '3a:00:00:00:00:01' as Mac

  for (const fqCodel of [true, false])
    it(`builds both trees with ${fqCodel ? 'fq_codel' : 'FIFO'} queues, again at a restart, and a class per device`, async () => {
      const tc = new KernelTc(fqCodel)
      const logs: string[] = []
      const shaper = createShaper({ runner: tc, params, log: (l) => logs.push(l) })
      // The second install is a restart's: the trees of the one before are there.
      for (let i = 0; i < 2; i++) {
        const classes = await shaper.install([{ mac: A, rate: { downKbps: 5000, upKbps: null } }])
        const minor = classes.get(A)!
        const kind = fqCodel ? 'fq_codel' : 'pfifo'
        expect(Object.fromEntries(tc.leaves)).toEqual({
          'guest0 1:2': kind,
          'up0 1:2': kind,
          [`guest0 1:${minor.toString(16)}`]: kind,
          [`up0 1:${minor.toString(16)}`]: kind,
        })
      }
      expect(logs.filter((l) => /per-device rates/.test(l))).toEqual([
        `gate: per-device rates with tc HTB, ${fqCodel ? 'fq_codel' : 'pfifo'} queues`,
        `gate: per-device rates with tc HTB, ${fqCodel ? 'fq_codel' : 'pfifo'} queues`,
      ])
    })
})
