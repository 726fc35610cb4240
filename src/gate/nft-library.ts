import { closeSync, openSync } from 'node:fs'
import { createRequire } from 'node:module'

/**
 * libnftables, netfilter's own library (the `nft` program is a thin shell around it), called in
 * the service's own process through koffi, a maintained FFI for Node.js with prebuilt binaries
 * (issue 20: every login's change). The session programs (libexec/nft-session.py, `nft -i`)
 * cost two processes woken per change on a two-core box, and their tail (p99 1.4–3.7 ms in the
 * bench's full runs) was that waking, not nft's work: the library's own add takes ~0.15 ms.
 * A change runs synchronously on the event loop, as a SQLite commit does.
 */
export interface NftLibrary {
  /** Runs one command as its own transaction: null when nft took it, else nft's errors. */
  run(command: string): string | null
  close(): void
}

/**
 * Opens libnftables; a string says why it cannot be used. `netns` names a network namespace
 * (`ip netns add`) whose firewall it changes: the library's netlink socket is opened inside it
 * (the bench and the tests against the kernel, which never touch the host's firewall), null for
 * the process's own.
 */
export type NftLibraryOpener = (o: { netns: string | null }) => NftLibrary | string

const CLONE_NEWNET = 0x40000000

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown }
}

let koffi: Koffi | string | null = null
function loadKoffi(): Koffi | string {
  if (koffi !== null) return koffi
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi
  } catch (err) {
    koffi = `koffi cannot be loaded: ${(err as Error).message.split('\n')[0]}`
  }
  return koffi
}

/**
 * Runs `open` with the calling thread in network namespace `netns`, and puts it back. Only the
 * main thread moves, and only for the synchronous call: nothing else runs on it meanwhile.
 */
function inNamespace<T>(k: Koffi, netns: string, open: () => T): T | string {
  const setns = k.load('libc.so.6').func('int setns(int fd, int nstype)') as (
    fd: number,
    type: number,
  ) => number
  const opened = (file: string): number | string => {
    try {
      return openSync(file, 'r')
    } catch (err) {
      return `cannot enter network namespace ${netns}: ${(err as Error).message}`
    }
  }
  const own = opened('/proc/thread-self/ns/net')
  if (typeof own === 'string') return own
  const target = opened(`/run/netns/${netns}`)
  if (typeof target === 'string') {
    closeSync(own)
    return target
  }
  try {
    if (setns(target, CLONE_NEWNET) !== 0) return `cannot enter network namespace ${netns}`
    try {
      return open()
    } finally {
      // Failing to come back would leave the process's main thread in the wrong namespace.
      if (setns(own, CLONE_NEWNET) !== 0) throw new Error('cannot leave network namespace')
    }
  } finally {
    closeSync(own)
    closeSync(target)
  }
}

export const openNftLibrary: NftLibraryOpener = ({ netns }) => {
  const k = loadKoffi()
  if (typeof k === 'string') return k
  let lib: ReturnType<Koffi['load']>
  try {
    lib = k.load('libnftables.so.1')
  } catch (err) {
    return `libnftables.so.1 cannot be loaded: ${(err as Error).message.split('\n')[0]}`
  }
  type Ptr = unknown
  const ctxNew = lib.func('void *nft_ctx_new(uint32_t flags)') as (flags: number) => Ptr
  const bufferOutput = lib.func('int nft_ctx_buffer_output(void *ctx)') as (ctx: Ptr) => number
  const bufferError = lib.func('int nft_ctx_buffer_error(void *ctx)') as (ctx: Ptr) => number
  const output = lib.func('const char *nft_ctx_get_output_buffer(void *ctx)') as (
    ctx: Ptr,
  ) => string | null
  const errors = lib.func('const char *nft_ctx_get_error_buffer(void *ctx)') as (
    ctx: Ptr,
  ) => string | null
  const runCmd = lib.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)') as (
    ctx: Ptr,
    command: string,
  ) => number
  const ctxFree = lib.func('void nft_ctx_free(void *ctx)') as (ctx: Ptr) => void

  // NFT_CTX_DEFAULT. The context opens its netlink socket here, in the namespace it is made in.
  const made = netns === null ? ctxNew(0) : inNamespace(k, netns, () => ctxNew(0))
  if (typeof made === 'string') return made
  if (!made) return 'nft_ctx_new failed'
  const ctx = made
  // Both into memory, never onto the service's own standard output and error.
  if (bufferOutput(ctx) !== 0 || bufferError(ctx) !== 0) {
    ctxFree(ctx)
    return 'nft_ctx_buffer_output failed'
  }
  let open = true
  return {
    run(command) {
      if (!open) return 'libnftables: the context is closed'
      const rc = runCmd(ctx, command)
      // Reading a buffer empties it: a `list` command's output must not pile up.
      output(ctx)
      const said = errors(ctx) ?? ''
      return rc === 0 ? null : said.trim() || `nft refused: ${command}`
    },
    close() {
      if (!open) return
      open = false
      ctxFree(ctx)
    },
  }
}
