import path from 'node:path'
import type { Clock } from '../clock.js'
import type { Config, NftablesGateConfig } from '../config.js'
import {
  dnsmasqHasNftset,
  kernelInterfaceAddresses,
  readCaptiveDnsTemplate,
  renderCaptiveDns,
  startCaptiveResolver,
} from './captive-dns.js'
import { createDryRunGate } from './dry-run.js'
import type { Gate } from './gate.js'
import { nftablesGateFor, type NftablesGate } from './nftables.js'
import { createWalledGarden, resolveWithSystem } from './walled-garden.js'

/** The firewall the config names, and how to let go of it. */
export interface ConfiguredGate {
  gate: Gate
  /** The nftables gate, when that is the configured backend (status and doctor read its table). */
  nft: NftablesGate | null
  /** Ends the gate's own timers and process; the kernel table stays (its timeouts keep working). */
  stop(): void
  /**
   * Live reload's door: the walled garden from a new config, resolved and set now, then
   * refreshed on its own schedule. Only the garden's set changes; let-through devices stay.
   */
  replaceWalledGarden(garden: NftablesGateConfig['walledGarden']): Promise<void>
}

/**
 * The gate of `config.gate.backend`. A one-shot command (`role: 'command'`) only changes elements
 * of the table the service installed. The service also resolves the walled garden's host names
 * now and every `refreshMinutes`, runs the captive resolver (the DNS of guests not let through),
 * and its dry-run gate logs what it would do.
 */
export async function openConfiguredGate(
  config: Config,
  deps: { clock: Clock; log: (line: string) => void; role: 'service' | 'command' },
): Promise<ConfiguredGate> {
  const { clock, log } = deps
  const service = deps.role === 'service'
  if (config.gate.backend !== 'nftables')
    return {
      gate: createDryRunGate(clock, service ? log : undefined),
      nft: null,
      stop() {},
      async replaceWalledGarden(garden) {
        if (service)
          log(
            `dry-run gate: would allow before login ${[...garden.hosts, ...garden.cidrs].join(', ') || 'nothing'}`,
          )
      },
    }
  const g = config.gate
  const nft = nftablesGateFor(config, g, { clock, log })
  if (!service)
    return { gate: nft, nft, stop: () => nft.close(), replaceWalledGarden: async () => {} }
  let timer: NodeJS.Timeout | null = null
  let gardenHosts = g.walledGarden.hosts
  const plant = async (walled: NftablesGateConfig['walledGarden']) => {
    const garden = createWalledGarden({ ...walled, resolve: resolveWithSystem, log })
    await nft.setGarden(await garden.addresses())
    if (timer) clearInterval(timer)
    timer = setInterval(() => {
      garden
        .addresses()
        .then((a) => nft.setGarden(a))
        .catch((err) => log(`walled garden: refresh failed: ${(err as Error).message}`))
    }, walled.refreshMinutes * 60_000)
    timer.unref()
  }
  await plant(g.walledGarden)
  const template = readCaptiveDnsTemplate()
  const nftset = await dnsmasqHasNftset(g.captiveDns.dnsmasqPath)
  if (!nftset && g.walledGarden.hosts.length)
    log(
      `captive dns: ${g.captiveDns.dnsmasqPath} has no nftset (dnsmasq 2.87 or later has it): the walled garden's names are resolved every ${g.walledGarden.refreshMinutes} min instead, and wildcards are not reachable`,
    )
  const captive = startCaptiveResolver({
    dnsmasqPath: g.captiveDns.dnsmasqPath,
    confFile: path.join(path.resolve(config.dataDir), 'captive-dns.conf'),
    guestInterface: g.guestInterface,
    addresses: kernelInterfaceAddresses(g.guestInterface),
    render: (addresses) =>
      renderCaptiveDns(template, {
        guestInterface: g.guestInterface,
        port: g.captiveDns.port,
        gatewayAddresses: addresses,
        gardenHosts,
        nftset,
      }),
    log,
  })
  await captive.started
  return {
    gate: nft,
    nft,
    stop() {
      if (timer) clearInterval(timer)
      captive.stop()
      nft.close()
    },
    async replaceWalledGarden(walled) {
      await plant(walled)
      // The captive resolver forwards only the garden's names: it is started again with the new
      // list when that changed (pre-login lookups only; let-through guests use their own DNS).
      if (walled.hosts.join('\n') !== gardenHosts.join('\n')) {
        gardenHosts = walled.hosts
        await captive.restart()
      }
    },
  }
}
