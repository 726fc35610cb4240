/**
 * The console's worker thread (see worker.ts): its own connection to the database file, kept
 * read-only, answering one message per request. Loaded by threadConsoleWorker only.
 */
import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'
import { packSends, workOn, type FromThread, type ToThread, type WorkRules } from './worker.js'

const data = workerData as { file: string; rules: WorkRules }
const port = parentPort!
const db = new Database(data.file, { fileMustExist: true })
db.pragma('busy_timeout = 5000')
// Reads only: the portal's connection is the one writer.
db.pragma('query_only = ON')
const work = workOn(db, data.rules)
const streams = new Map<number, ReadableStreamDefaultReader<Uint8Array>>()
let nextStream = 1

const answer = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer)

port.on('message', async (m: ToThread) => {
  try {
    switch (m.op) {
      case 'csv.open': {
        const id = nextStream++
        streams.set(id, work.visitsCsv(...m.args).getReader())
        return answer({ id: m.id, ok: true, value: id })
      }
      case 'csv.next': {
        const reader = streams.get(m.stream)
        if (!reader) throw new Error(`no CSV stream ${m.stream}`)
        const { done, value } = await reader.read()
        if (done) streams.delete(m.stream)
        const chunk = done ? null : value
        return answer(
          { id: m.id, ok: true, value: chunk },
          chunk ? [chunk.buffer as ArrayBuffer] : [],
        )
      }
      case 'csv.close': {
        await streams.get(m.stream)?.cancel()
        streams.delete(m.stream)
        return answer({ id: m.id, ok: true, value: null })
      }
      case 'checkCampaignCsv': {
        const checked = await work.checkCampaignCsv(...m.args)
        if (!checked.ok) return answer({ id: m.id, ok: true, value: checked })
        const packed = packSends(checked.rows)
        return answer({ id: m.id, ok: true, value: { ok: true, packed } }, [
          packed.campaignIndex.buffer as ArrayBuffer,
          packed.sentAt.buffer as ArrayBuffer,
        ])
      }
      default: {
        const fn = work[m.op] as (...args: unknown[]) => unknown
        return answer({ id: m.id, ok: true, value: await fn(...m.args) })
      }
    }
  } catch (err) {
    answer({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) })
  }
})

port.postMessage({ ready: true } satisfies FromThread)
