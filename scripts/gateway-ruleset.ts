/**
 * Writes the ruleset branchgate generates for the example config (deploy/branchgate.example.json)
 * into docs/gateway.md, between its `ruleset:start` and `ruleset:end` markers:
 *
 *   node --import tsx scripts/gateway-ruleset.ts
 *
 * test/nftables-ruleset.test.ts fails when the page and the template drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../src/config.js'
import { readTemplate, renderRuleset } from '../src/gate/nft-ruleset.js'
import { atRoot } from '../src/paths.js'

/** The ruleset branchgate generates for the example config. */
export function exampleRuleset(): string {
  const config = loadConfig(readFileSync(atRoot('deploy/branchgate.example.json'), 'utf8'))
  const gate = config.gate
  if (gate.backend !== 'nftables') throw new Error('the example config uses nftables')
  return renderRuleset(readTemplate(), {
    guestInterface: gate.guestInterface,
    portalPort: gate.portalPort ?? config.listen.portal.port,
    portalPorts: [config.listen.portal.port],
    uplinkInterface: gate.uplinkInterface,
    captiveDnsPort: gate.captiveDns.port,
    preLogin: gate.preLogin,
    ipv6Uplink: gate.ipv6?.uplink ?? 'nat',
  })
}

const START = '<!-- ruleset:start -->'
const END = '<!-- ruleset:end -->'

/** The ruleset block of the page (between the markers), or null when it has none. */
export function rulesetBlock(page: string): string | null {
  const a = page.indexOf(START)
  const b = page.indexOf(END)
  if (a < 0 || b < a) return null
  return page
    .slice(a + START.length, b)
    .replace(/^\s*```[a-z]*\n/, '')
    .replace(/\n```\s*$/, '\n')
}

/** The page with its ruleset block replaced. */
export function replaceRulesetBlock(page: string, ruleset: string): string {
  const a = page.indexOf(START)
  const b = page.indexOf(END)
  if (a < 0 || b < a) throw new Error(`the page has no ${START} … ${END} block`)
  return `${page.slice(0, a + START.length)}\n\`\`\`nft\n${ruleset.trimEnd()}\n\`\`\`\n${page.slice(b)}`
}

export const GATEWAY_DOC = atRoot('docs/gateway.md')

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  writeFileSync(
    GATEWAY_DOC,
    replaceRulesetBlock(readFileSync(GATEWAY_DOC, 'utf8'), exampleRuleset()),
  )
  console.log(`wrote the example ruleset into ${GATEWAY_DOC}`)
}
