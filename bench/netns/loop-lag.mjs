// Loaded into the service by the soak (`node --import THIS dist/serve.js`): every 10 s, one line
// on stderr with the event loop's delay over those 10 s (p99 and max, ms, beyond the sampling
// interval), then it starts over; the V8 heap in use (MB), and the heap in use right after the
// last full (mark-compact) GC: the first climbs with garbage between collections, the second
// only with what stays alive, so it tells state that keeps growing from garbage not yet
// collected. RSS beside them tells JavaScript objects from native memory.
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks'

// The histogram holds the whole interval between two samples (an idle loop reads p50 10.2 ms,
// p99 12.4 ms at this resolution), so the delay is what is above the resolution: printed so.
const RESOLUTION_MS = 10
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
const late = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS).toFixed(1)
h.enable()
let live = NaN
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      live = process.memoryUsage().heapUsed / 2 ** 20
}).observe({ entryTypes: ['gc'] })
setInterval(() => {
  process.stderr.write(
    `[loop-lag] p99=${late(h.percentile(99))} max=${late(h.max)} heap=${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} live=${live.toFixed(1)}\n`,
  )
  h.reset()
}, 10_000).unref()
