import { createHmac } from 'node:crypto'
import { maskPhone } from './customers/phone.js'

/**
 * The service's log. Every part of branchgate was handed `log(line)`; that stays (a Log is
 * callable), and parts that have something structured to say call `logEvent(log, name,
 * fields)`, which works with a Log and with a plain line function alike (tests), so call sites
 * move over one at a time.
 *
 * What reaches the log is never personal: a field named `mac` and anything shaped like a MAC
 * becomes `mac~` and 10 hex digits of an HMAC under the install's key (the same device reads the
 * same within a branch, and cannot be looked up from it); anything shaped like an E.164 number
 * is masked (`+52…78`). Names and codes are never passed in (a test reads the log of whole
 * flows for them).
 */

export type LogLevel = 'info' | 'warn' | 'error'
export type LogValue = string | number | boolean | null | undefined
export type LogFields = Record<string, LogValue>

export interface Log {
  /** A line of plain text (what every `log(line)` call site writes). */
  (line: string): void
  /** A named event with its fields. */
  event(name: string, fields?: LogFields, level?: LogLevel): void
}

export interface LogOptions {
  /** `text`: `<ISO time> <line>` (default); `json`: one JSON object per line. */
  format: 'text' | 'json'
  /** The branch id, in every JSON line. */
  branch: string
  /** Key of the MAC hashes (derived from the install secret). */
  key: Buffer
  /** Where lines go (default: standard error, which journald keeps). */
  write?: (line: string) => void
  /** The time of a line (default: now). */
  now?: () => number
}

const MAC_RE = /\b[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}\b/gi
const E164_RE = /\+\d{8,15}\b/g

/** `mac~` and 10 hex digits of HMAC-SHA256(key, canonical MAC). */
export function macTag(key: Buffer, mac: string): string {
  const canonical = mac.toLowerCase().replace(/-/g, ':')
  return `mac~${createHmac('sha256', key).update(canonical).digest('hex').slice(0, 10)}`
}

/** The text with every MAC hashed and every E.164 number masked. */
export function redact(text: string, key: Buffer, tag = (mac: string) => macTag(key, mac)): string {
  return text.replace(MAC_RE, tag).replace(E164_RE, (m) => maskPhone(m))
}

/** How many MACs' tags a log keeps (a branch's devices of a busy hour; ~100 bytes each). */
const TAGS_KEPT = 1024

/**
 * macTag with the last TAGS_KEPT answers kept: a login logs its device's MAC in several lines,
 * and each HMAC costs ~5 µs of the event loop warm, more under load (~0.05 ms a login in the
 * real path's profile).
 */
function keptTags(key: Buffer): (mac: string) => string {
  const kept = new Map<string, string>()
  return (mac) => {
    let tag = kept.get(mac)
    if (tag === undefined) {
      tag = macTag(key, mac)
      if (kept.size >= TAGS_KEPT) kept.delete(kept.keys().next().value!)
      kept.set(mac, tag)
    }
    return tag
  }
}

/** Level of a plain line: an ALERT is an error, a failure a warning. */
function levelOf(line: string): LogLevel {
  if (/\bALERT\b/.test(line)) return 'error'
  if (/\b(failed|cannot|error)\b/i.test(line)) return 'warn'
  return 'info'
}

const quoted = (v: string) => (/^[^\s"=]+$/.test(v) ? v : JSON.stringify(v))

/** `name k=v k="v w"`: an event as a plain line. */
export function eventLine(name: string, fields: LogFields = {}): string {
  const parts = [name]
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue
    parts.push(`${k}=${typeof v === 'string' ? quoted(v) : String(v)}`)
  }
  return parts.join(' ')
}

/** The service's log, in the configured format, with nothing personal in it. */
export function createLog(o: LogOptions): Log {
  const write = o.write ?? ((line: string) => process.stderr.write(`${line}\n`))
  const now = o.now ?? Date.now
  const tag = keptTags(o.key)
  const clean = (fields: LogFields): LogFields => {
    const out: LogFields = {}
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue
      out[k] =
        typeof v !== 'string'
          ? v
          : k === 'mac' || k.endsWith('Mac')
            ? tag(v)
            : redact(v, o.key, tag)
    }
    return out
  }
  const json = (event: string, level: LogLevel, fields: LogFields) =>
    write(
      JSON.stringify({
        time: new Date(now()).toISOString(),
        level,
        event,
        branch: o.branch,
        ...fields,
      }),
    )
  const log = ((line: string) => {
    const text = redact(line, o.key, tag)
    if (o.format === 'json') json('log', levelOf(line), { msg: text })
    else write(`${new Date(now()).toISOString()} ${text}`)
  }) as Log
  log.event = (name, fields = {}, level = 'info') => {
    const safe = clean(fields)
    if (o.format === 'json') json(name, level, safe)
    else write(`${new Date(now()).toISOString()} ${eventLine(name, safe)}`)
  }
  return log
}

/**
 * Writes an event to a Log, or as a plain `name k=v` line to a line function (what tests hand
 * in): the way call sites say something structured without every log changing type at once.
 */
export function logEvent(
  log: (line: string) => void,
  name: string,
  fields: LogFields = {},
  level: LogLevel = 'info',
): void {
  const structured = (log as Partial<Log>).event
  if (typeof structured === 'function') structured(name, fields, level)
  else log(eventLine(name, fields))
}

/** The key of a log's MAC hashes, from the install secret (apart from the secret's other uses). */
export function logKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('branchgate log mac key').digest()
}
