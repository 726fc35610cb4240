import { randomBytes } from 'node:crypto'

/** A UUID version 7 (RFC 9562): time-ordered, so ids sort by creation time. */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16)
  const ts = BigInt(Math.max(0, Math.floor(nowMs)))
  for (let i = 0; i < 6; i++) b[i] = Number((ts >> BigInt(8 * (5 - i))) & 0xffn)
  b[6] = (b[6]! & 0x0f) | 0x70
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** An unguessable opaque token (128 bits, base64url). */
export function opaqueId(): string {
  return randomBytes(16).toString('base64url')
}
