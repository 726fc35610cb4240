import { parseArgs } from 'node:util'
import { UsageError } from '../errors.js'

/** The options a command takes (besides `--config FILE`, which every command takes). */
export type OptionSpec = Record<string, { type: 'string' | 'boolean' }>

type Values<S extends OptionSpec> = {
  [K in keyof S]?: S[K]['type'] extends 'string' ? string : boolean
} & { config?: string }

/**
 * Reads a command's options with node:util's parseArgs, in its lenient mode so that every
 * mistake gets our own sentence: an unknown option, one given twice, a missing value (`--minutes`
 * at the end, or followed by another option), a value given to a flag, more arguments than the
 * command takes. Each is a UsageError naming the option and the usage line.
 */
export function readOptions<S extends OptionSpec>(
  command: string,
  usage: string,
  argv: readonly string[],
  spec: S,
  maxArgs = 0,
): { values: Values<S>; args: string[] } {
  const options: OptionSpec = { ...spec, config: { type: 'string' } }
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  const refuse = (what: string) => new UsageError(command, `${what} (usage: ${usage})`)
  const seen = new Set<string>()
  for (const t of tokens) {
    if (t.kind === 'option-terminator') throw refuse('unknown option --')
    if (t.kind !== 'option') continue
    const o = options[t.name]
    if (!o) throw refuse(`unknown option ${t.rawName}`)
    if (seen.has(t.name)) throw refuse(`${t.rawName} is given twice`)
    seen.add(t.name)
    if (o.type === 'boolean' && t.value !== undefined)
      throw refuse(`${t.rawName} takes no value, got ${JSON.stringify(t.value)}`)
    if (
      o.type === 'string' &&
      (t.value === undefined || (!t.inlineValue && t.value.startsWith('--')))
    )
      throw refuse(`${t.rawName} needs a value`)
    if (o.type === 'string' && t.value === '') throw refuse(`${t.rawName} needs a value`)
  }
  if (positionals.length > maxArgs) {
    const extra = positionals.slice(maxArgs).map((a) => JSON.stringify(a))
    throw refuse(
      maxArgs === 0
        ? `takes no arguments, got ${extra.join(' ')}`
        : `takes at most ${maxArgs} argument(s), got also ${extra.join(' ')}`,
    )
  }
  return { values: values as Values<S>, args: positionals }
}

/**
 * A whole number from `min` to `max` given as option `flag`, e.g. `--minutes 90`; anything
 * else (negative, fractional, "1e3", "lots") is a UsageError.
 */
export function wholeNumber(
  command: string,
  flag: string,
  value: string,
  min: number,
  max: number,
  unit: string,
): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN
  if (!(n >= min && n <= max)) {
    throw new UsageError(
      command,
      `${flag} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(value)}`,
    )
  }
  return n
}
