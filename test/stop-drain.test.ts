import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './helpers.js'
import { startService, until } from './net-helpers.js'

const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

describe('stopping for an upgrade (SIGTERM)', () => {
  it('answers a login in flight before it exits: the guest typing the code as the package is upgraded gets in', async () => {
    const t = tempDir()
    cleanups.push(t.remove)
    const configFile = path.join(t.dir, 'branchgate.json')
    writeFileSync(
      configFile,
      JSON.stringify({ listen: { portal: { port: 0 }, admin: { port: 0 } }, dataDir: t.dir }),
    )
    const service = await startService(['--config', configFile])
    cleanups.push(() => service.child.exitCode === null && service.child.kill('SIGKILL'))
    const portal = `http://127.0.0.1:${service.ports.portal}`
    const page = await (
      await fetch(`${portal}/login`, {
        method: 'POST',
        body: new URLSearchParams({ name: 'Ana', phone: '55 1234 5678', consent: 'yes' }),
      })
    ).text()
    const challenge = /name="challenge" value="([^"]+)"/.exec(page)![1]!
    let code: string | undefined
    await until(
      () =>
        (code = /\[sms\] to=\+525512345678 code=(\d{6})/.exec(service.output())?.[1]) !== undefined,
    )

    // The code's form is on its way: headers and half the body sent when the stop begins.
    const body = new URLSearchParams({ challenge, code: code! }).toString()
    const socket = net.connect(service.ports.portal, '127.0.0.1')
    cleanups.push(() => socket.destroy())
    let answer = ''
    socket.on('data', (d) => (answer += d))
    const closed = new Promise<void>((r) => socket.on('close', () => r()))
    socket.on('error', () => {})
    await new Promise<void>((r) => socket.once('connect', () => r()))
    socket.write(
      `POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
    )
    const exited = service.stop()
    await until(() => service.output().includes('SIGTERM: stopping'))
    socket.write(body.slice(10))
    await closed
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
    expect(answer).toContain('¡Listo, Ana!')
    expect(await exited).toBe(0)
    expect(service.output()).toContain('stopped')
  })
})
