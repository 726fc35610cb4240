import { createRequire } from 'node:module'

/**
 * koffi, a maintained FFI for Node.js with prebuilt binaries: how the service calls netfilter's
 * libraries (src/gate/nft-library.ts), libmnl's sockets (src/gate/netlink.ts) and libc's mmap
 * (the WAL index header, src/db/access.ts) in its own process.
 */
export interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown }
  /** The calling thread's errno after the last foreign call. */
  errno(): number
}

/** koffi's reading of foreign memory (src/db/access.ts). */
export interface KoffiMemory {
  /** A pointer's address. */
  address(pointer: unknown): bigint
  /** `length` bytes of memory at a pointer, without a copy. */
  view(pointer: unknown, length: number): ArrayBuffer
}

let koffi: (Koffi & KoffiMemory) | string | null = null

/** koffi, or why it cannot be loaded (said once, kept). */
export function loadKoffi(): (Koffi & KoffiMemory) | string {
  if (koffi !== null) return koffi
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi & KoffiMemory
  } catch (err) {
    koffi = `koffi cannot be loaded: ${(err as Error).message.split('\n')[0]}`
  }
  return koffi
}
