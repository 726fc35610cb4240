/**
 * One network namespace of a test's own for the real gate (nftables, and tc for the rates),
 * without the gateway harness of test/e2e/netns.ts: the kernel's firewall is reached, the host's
 * never. Used by the real-nftables and firewall-metrics tests and by the gate bench.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { systemClock } from '../../src/clock.js'
import {
  createNftablesGate,
  createNftRunner,
  type NftablesGate,
  type NftablesGateOptions,
  type NftSessionChoice,
} from '../../src/gate/nftables.js'
import { readTemplate, renderRuleset } from '../../src/gate/nft-ruleset.js'
import { createTcRunner } from '../../src/gate/tc.js'

/** Why the real gate cannot be reached here, or null. */
export function gateSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'nft is not installed (apt-get install nftables)'
  return null
}

export type GateNamespace = ReturnType<typeof createGateNamespace>

/** Creates the namespace `NAME-xxxxxx`; call `remove()` when done, whatever happened. */
export function createGateNamespace(name: string) {
  const ns = `${name}-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', ns])
  /** The nft command in the namespace, e.g. for createNftRunner. */
  const nftArgv = ['ip', 'netns', 'exec', ns, 'nft']
  /** Runs a program in the namespace and returns its output; throws with its stderr. */
  const inNs = (file: string, ...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, file, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  return {
    ns,
    nftArgv,
    inNs,
    nft: (...args: string[]) => inNs('nft', ...args),
    /** A veth pair for each name (its peer: the name and `p`), the named end up. */
    veths(...names: string[]) {
      for (const dev of names) {
        inNs('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`)
        inNs('ip', 'link', 'set', dev, 'up')
      }
    },
    tcRunner: () => createTcRunner(['ip', 'netns', 'exec', ns, 'tc'], ['ip', '-n', ns]),
    /**
     * The nftables gate in the namespace, its own nft session, one try per change: the guest
     * port guest0, the uplink up0 (or `uplinkInterface`), the portal on 8080; the session's
     * program as the service chooses it (`session`: 'auto').
     */
    gate(
      o: Partial<Pick<NftablesGateOptions, 'garden' | 'rates' | 'log'>> & {
        uplinkInterface?: string | null
        session?: NftSessionChoice
      } = {},
    ): NftablesGate {
      return createNftablesGate({
        runner: createNftRunner(nftArgv, {
          session: o.session ?? 'auto',
          ...(o.log ? { log: o.log } : {}),
        }),
        clock: systemClock,
        log: o.log ?? (() => {}),
        attempts: 1,
        ruleset: renderRuleset(readTemplate(), {
          guestInterface: 'guest0',
          portalPort: 8080,
          portalPorts: [8080],
          uplinkInterface: o.uplinkInterface === undefined ? 'up0' : o.uplinkInterface,
        }),
        ...(o.garden ? { garden: o.garden } : {}),
        ...(o.rates ? { rates: o.rates } : {}),
      })
    },
    remove() {
      execFileSync('ip', ['netns', 'del', ns])
    },
  }
}
