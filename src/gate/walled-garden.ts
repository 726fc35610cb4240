import { lookup } from 'node:dns/promises'

/** Resolves a host name to all its addresses (IPv4 and IPv6). */
export type ResolveHost = (host: string) => Promise<string[]>

export const resolveWithSystem: ResolveHost = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address)

/**
 * The walled garden as addresses: the configured CIDRs plus what each host name resolves to now.
 * A host that does not resolve keeps its previous addresses (a DNS hiccup must not wall off the
 * privacy notice), and the failure is logged.
 */
export function createWalledGarden(o: {
  hosts: readonly string[]
  cidrs: readonly string[]
  resolve: ResolveHost
  log: (line: string) => void
}) {
  const known = new Map<string, string[]>()
  return {
    async addresses(): Promise<string[]> {
      // A wildcard (`*.bank.example`) has no address of its own: only the captive resolver's
      // answers (nftset) can put its names in the firewall.
      for (const host of o.hosts.filter((h) => !h.startsWith('*.'))) {
        try {
          const found = await o.resolve(host)
          if (found.length) known.set(host, found)
        } catch (err) {
          const kept = known.get(host)?.length ?? 0
          o.log(
            `walled garden: cannot resolve ${host} (${(err as Error).message}); keeping ${kept} address(es)`,
          )
        }
      }
      const all = new Set<string>(o.cidrs)
      for (const list of known.values()) for (const a of list) all.add(a)
      return [...all]
    },
  }
}
