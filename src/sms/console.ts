import type { SmsSender } from './sender.js'

/** Demo sender: prints one line per message on stdout with the E.164 number and the text. */
export function createConsoleSender(
  write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): SmsSender {
  return {
    name: 'console',
    async send(m) {
      write(`[sms] to=${m.to} code=${m.code} text=${JSON.stringify(m.text)}`)
      return { provider: 'console' }
    },
  }
}
