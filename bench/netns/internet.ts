/**
 * The internet host of the namespace bench: a TCP listener on port 9000 that prints, for each
 * phone's first connection, the phone's id and the monotonic time (ns, the same clock in every
 * namespace of the machine) its first bytes arrived: `ID NS` per line on stdout.
 */
import { createServer } from 'node:net'

const server = createServer((socket) => {
  let buf = ''
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => {
    const at = process.hrtime.bigint()
    buf += d
    const nl = buf.indexOf('\n')
    if (nl < 0) return
    process.stdout.write(`${buf.slice(0, nl)} ${at}\n`)
    socket.end('ok\n')
  })
  socket.on('error', () => {})
})
server.listen(9000, '0.0.0.0', () => process.stdout.write('listening\n'))
process.on('SIGTERM', () => process.exit(0))
