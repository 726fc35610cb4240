// Loaded into the service by the soak (`node --import THIS dist/serve.js`): every 10 s, one line
// on stderr with the event loop's delay over those 10 s (p99 and max, ms), then it starts over,
// and the V8 heap in use (MB): whether RSS that grows is JavaScript objects or native memory.
import { monitorEventLoopDelay } from 'node:perf_hooks'

const h = monitorEventLoopDelay({ resolution: 10 })
h.enable()
setInterval(() => {
  process.stderr.write(
    `[loop-lag] p99=${(h.percentile(99) / 1e6).toFixed(1)} max=${(h.max / 1e6).toFixed(1)} heap=${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)}\n`,
  )
  h.reset()
}, 10_000).unref()
