/**
 * The phones of the bench's logins: the n-th login (n = 0, 1, 2, … over the whole run, however
 * many sections and rounds ask) gets its own valid mobile number and its own loopback address,
 * so its own MAC. The first generator put n in four digits and in one octet: past 9,999 logins
 * the national number grew to 11 digits (the portal answered 422), past 63,750 the address left
 * 127.0.0.0/16.
 */

/** Distinct numbers: 10^8 (every Mexico City number 55 XXXX XXXX); beyond, they repeat. */
export const DISTINCT_NUMBERS = 100_000_000

/**
 * A Mexico City mobile number, 10 national digits `55 PPPP SSSS`. The prefix PPPP (the number
 * without its last four digits is what the fraud rules count per hour) changes with every
 * login, as real numbers are spread; the last four digits count the rounds of 10,000.
 */
export function benchNational(n: number): string {
  const m = ((n % DISTINCT_NUMBERS) + DISTINCT_NUMBERS) % DISTINCT_NUMBERS
  const prefix = m % 10_000
  const suffix = Math.floor(m / 10_000)
  return `55${String(prefix).padStart(4, '0')}${String(suffix).padStart(4, '0')}`
}

/** Distinct addresses: 250 × 250 × 256 in 127.0.0.0/8 (16 million); beyond, they repeat. */
export const DISTINCT_ADDRESSES = 250 * 250 * 256

/**
 * A loopback address 127.W.X.Y with X in 1–250 and Y in 2–251 (never .0, .1 or .255; 127.0.0.1
 * is the server's own), W counting the rounds of 62,500.
 */
export function benchAddress(n: number): string {
  const m = ((n % DISTINCT_ADDRESSES) + DISTINCT_ADDRESSES) % DISTINCT_ADDRESSES
  const y = 2 + (m % 250)
  const x = 1 + (Math.floor(m / 250) % 250)
  const w = Math.floor(m / 62_500)
  return `127.${w}.${x}.${y}`
}

/** The MAC the bench's neighbour table gives a loopback address: 127.W.X.Y -> 02:00:00:WW:XX:YY. */
export function benchMac(ip: string): string {
  const [, w = 0, x = 0, y = 0] = ip.split('.').map(Number)
  const hex = (v: number) => v.toString(16).padStart(2, '0')
  return `02:00:00:${hex(w)}:${hex(x)}:${hex(y)}`
}
