import { randomFillSync } from 'node:crypto'

// Random bytes drawn from the CSPRNG a few kilobytes at a time (as Node's randomUUID does): one
// call per id costs more than the rest of making it. Each byte is handed out once.
const pool = Buffer.alloc(4096)
let used = pool.length

function random16(): Buffer {
  if (used + 16 > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  const b = Buffer.from(pool.subarray(used, used + 16))
  pool.fill(0, used, used + 16)
  used += 16
  return b
}

/** A UUID version 7 (RFC 9562): time-ordered, so ids sort by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = random16()
  // 48-bit big-endian milliseconds (exact in a double).
  let ts = Math.max(0, Math.floor(nowMs))
  for (let i = 5; i >= 0; i--) {
    b[i] = ts % 256
    ts = Math.floor(ts / 256)
  }
  b[6] = (b[6]! & 0x0f) | 0x70
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** An unguessable opaque token (128 bits, base64url). */
export function opaqueId(): string {
  return random16().toString('base64url')
}
