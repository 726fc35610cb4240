import { createHash } from 'node:crypto'
import type { Mac } from '../mac.js'
import type { DeviceRate } from './gate.js'
import { MINOR_FIRST, MINOR_LAST } from './nft-rates.js'
import {
  defaultLeafLines,
  deviceLines,
  deviceRemoveLines,
  leafProbeLine,
  setupLines,
  teardownLines,
  type LeafQdisc,
  type ShapingParams,
} from './shaping.js'
import type { TcRunner } from './tc.js'

/**
 * Per-device rates in the kernel's traffic control (src/gate/shaping.ts says how): which class
 * each let-through device has, and the tc lines that make, change and remove it. Verbs only;
 * every change is lines in one long-lived tc session, never a process.
 */
export interface Shaper {
  /** Rebuilds both HTB trees with a class per device (start-up); each device's class minor. */
  install(devices: ReadonlyArray<{ mac: Mac; rate: DeviceRate | null }>): Promise<Map<Mac, number>>
  /** Creates or changes the device's classes (counts kept); returns its class minor. */
  apply(mac: Mac, rate: DeviceRate | null): Promise<number>
  /** Removes the device's classes; the minor it had, or null when it had none. */
  remove(mac: Mac): Promise<number | null>
  /** The device's class minor, if it has one. */
  minorOf(mac: Mac): number | null
  /** Takes the kernel's word for which device has which class (the `down` map). */
  learn(classes: ReadonlyMap<Mac, number>): void
  /** Removes both trees (`branchgate stop --flush`). */
  teardown(): Promise<void>
}

export interface ShaperOptions {
  runner: TcRunner
  params: ShapingParams
  log: (line: string) => void
}

/** Where a MAC's class search starts: spread by a hash, so two processes rarely pick alike. */
function firstChoice(mac: Mac): number {
  const h = createHash('sha256').update(mac).digest().readUInt32BE(0)
  return MINOR_FIRST + (h % (MINOR_LAST - MINOR_FIRST + 1))
}

export function createShaper(o: ShaperOptions): Shaper {
  const { runner, params } = o
  const byMac = new Map<Mac, number>()
  const taken = new Set<number>()
  let leaf: LeafQdisc = 'pfifo'

  const allocate = (mac: Mac): number => {
    const known = byMac.get(mac)
    if (known !== undefined) return known
    const size = MINOR_LAST - MINOR_FIRST + 1
    const start = firstChoice(mac)
    for (let i = 0; i < size; i++) {
      const minor = MINOR_FIRST + ((start - MINOR_FIRST + i) % size)
      if (!taken.has(minor)) {
        byMac.set(mac, minor)
        taken.add(minor)
        return minor
      }
    }
    throw new Error(`no tc class left for ${mac}: ${size} devices have one`)
  }
  const release = (mac: Mac) => {
    const minor = byMac.get(mac)
    if (minor === undefined) return null
    byMac.delete(mac)
    taken.delete(minor)
    return minor
  }
  const lines = (list: readonly string[]) => runner.lines(list)

  return {
    async install(devices) {
      for (const dev of [params.guestInterface, params.uplinkInterface])
        if (dev) await limitGro(runner, dev, o.log)
      for (const l of teardownLines(params)) await runner.line(l).catch(() => {})
      await lines(setupLines(params, 'pfifo'))
      // fq_codel where the kernel has it (Debian's and Ubuntu's do, as a module); a FIFO else.
      leaf = await runner.line(leafProbeLine(params)).then(
        () => 'fq_codel' as const,
        () => 'pfifo' as const,
      )
      if (leaf === 'fq_codel') await lines(defaultLeafLines(params, leaf))
      o.log(
        `gate: per-device rates with tc HTB, ${leaf} queues${params.uplinkInterface ? '' : '; uploads counted, not shaped (no gate.uplinkInterface)'}`,
      )
      byMac.clear()
      taken.clear()
      await lines(devices.flatMap((d) => deviceLines(params, leaf, allocate(d.mac), d.rate)))
      return new Map(byMac)
    },
    async apply(mac, rate) {
      // A class half made stays the device's: the next try (or remove) finds it.
      const minor = allocate(mac)
      await lines(deviceLines(params, leaf, minor, rate))
      return minor
    },
    async remove(mac) {
      const minor = byMac.get(mac) ?? null
      if (minor === null) return null
      for (const l of deviceRemoveLines(params, minor)) await runner.line(l).catch(() => {})
      release(mac)
      return minor
    },
    minorOf: (mac) => byMac.get(mac) ?? null,
    learn(classes) {
      for (const [mac, minor] of classes) {
        const before = byMac.get(mac)
        if (before !== undefined) taken.delete(before)
        byMac.set(mac, minor)
        taken.add(minor)
      }
    },
    async teardown() {
      for (const l of teardownLines(params)) await runner.line(l).catch(() => {})
      for (const dev of [params.guestInterface, params.uplinkInterface])
        if (dev)
          await runner.ip(['link', 'set', 'dev', dev, 'gro_max_size', '65536']).catch(() => {})
      byMac.clear()
      taken.clear()
    },
  }
}

/**
 * GRO merges what a port receives into packets of up to 64 KB, which HTB sends as one: every
 * other device would wait behind it (26 ms at 20 Mbit/s). Limiting GRO on the uplink (downloads)
 * and the guest port (uploads) to single frames keeps the round robin one frame each. Linux
 * 5.19+; on older kernels this is logged and shaping works with coarser turns.
 */
async function limitGro(runner: TcRunner, dev: string, log: (line: string) => void) {
  await runner.ip(['link', 'set', 'dev', dev, 'gro_max_size', '1514']).catch((err: Error) => {
    log(`gate: cannot limit GRO on ${dev} (Linux 5.19+): ${err.message}`)
  })
}
