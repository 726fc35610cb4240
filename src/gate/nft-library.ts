import { endianness } from 'node:os'
import { loadKoffi, type Koffi } from '../ffi.js'
import {
  parseElementCommand,
  parseElementDump,
  type DumpedElement,
  type ElementOp,
} from './nft-elements.js'
import {
  inNamespace,
  NETLINK_NETFILTER,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  openNetlinkSocket,
  parseAcks,
} from './netlink.js'

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
  /** Why element changes do not go straight to the kernel (see openElementPath), or null. */
  elementsVia?: string | null
  /** How many commands went straight to the kernel as element changes. */
  direct?: () => number
  /**
   * A set's or map's elements read straight from the kernel (a netlink dump, as `nft list set`
   * asks), or why not: the gate then asks nft. NFPROTO family, table and set names.
   */
  elements?(family: number, table: string, set: string): DumpedElement[] | string
  close(): void
}

/**
 * How the service and doctor name the in-process way: libnftables, and whether a login's element
 * changes go straight to the kernel (`elementsVia` null) or why not (undefined: not known).
 */
export function inProcessWay(elementsVia: string | null | undefined): string {
  return (
    "libnftables (in the service's process)" +
    (elementsVia === null
      ? "; a login's element changes straight to the kernel (libnftnl)"
      : elementsVia
        ? `; element changes through it too: ${elementsVia}`
        : '')
  )
}

/**
 * Opens libnftables; a string says why it cannot be used. `netns` names a network namespace
 * (`ip netns add`) whose firewall it changes: the library's netlink socket is opened inside it
 * (the bench and the tests against the kernel, which never touch the host's firewall), null for
 * the process's own.
 */
export type NftLibraryOpener = (o: { netns: string | null }) => NftLibrary | string

/**
 * Whether a refused element dump (NftLibrary.elements) only found no such table or set (ENOENT:
 * no service running): nft says so in its own words, and doctor's nft check already does.
 */
export const setIsMissing = (why: string): boolean => why.endsWith('(errno 2)')

/** What reads a set's elements straight from the kernel (NftLibrary.elements, alone). */
export type ElementReader = Required<Pick<NftLibrary, 'elements' | 'close'>>

/**
 * A reader of sets and maps without libnftables: only the netlink socket and libnftnl. For a
 * command that reads the gate's set and changes nothing (`branchgate status`), or a sweep made
 * before any change chose the library. A string says why it cannot be opened.
 */
