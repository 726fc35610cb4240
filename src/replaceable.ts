/**
 * A door for live reload: `value` stands for the current implementation, so whoever was handed
 * it (the portal's routes, the sync job) uses the new one after `replace`, while a call already
 * running finishes on the one it started with. Their state lives in the database, not in the
 * object, so nothing in flight is lost.
 */
export interface Replaceable<T extends object> {
  /** Forwards every property read to the current implementation (methods bound to it). */
  readonly value: T
  readonly current: T
  replace(next: T): void
}

export function replaceable<T extends object>(initial: T): Replaceable<T> {
  let current = initial
  // A Proxy rather than a hand-written wrapper per interface: the login alone has eight methods,
  // and a wrapper that forgot one would call the old configuration forever.
  const value = new Proxy({} as T, {
    get(_, key) {
      const v = Reflect.get(current, key, current)
      return typeof v === 'function' ? v.bind(current) : v
    },
    has: (_, key) => Reflect.has(current, key),
  })
  return {
    value,
    get current() {
      return current
    },
    replace(next) {
      current = next
    },
  }
}
