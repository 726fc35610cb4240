import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../../src/clock.js'
import { createNftablesGate, createNftRunner, type NftablesGate } from '../../src/gate/nftables.js'
import { readTemplate, renderRuleset } from '../../src/gate/nft-ruleset.js'
import type { Mac } from '../../src/mac.js'

const hasNft = (() => {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
const why =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces)'
    : !hasNft
      ? 'nft is not installed'
      : null
if (why) console.warn(`skipping the real-nftables tests: ${why}`)

// The real kernel firewall, in a network namespace of its own: the host's rules are never touched.
describe.skipIf(why !== null)('the nftables gate against the kernel', () => {
  const ns = `bgtest-${randomBytes(3).toString('hex')}`
  let gate: NftablesGate
  const nft = (...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns])
    gate = createNftablesGate({
      runner: createNftRunner(['ip', 'netns', 'exec', ns, 'nft']),
      clock: systemClock,
      log: () => {},
      attempts: 1,
      ruleset: renderRuleset(readTemplate(), {
        guestInterface: 'guest0',
        portalPort: 8080,
        portalPorts: [8080],
        uplinkInterface: 'up0',
      }),
      garden: ['203.0.113.0/24'],
    })
  })
  afterAll(() => {
    gate?.close()
    execFileSync('ip', ['netns', 'del', ns])
  })

  const A = '3a:11:22:33:44:55' as Mac
  const B = '3a:11:22:33:44:66' as Mac

  it('installs the table with the set rebuilt, lets through, revokes, and reads counters', async () => {
    const now = Date.now()
    await gate.replaceAll([
      { mac: A, until: now + 3_600_000 },
      { mac: B, until: now - 1000 },
    ])
    expect(nft('list', 'table', 'inet', 'branchgate')).toContain('redirect to :8080')
    expect((await gate.list()).map((e) => e.mac)).toEqual([A])
    await gate.letThrough(B, now + 600_000)
    await gate.letThrough(B, now + 1_200_000) // again: the later deadline wins
    const b = (await gate.list()).find((e) => e.mac === B)!
    expect(b.until).toBeGreaterThan(now + 1_190_000)
    await gate.revoke(A)
    await gate.revoke(A) // not an error
    expect((await gate.list()).map((e) => e.mac)).toEqual([B])
    expect([...(await gate.counters()).entries()]).toEqual([[B, { packets: 0, bytes: 0 }]])
    // A second start replaces the table atomically, keeping whoever the database says.
    const again = createNftablesGate({
      runner: createNftRunner(['ip', 'netns', 'exec', ns, 'nft']),
      clock: systemClock,
      log: () => {},
      attempts: 1,
      ruleset: renderRuleset(readTemplate(), {
        guestInterface: 'guest0',
        portalPort: 8080,
        portalPorts: [8080],
        uplinkInterface: null,
      }),
    })
    await again.replaceAll([{ mac: A, until: now + 60_000 }])
    expect((await again.list()).map((e) => e.mac)).toEqual([A])
    expect(nft('list', 'table', 'inet', 'branchgate')).not.toContain('masquerade')
    await again.flush()
    expect(() => nft('list', 'table', 'inet', 'branchgate')).toThrow()
    again.close()
  })
})