export function openElementReader(o: { netns: string | null }): ElementReader | string {
  const k = loadKoffi()
  if (typeof k === 'string') return k
  const path =
    o.netns === null ? openElementPath(k) : inNamespace(k, o.netns, () => openElementPath(k))
  if (typeof path === 'string') return path
  return {
    elements: (family, table, set) => path.dump(family, table, set),
    close: () => path.close(),
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

  // NFT_CTX_DEFAULT. The context opens its netlink socket here, in the namespace it is made in,
  // and so does the element path.
  const both = () => ({ ctx: ctxNew(0), elements: openElementPath(k) })
  const made = netns === null ? both() : inNamespace(k, netns, both)
  if (typeof made === 'string') return made
  if (!made.ctx) {
    if (typeof made.elements !== 'string') made.elements.close()
    return 'nft_ctx_new failed'
  }
  const ctx = made.ctx
  const elements = typeof made.elements === 'string' ? null : made.elements
  // Both into memory, never onto the service's own standard output and error.
  if (bufferOutput(ctx) !== 0 || bufferError(ctx) !== 0) {
    ctxFree(ctx)
    elements?.close()
    return 'nft_ctx_buffer_output failed'
  }
  let open = true
  let direct = 0
  return {
    direct: () => direct,
    elements(family, table, set) {
      if (!open) return 'libnftables: the context is closed'
      return elements ? elements.dump(family, table, set) : (made.elements as string)
    },
    elementsVia: typeof made.elements === 'string' ? made.elements : null,
    run(command) {
      if (!open) return 'libnftables: the context is closed'
      // A login's element changes straight to the kernel. Refused (the batch is all or nothing,
      // so nothing changed), the same line goes through libnftables, which says why in nft's
      // own words, or takes it.
      const ops = elements ? parseElementCommand(command) : null
      if (ops && elements!.send(ops)) {
        direct++
        return null
      }
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
      elements?.close()
    },
  }
}

/** Element changes sent to the kernel as netlink messages (see src/gate/nft-elements.ts). */
interface ElementPath {
  /** true when the kernel took the whole batch; false when it refused it or did not answer. */
  send(ops: ElementOp[]): boolean
  /** A set's elements, or why they could not be read (a missing set: the kernel's errno). */
  dump(family: number, table: string, set: string): DumpedElement[] | string
  close(): void
}

const NFT_MSG_NEWSETELEM = 12
const NFT_MSG_DELSETELEM = 14
const NFT_MSG_GETSETELEM = 13
const LITTLE_ENDIAN = endianness() === 'LE'
// libnftnl's attribute numbers (libnftnl/set.h): a set's table and name; an element's key,
// data and timeout.
const NFTNL_SET_TABLE = 0
const NFTNL_SET_NAME = 1
const NFTNL_SET_ELEM_KEY = 1
const NFTNL_SET_ELEM_DATA = 4
const NFTNL_SET_ELEM_TIMEOUT = 5

/**
 * libnftnl builds the messages (netfilter's own library under nft, as libnftables is) and libmnl
 * owns the socket, opened in the calling thread's namespace. The kernel runs a batch while the
 * send is in progress, so its answers are waiting when `sendto` returns: they are read without
 * blocking, and a batch with an answer missing counts as refused (libnftables then runs it).
 */
function openElementPath(k: Koffi): ElementPath | string {
  let nftnl: ReturnType<Koffi['load']>
  try {
    nftnl = k.load('libnftnl.so.11')
  } catch (err) {
    return `libnftnl cannot be loaded: ${(err as Error).message.split('\n')[0]}`
  }
  type Ptr = unknown
  type Fn = (...args: never[]) => unknown
  const fn = <F extends Fn>(lib: ReturnType<Koffi['load']>, sig: string) =>
    lib.func(sig) as unknown as F
  const setAlloc = fn<() => Ptr>(nftnl, 'void *nftnl_set_alloc()')
  const setFree = fn<(s: Ptr) => void>(nftnl, 'void nftnl_set_free(void *s)')
  const setStr = fn<(s: Ptr, attr: number, v: string) => number>(
    nftnl,
    'int nftnl_set_set_str(void *s, uint16_t attr, const char *v)',
  )
  const elemAlloc = fn<() => Ptr>(nftnl, 'void *nftnl_set_elem_alloc()')
  const elemSet = fn<(e: Ptr, attr: number, v: Buffer, len: number) => number>(
    nftnl,
    'int nftnl_set_elem_set(void *e, uint16_t attr, const void *v, uint32_t len)',
  )
  const elemSetU64 = fn<(e: Ptr, attr: number, v: number) => void>(
    nftnl,
    'void nftnl_set_elem_set_u64(void *e, uint16_t attr, uint64_t v)',
  )
  const elemAdd = fn<(s: Ptr, e: Ptr) => void>(nftnl, 'void nftnl_set_elem_add(void *s, void *e)')
  const batchBegin = fn<(buf: Buffer, seq: number) => Ptr>(
    nftnl,
    'void *nftnl_batch_begin(void *buf, uint32_t seq)',
  )
  const batchEnd = fn<(buf: Buffer, seq: number) => Ptr>(
    nftnl,
    'void *nftnl_batch_end(void *buf, uint32_t seq)',
  )
  const buildHdr = fn<
    (buf: Buffer, type: number, family: number, flags: number, seq: number) => Ptr
  >(
    nftnl,
    'void *nftnl_nlmsg_build_hdr(void *buf, uint16_t type, uint16_t family, uint16_t flags, uint32_t seq)',
  )
  const payload = fn<(nlh: Buffer, s: Ptr) => void>(
    nftnl,
    'void nftnl_set_elems_nlmsg_build_payload(void *nlh, void *s)',
  )
  const socket = openNetlinkSocket(k, NETLINK_NETFILTER)
  if (typeof socket === 'string') return socket
  const out = Buffer.alloc(8192)
  const answers = Buffer.alloc(8192)
  // A dump's answers come in messages of up to 32 KB (the kernel sizes them to the reader's
  // buffer): made on the first dump, kept for the next.
  let dumped: Buffer | null = null
  // libnftnl copies an attribute's bytes: one buffer each serves every element.
  const key = Buffer.alloc(6)
  const data = Buffer.alloc(4)
  const drain = () => socket.drain(answers)
  let seq = 1
  let open = true
  return {
    send(ops) {
      if (!open) return false
      let off = 0
      const next = () => (off += (out.readUInt32LE(off) + 3) & ~3)
      batchBegin(out.subarray(off), seq++)
      next()
      const waiting = new Set<number>()
      for (const op of ops) {
        const s = setAlloc()
        try {
          setStr(s, NFTNL_SET_TABLE, op.table)
          setStr(s, NFTNL_SET_NAME, op.set)
          const e = elemAlloc()
          key.write(op.key, 'hex')
          elemSet(e, NFTNL_SET_ELEM_KEY, key, 6)
          if (op.timeoutMs !== undefined) elemSetU64(e, NFTNL_SET_ELEM_TIMEOUT, op.timeoutMs)
          if (op.classid !== undefined) {
            // In host order, as nft sends a classid.
            if (LITTLE_ENDIAN) data.writeUInt32LE(op.classid)
            else data.writeUInt32BE(op.classid)
            elemSet(e, NFTNL_SET_ELEM_DATA, data, 4)
          }
          elemAdd(s, e)
          const type = op.verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM
          const flags = NLM_F_ACK | (op.verb === 'add' ? NLM_F_CREATE : 0)
          waiting.add(seq)
          buildHdr(out.subarray(off), type, op.family, flags, seq++)
          payload(out.subarray(off), s)
          next()
        } finally {
          setFree(s)
        }
      }
      batchEnd(out.subarray(off), seq++)
      next()
      seq &= 0x7fffffff
      if (!socket.send(out, off)) return false
      let refused = false
      while (waiting.size > 0) {
        const n = socket.recv(answers)
        if (n <= 0) return false
        for (const a of parseAcks(answers, n)) {
          if (!waiting.delete(a.seq)) continue
          if (a.error !== 0) refused = true
        }
        if (refused) {
          drain()
          return false
        }
      }
      return true
    },
    dump(family, table, set) {
      if (!open) return 'the netlink socket is closed'
      drain()
      dumped ??= Buffer.alloc(64 * 1024)
      // The kernel marks a dump that a change cut across (another program's, or a timeout's
      // removal): read again, a few times at most.
      for (let tries = 0; tries < 3; tries++) {
        const s = setAlloc()
        let off = 0
        const request = seq++
        seq &= 0x7fffffff
        try {
          setStr(s, NFTNL_SET_TABLE, table)
          setStr(s, NFTNL_SET_NAME, set)
          buildHdr(out, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, request)
          payload(out, s)
          off = out.readUInt32LE(0)
        } finally {
          setFree(s)
        }
        if (!socket.send(out, off)) return 'the element dump could not be sent'
        const into: DumpedElement[] = []
        for (;;) {
          // Each read makes the kernel write the dump's next message: it is there at once.
          const n = socket.recv(dumped)
          if (n <= 0) {
            drain()
            return 'the element dump stopped without its end'
          }
          const step = parseElementDump(dumped, n, request, into)
          if (!step.done) continue
          if (step.error !== 0) return `the kernel refused the element dump (errno ${-step.error})`
          if (!step.interrupted) return into
          break
        }
      }
      return 'the set kept changing while it was read'
    },
    close() {
      if (!open) return
      open = false
      socket.close()
    },
  }
}
