import type {
  CustomerBlocked,
  CustomerDeleted,
  ErasureNotifier,
  SmsStats,
  SmsStatsSource,
  SyncStatus,
  SyncStatusSource,
} from '../../src/console/ports.js'

/** A sync panel source the test sets by hand. */
export class FakeSyncStatus implements SyncStatusSource {
  current: SyncStatus | null = null
  status() {
    return this.current
  }
}

/** Keeps every block and deletion it is told of. */
export class RecordingErasureNotifier implements ErasureNotifier {
  readonly events: CustomerBlocked[] = []
  readonly deleted: CustomerDeleted[] = []
  customerBlocked(e: CustomerBlocked) {
    this.events.push(e)
  }
  customerDeleted(e: CustomerDeleted) {
    this.deleted.push(e)
  }
}

/** SMS provider figures the test sets by hand. */
export class FakeSmsStats implements SmsStatsSource {
  current: SmsStats | null = null
  stats() {
    return this.current
  }
}
