import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'

/** A TCP port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/**
 * How the browser tests start Debian's Chromium: headless, and with the background networking a
 * closed machine refuses turned off (see the project brief).
 */
export const CHROMIUM_LAUNCH = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
}

/** A throwaway self-signed certificate (EC P-256, one day) for `cn`, as PEM files in `dir`. */
export function selfSignedCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, 'test.crt')
  const key = path.join(dir, 'test.key')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
    ]),
    { stdio: 'ignore' },
  )
  return { cert, key }
}

/** The repository's root folder. */
export const ROOT = path.resolve(import.meta.dirname, '..')

/**
 * `node` arguments that run the compiled service as production does: the systemd unit's
 * `bin/branchgate.js serve` (its `#!/usr/bin/env node` adds no flag), so no
 * `--enable-source-maps` (Node 20 would parse every chunk's map at load: more memory, a slower
 * start, than the branch ever sees). Append the service's options.
 */
export const SERVE_ARGS = [path.join(ROOT, 'bin/branchgate.js'), 'serve']

/** `node` arguments that run the compiled `branchgate` command, as installed; append its arguments. */
export const CLI_ARGS = [path.join(ROOT, 'bin/branchgate.js')]

/** `npm start`'s entry (the demo): the service's own process boundary, dist/serve.js. */
export const DEMO_SERVE_ARGS = [path.join(ROOT, 'dist/serve.js')]

/** The ports a started service printed (`portal  on http://…:PORT`, `console on …`). */
export interface ServicePorts {
  portal: number
  console: number
  /** The portal's HTTPS listener, when listen.tls is set. */
  tls: number | null
}

/** A running service started by startService. */
export interface StartedService {
  child: ChildProcess
  ports: ServicePorts
  /** Everything it printed so far, stdout and stderr. */
  output(): string
  /** SIGTERM, and its exit code. */
  stop(): Promise<number | null>
}

/**
 * Starts the compiled service (`serve`) and resolves when it has printed where it listens; with
 * ports of 0 in its config or PORT/ADMIN_PORT=0 the system picks them, so parallel tests never
 * race for one. Rejects with its output when it exits first. Give it listen ports of 0.
 */
export function startService(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; spawn?: (args: string[]) => ChildProcess } = {},
): Promise<StartedService> {
  const child =
    opts.spawn?.([...SERVE_ARGS, ...args]) ??
    spawn(process.execPath, [...SERVE_ARGS, ...args], {
      cwd: ROOT,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  let out = ''
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return new Promise((resolve, reject) => {
    const seen = () => {
      // "data in …" is printed after every listener line (plain, or a JSON log's "msg").
      if (!/[ "]data in /.test(out)) return
      const port = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN)
      const tls = /portal {2}on https:\/\/\S+:(\d+)/.exec(out)
      resolve({
        child,
        ports: {
          portal: port(/portal {2}on http:\/\/\S+:(\d+)/),
          console: port(/console on https?:\/\/\S+:(\d+)/),
          tls: tls ? Number(tls[1]) : null,
        },
        output: () => out,
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM')
          return exited
        },
      })
    }
    const onData = (d: Buffer) => {
      out += d
      seen()
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((code) =>
      reject(new Error(`the service exited (${code}) before listening:\n${out}`)),
    )
  })
}

/** Waits for a condition that another process brings about; the test's timeout is the guard. */
export async function until(cond: () => boolean | Promise<boolean>, everyMs = 25): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, everyMs))
}
