import type { Config } from './config.js'

/**
 * What `systemctl reload branchgate` (SIGHUP) may change without a restart: the walled garden,
 * staff devices, the SMS providers, templates and fraud limits, and the CRM target with its
 * runner's knobs. Everything else (listeners, data folder, firewall backend and ports, the
 * branch, codes and sessions, the sync schedule, …) is read at start: a change is logged as
 * needing a restart, and the running value stays until then.
 */
export const LIVE_KEYS = [
  'gate.walledGarden',
  'staffMacs',
  'sms',
  'sync.adapter',
  'sync.timeoutMs',
  'sync.batchMaxEvents',
  'sync.batchMaxBytes',
  'sync.backoffBaseMs',
  'sync.backoffCapMs',
] as const

/** What a new config changes, and the config to run with (the old one plus the live changes). */
export interface ReloadPlan {
  /** Changed keys applied now, e.g. `sms.templates.es`, `staffMacs`. */
  live: string[]
  /** Changed keys that only a restart applies, e.g. `listen.portal.port`. */
  restart: string[]
  /** The running config with the live keys taken from the new one. */
  next: Config
}

const isLive = (key: string) => LIVE_KEYS.some((k) => key === k || key.startsWith(`${k}.`))

/** Compares two configs key by key (arrays as one value) and splits the changes. */
export function planReload(running: Config, wanted: Config): ReloadPlan {
  const changed = changedKeys(running, wanted)
  const next = structuredClone(running) as Record<string, any>
  for (const key of LIVE_KEYS) {
    const value = getAt(wanted, key)
    // A key the running config cannot hold (the walled garden of a dry-run gate) waits for the
    // restart its backend change needs anyway.
    if (value !== undefined && getAt(running, key) !== undefined) setAt(next, key, value)
  }
  const applied = (k: string) => isLive(k) && getAt(next, k) !== undefined
  return {
    live: changed.filter(applied),
    restart: changed.filter((k) => !applied(k)),
    next: next as Config,
  }
}

/** Leaf keys whose values differ (`a.b.c`); an array, or a value against an object, is a leaf. */
export function changedKeys(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)])
    return [...keys]
      .sort()
      .flatMap((k) => changedKeys((a as any)[k], (b as any)[k], at ? `${at}.${k}` : k))
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at || '(top level)']
}

function getAt(obj: unknown, key: string): unknown {
  return key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), obj)
}

function setAt(obj: Record<string, any>, key: string, value: unknown): void {
  const parts = key.split('.')
  let o = obj
  for (const p of parts.slice(0, -1)) o = o[p] ??= {}
  o[parts.at(-1)!] = structuredClone(value)
}
