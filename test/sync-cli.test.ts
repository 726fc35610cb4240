import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { syncCommand } from '../src/cli/sync.js'
import { closeDb, openDb } from '../src/db/open.js'
import { seedEvents } from './fakes/outbox-seed.js'
import { WebhookReceiver } from './fakes/webhook-receiver.js'
import { tempDir } from './helpers.js'

const SECRET = 'whsec_' + Buffer.from('cli test secret, 32 bytes long!!').toString('base64')

let dir: ReturnType<typeof tempDir>
let receiver: WebhookReceiver
let printed: string[]
beforeEach(async () => {
  dir = tempDir()
  receiver = await new WebhookReceiver([SECRET]).start()
  printed = []
  vi.spyOn(console, 'log').mockImplementation((...a) => void printed.push(a.join(' ')))
  vi.spyOn(console, 'error').mockImplementation(() => {})
})
afterEach(async () => {
  vi.restoreAllMocks()
  await receiver.stop()
  dir.remove()
})

function configFile(sync: Record<string, unknown>): string {
  const file = path.join(dir.dir, 'branchgate.json')
  writeFileSync(file, JSON.stringify({ dataDir: dir.dir, sync }))
  return file
}

function seed(count: number) {
  const db = openDb(path.join(dir.dir, 'branchgate.db'))
  try {
    return seedEvents(db, { count, customers: 3 })
  } finally {
    closeDb(db)
  }
}

describe('branchgate sync', () => {
  it('sends now, shows what is parked in --status, and --retry-failed sends it after a fix', async () => {
    const file = configFile({ adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] } })
    const written = seed(10)
    receiver.poison.add(written[4]!.id)
    expect(await syncCommand(['--config', file], {})).toBe(0)
    expect(printed.at(-1)).toBe('sync done: 9 delivered, 1 parked, 0 to retry, 7 request(s)')

    printed = []
    expect(await syncCommand(['--status', '--config', file], {})).toBe(0)
    const status = printed.join('\n')
    expect(status).toMatch(/^CRM: +webhook$/m)
    expect(status).toMatch(/^pending: +0$/m)
    expect(status).toMatch(/^parked: +1 /m)
    expect(status).toMatch(/^last success: +20\d\d-/m)
    expect(status).toContain(`${written[4]!.id}  customer.verified  webhook answered 400`)
    expect(status).not.toContain(SECRET)

    printed = []
    expect(await syncCommand(['--status', '--json', '--config', file], {})).toBe(0)
    expect(JSON.parse(printed.join(''))).toMatchObject({
      crm: 'webhook',
      pending: 0,
      parked: 1,
      lastError: 'webhook answered 400',
    })

    receiver.poison.clear()
    printed = []
    expect(await syncCommand(['--retry-failed', '--config', file], {})).toBe(0)
    expect(printed).toEqual([
      '1 parked event(s) queued again',
      'sync done: 1 delivered, 0 parked, 0 to retry, 1 request(s)',
    ])
    expect(receiver.accepted).toHaveLength(10)
  })

  it('says events accumulate when no CRM is configured', async () => {
    const file = configFile({})
    seed(4)
    expect(await syncCommand(['--config', file], {})).toBe(0)
    expect(printed).toEqual([
      'no CRM configured (sync.adapter.type is "none"): 4 event(s) wait in the outbox',
    ])
    printed = []
    await syncCommand(['--status', '--config', file], {})
    expect(printed.join('\n')).toMatch(/^CRM: +none configured — events accumulate in the outbox$/m)
    expect(printed.join('\n')).toMatch(/^pending: +4 \(oldest /m)
  })

  it('exits 1 when the CRM fails, and 2 on an unknown option', async () => {
    const file = configFile({ adapter: { type: 'webhook', url: receiver.url, secrets: [SECRET] } })
    seed(2)
    receiver.mode = { kind: 'status', status: 503 }
    expect(await syncCommand(['--config', file], {})).toBe(1)
    expect(printed.at(-1)).toMatch(
      /^sync stopped: webhook answered 503\. 0 delivered before; next try 20/,
    )
    expect(await syncCommand(['--frobnicate', '--config', file], {})).toBe(2)
  })
})
