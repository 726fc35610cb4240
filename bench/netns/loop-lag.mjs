// Loaded into the service by the soak (`node --import THIS dist/serve.js`): every 10 s, one line
// on stderr with the event loop's delay over those 10 s (p99 and max, ms), then it starts over.
import { monitorEventLoopDelay } from 'node:perf_hooks'

const h = monitorEventLoopDelay({ resolution: 10 })
h.enable()
setInterval(() => {
  process.stderr.write(
    `[loop-lag] p99=${(h.percentile(99) / 1e6).toFixed(1)} max=${(h.max / 1e6).toFixed(1)}\n`,
  )
  h.reset()
}, 10_000).unref()
