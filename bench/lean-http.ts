import { connect, type Socket } from 'node:net'

/**
 * A lean HTTP/1.1 client for the bench's phones: one keep-alive connection, one request in
 * flight, requests written as one prebuilt string and responses parsed just enough (status,
 * Content-Length or chunked body). Node's `http.request` with an `Agent` per phone costs the
 * load generator more CPU than a login costs the server, and on a small machine the two share
 * the cores: what the bench measured was partly its own client. Load generators (wrk,
 * autocannon) are lean for the same reason.
 */
export interface LeanResponse {
  status: number
  /** The body, read as latin1 (one char per byte): fine for the ASCII the bench looks for. */
  body: string
}

export class LeanConnection {
  private buffer = ''
  private waiting: { resolve(r: LeanResponse): void; reject(e: Error): void } | null = null

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
  ) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      this.tryParse()
    })
    socket.on('error', (err) => this.fail(err))
    socket.on('close', () => this.fail(new Error('connection closed')))
  }

  /** Opens a connection from `localAddress` (a phone's own address) to `host`:`port`. */
  static open(port: number, localAddress: string, host = '127.0.0.1'): Promise<LeanConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, localAddress, noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new LeanConnection(socket, `${host}:${port}`))
      })
    })
  }

  /** GET `path`; `host` is the Host header (a captive probe names the probe's host). */
  get(path: string, host = this.host): Promise<LeanResponse> {
    return this.send(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
  }

  postForm(path: string, form: string): Promise<LeanResponse> {
    return this.send(
      `POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${Buffer.byteLength(form)}\r\n\r\n${form}`,
    )
  }

  close(): void {
    this.waiting = null
    this.socket.destroy()
  }

  private send(raw: string): Promise<LeanResponse> {
    if (this.waiting) return Promise.reject(new Error('one request at a time'))
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.socket.write(raw, 'latin1')
    })
  }

  private fail(err: Error) {
    const w = this.waiting
    this.waiting = null
    w?.reject(err)
  }

  private tryParse() {
    const end = this.buffer.indexOf('\r\n\r\n')
    if (end < 0 || !this.waiting) return
    const head = this.buffer.slice(0, end).toLowerCase()
    const status = Number(head.slice(9, 12))
    const bodyStart = end + 4
    let body: string
    let consumed: number
    const length = /\r\ncontent-length:\s*(\d+)/.exec(head)
    if (length) {
      consumed = bodyStart + Number(length[1])
      if (this.buffer.length < consumed) return
      body = this.buffer.slice(bodyStart, consumed)
    } else if (/\r\ntransfer-encoding:\s*chunked/.test(head)) {
      body = ''
      let at = bodyStart
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at)
        if (lineEnd < 0) return
        const size = parseInt(this.buffer.slice(at, lineEnd), 16)
        if (size === 0) {
          if (this.buffer.length < lineEnd + 4) return
          consumed = lineEnd + 4
          break
        }
        if (this.buffer.length < lineEnd + 2 + size + 2) return
        body += this.buffer.slice(lineEnd + 2, lineEnd + 2 + size)
        at = lineEnd + 2 + size + 2
      }
    } else {
      body = ''
      consumed = bodyStart
    }
    this.buffer = this.buffer.slice(consumed)
    const w = this.waiting
    this.waiting = null
    w.resolve({ status, body })
  }
}
