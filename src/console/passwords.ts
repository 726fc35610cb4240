import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** scrypt's cost parameters: N (a power of two), r and p. */
export interface ScryptCost {
  N: number
  r: number
  p: number
}

/** What the service uses: N = 2^15, r = 8, p = 1 (≈ 32 MiB, ≈ 50–100 ms on a mini-PC). */
export const PRODUCTION_SCRYPT_COST: ScryptCost = Object.freeze({ N: 32768, r: 8, p: 1 })

const KEY_BYTES = 32
const MAXMEM = 128 * PRODUCTION_SCRYPT_COST.N * PRODUCTION_SCRYPT_COST.r * 2

/** Shortest password accepted for a console account. */
export const MIN_PASSWORD_LENGTH = 10

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_BYTES,
      { N: n, r, p, maxmem: Math.max(MAXMEM, 128 * n * r * 2) },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  )
}

/**
 * Hashes a password with scrypt and a fresh 16-byte salt: `scrypt$N$r$p$salt$hash`. The cost
 * travels in the hash, so a hash made at one cost is verified at that cost.
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = PRODUCTION_SCRYPT_COST,
): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, cost.N, cost.r, cost.p)
  return [
    'scrypt',
    cost.N,
    cost.r,
    cost.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$')
}

/** True when `password` matches `stored`; constant time in the comparison. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (!Number.isInteger(n) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length === 0)
    return false
  const key = await derive(password, salt, n, r, p)
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** Why a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, userName: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `must have at least ${MIN_PASSWORD_LENGTH} characters`
  if (password.length > 200) return 'must have at most 200 characters'
  if (password.toLowerCase().includes(userName.toLowerCase()))
    return 'must not contain the user name'
  return null
}

/** A random password people can type: 4 groups of 4 letters/digits without look-alikes. */
export function randomPassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789'
  const bytes = randomBytes(16)
  let out = ''
  for (let i = 0; i < 16; i++) {
    out += alphabet[bytes[i]! % alphabet.length]
    if (i % 4 === 3 && i < 15) out += '-'
  }
  return out
}

/**
 * A hash of a random password at `cost`, verified against when the user does not exist, so an
 * unknown name takes as long as a known one.
 */
export function dummyHash(cost: ScryptCost): () => Promise<string> {
  let cached: Promise<string> | null = null
  return () => (cached ??= hashPassword(randomBytes(12).toString('hex'), cost))
}
