import path from 'node:path'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import {
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
    return { gate: createDryRunGate(clock, service ? log : undefined), nft: null, stop() {} }
  const g = config.gate
  const nft = nftablesGateFor(config, g, { clock, log })
  if (!service) return { gate: nft, nft, stop: () => nft.close() }
  const garden = createWalledGarden({ ...g.walledGarden, resolve: resolveWithSystem, log })
  await nft.setGarden(await garden.addresses())
  const timer = setInterval(() => {
    garden
      .addresses()
      .then((a) => nft.setGarden(a))
      .catch((err) => log(`walled garden: refresh failed: ${(err as Error).message}`))
  }, g.walledGarden.refreshMinutes * 60_000)
  timer.unref()
  const template = readCaptiveDnsTemplate()
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
        gardenHosts: g.walledGarden.hosts,
      }),
    log,
  })
  await captive.started
  return {
    gate: nft,
    nft,
    stop() {
      clearInterval(timer)
      captive.stop()
      nft.close()
    },
  }
}
