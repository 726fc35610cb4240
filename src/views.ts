import ejs from 'ejs'
import { atRoot } from './paths.js'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

export const VIEWS_DIR = atRoot('views') + '/'

type Template = (data: Record<string, unknown>) => string

/** EJS templates compiled once at start; rendering is a function call. Output is escaped by `<%=`. */
export interface Views {
  render(name: string, data: Record<string, unknown>): string
}

export function loadViews(dir = VIEWS_DIR): Views {
  const templates = new Map<string, Template>()
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = path.join(sub, entry)
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel)
      else if (entry.endsWith('.ejs')) {
        const filename = path.join(dir, rel)
        templates.set(
          rel.replace(/\\/g, '/').replace(/\.ejs$/, ''),
          // cache: a template's include() (the console's _head and _foot) is compiled once,
          // kept in EJS's cache by file name. Without it EJS read and compiled the included file
          // again on every render: a new function per console page, for V8 to compile and collect.
          ejs.compile(readFileSync(filename, 'utf8'), { filename, cache: true }) as Template,
        )
      }
    }
  }
  walk('')
  return {
    render(name, data) {
      const tpl = templates.get(name)
      if (!tpl) throw new Error(`no view named ${name}`)
      return tpl(data)
    },
  }
}
