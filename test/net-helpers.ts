import { execFileSync } from 'node:child_process'
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

/** `node` arguments that run the compiled service (`branchgate serve`), as production does. */
export const SERVE_ARGS = ['--enable-source-maps', path.join(ROOT, 'dist/main.js')]

/** `node` arguments that run the compiled `branchgate` command; append its arguments. */
export const CLI_ARGS = ['--enable-source-maps', path.join(ROOT, 'dist/cli.js')]
