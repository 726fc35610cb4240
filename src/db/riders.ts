import type { Db } from './open.js'

/**
 * Small writes that may wait for the next commit of their connection instead of making one of
 * their own (issue 20: each commit costs a login lock calls and two writes per page). A rider is
 * a function that writes what it has waiting and does nothing when it has nothing; it must also
 * be scheduled on its own (a timer), in case no commit comes. `board()` runs inside a write
 * transaction: each rider writes there, in a savepoint of its own.
 */
export interface Riders {
  /** Waits for the next boarding; the same function added twice waits once. */
  add(rider: () => void): void
  /** Inside a transaction: every waiting rider writes now, in it. */
  board(): void
}

const byDb = new WeakMap<Db, Riders>()

/** The riders of a connection (one set per Db). */
export function ridersOf(db: Db): Riders {
  let riders = byDb.get(db)
  if (!riders) {
    const waiting = new Set<() => void>()
    riders = {
      add: (rider) => {
        waiting.add(rider)
      },
      board: () => {
        if (waiting.size === 0) return
        const now = [...waiting]
        waiting.clear()
        for (const rider of now) rider()
      },
    }
    byDb.set(db, riders)
  }
  return riders
}
