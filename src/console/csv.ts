/** CSV as RFC 4180 describes it: CRLF line ends, fields quoted when they hold ", the delimiter, CR or LF. */

export const UTF8_BOM = '\uFEFF'

export type CsvDelimiter = ',' | ';'

/** One field, quoted only when needed; embedded quotes doubled. */
export function csvField(
  value: string | number | null | undefined,
  delimiter: CsvDelimiter = ',',
): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  if (
    text.includes('"') ||
    text.includes(delimiter) ||
    text.includes('\n') ||
    text.includes('\r')
  ) {
    return `"${text.replace(/"/g, '""')}"`
  }
  return text
}

/** One record, CRLF-terminated. */
export function csvLine(
  fields: ReadonlyArray<string | number | null | undefined>,
  delimiter: CsvDelimiter = ',',
): string {
  return fields.map((f) => csvField(f, delimiter)).join(delimiter) + '\r\n'
}

/**
 * Free text typed by people (names) may start with =, +, - or @, which spreadsheets run as a
 * formula; such values get a leading apostrophe (OWASP "CSV injection").
 */
export function spreadsheetSafe(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
}

/**
 * A mobile number as spreadsheets keep it: `="+525523456701"`. Written bare, Excel and
 * LibreOffice read +525523456701 as the number 525523456701 (shown 5.25523E+11) and the `+` is
 * lost; a leading apostrophe or tab would stay in the cell as a visible character. The formula
 * form is the one Excel shows as the text itself, and LibreOffice too when it evaluates formulas
 * on import (its default on the command line; its import dialog may show the form as written,
 * still as text). Only numbers we wrote ourselves (E.164: `+` and digits) take this form: it
 * holds a string constant, nothing a spreadsheet could run. Anything else (an erased
 * customer's `erased:12`) goes through `spreadsheetSafe`.
 */
export function spreadsheetPhone(e164: string | null | undefined): string {
  if (!e164) return ''
  return /^\+\d{1,15}$/.test(e164) ? `="${e164}"` : spreadsheetSafe(e164)
}

/** A parsed record and the line of the file it starts on (1-based, as an editor shows it). */
export interface CsvRecord {
  line: number
  fields: string[]
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'CsvSyntaxError'
  }
}

/**
 * Parses CSV text (RFC 4180, also accepting LF line ends, a UTF-8 BOM and `;` or tab delimiters
 * as spreadsheets in Spanish write them). The delimiter is the first of `,` `;` tab found in the
 * first line outside quotes. Blank lines are skipped.
 */
export function parseCsv(input: string): CsvRecord[] {
  const text = input.startsWith(UTF8_BOM) ? input.slice(1) : input
  const delimiter = detectDelimiter(text)
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let line = 1
  let recordLine = 1
  let i = 0
  let quoted = false
  let fieldStarted = false
  const endRecord = () => {
    fields.push(field)
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted))
      records.push({ line: recordLine, fields })
    fields = []
    field = ''
    fieldStarted = false
  }
  while (i < text.length) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
        i++
        const next = text[i]
        if (next !== undefined && next !== delimiter && next !== '\r' && next !== '\n') {
          throw new CsvSyntaxError(line, 'text after a closing quote')
        }
        continue
      }
      if (ch === '\n') line++
      field += ch
      i++
      continue
    }
    if (ch === '"') {
      if (field !== '') throw new CsvSyntaxError(line, 'a quote inside an unquoted field')
      quoted = true
      fieldStarted = true
      i++
    } else if (ch === delimiter) {
      fields.push(field)
      field = ''
      fieldStarted = true
      i++
    } else if (ch === '\r' || ch === '\n') {
      endRecord()
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1
      line++
      recordLine = line
    } else {
      field += ch
      fieldStarted = true
      i++
    }
  }
  if (quoted) throw new CsvSyntaxError(recordLine, 'a quoted field is never closed')
  if (field !== '' || fields.length > 0 || fieldStarted) endRecord()
  return records
}

function detectDelimiter(text: string): string {
  let quoted = false
  for (const ch of text) {
    if (ch === '"') quoted = !quoted
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) return ch
    else if (!quoted && (ch === '\n' || ch === '\r')) break
  }
  return ','
}
