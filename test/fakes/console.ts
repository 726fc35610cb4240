import type {
  CustomerErased,
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

/** Keeps every erasure it is told of. */
export class RecordingErasureNotifier implements ErasureNotifier {
  readonly events: CustomerErased[] = []
  customerErased(e: CustomerErased) {
    this.events.push(e)
  }
}

/** SMS provider figures the test sets by hand. */
export class FakeSmsStats implements SmsStatsSource {
  current: SmsStats | null = null
  stats() {
    return this.current
  }
}
