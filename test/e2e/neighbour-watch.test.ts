import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { e2eSkipReason, ROOT, run } from './netns.js'

const skip = e2eSkipReason()
if (skip) console.warn(`skipping the neighbour watch test: ${skip}`)

/**
 * The portal's MAC lookup against a real kernel: the watch runs in a namespace of its own, on
 * each of its feeds (the service's netlink socket, and ip), while `ip neigh` adds, moves and
 * deletes entries there.
 */
describe.skipIf(skip !== null)('the neighbour watch, against the kernel', () => {
  it.each(['netlink', 'ip'])(
    'follows added, moved and deleted entries without asking the kernel per request (%s)',
    async (feed) => {
      const ns = `bgnw-${randomBytes(3).toString('hex')}`
      await run('ip', ['netns', 'add', ns])
      try {
        const r = await run('ip', [
          'netns',
          'exec',
          ns,
          process.execPath,
          '--import',
          'tsx',
          `${ROOT}/test/e2e/neighbour-watch-probe.ts`,
          feed,
        ])
        expect(r.stderr).toBe('')
        expect(JSON.parse(r.stdout.trim())).toEqual({
          before: '02:77:00:00:00:10',
          v6: ['02:77:00:00:06:00', '02:77:00:00:06:01', '02:77:00:00:06:02'],
          directAfterStart: 0,
          added: '02:77:00:00:00:11',
          directAfterAdd: 0,
          moved: '02:77:00:00:00:12',
          deleted: null,
          directAfterDelete: 1,
          burst: 600,
          directAfterBurst: 0,
          sameAsIp: true,
          closedDirect: '02:77:00:00:00:13',
        })
      } finally {
        await run('ip', ['netns', 'del', ns])
      }
    },
  )
})
