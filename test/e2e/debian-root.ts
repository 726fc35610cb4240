/**
 * A clean Debian 12 root for the package's proof: made once with mmdebstrap (Debian's own
 * packages, from Debian's mirror) and cached as a tarball, then unpacked afresh for each test.
 * Commands run in it through in-root.sh: chrooted, inside a network namespace this file makes
 * (its own loopback, so the portal's port 8080 is free there), with /proc and /dev mounted
 * privately. No systemd runs in a chroot: the package's SysV script starts the service, as
 * invoke-rc.d does on a box without systemd.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const IN_ROOT = path.resolve(import.meta.dirname, 'in-root.sh')

/** What the root holds besides Debian's essential packages: the package's dependencies and
 * recommends (so apt installs the .deb offline), python3 and python3-apt for Ansible, sqlite3 to
 * look at the database. */
const INCLUDE = [
  'python3',
  'nftables',
  'dnsmasq',
  'iproute2',
  'adduser',
  'ca-certificates',
  'curl',
  'sqlite3',
  'python3-apt',
  // The package's Recommends: the gate's nft session through libnftables (issue 20).
  'python3-nftables',
]
const SUITE = 'bookworm'

const has = (cmd: string) => spawnSync('sh', ['-c', 'command -v "$0"', cmd]).status === 0

/** Why the package's proof cannot run here, or null. */
export function packageSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (chroot, network namespaces; CI runs as root)'
  for (const [tool, pkg] of [
    ['mmdebstrap', 'mmdebstrap'],
    ['dpkg-deb', 'dpkg'],
    ['dpkg-shlibdeps', 'dpkg-dev'],
    ['lintian', 'lintian'],
    ['ip', 'iproute2'],
    ['curl', 'curl'],
    ['ansible-playbook', 'ansible'],
  ])
    if (!has(tool!)) return `${tool} is not installed (apt-get install ${pkg})`
  return null
}

/**
 * The cached root tarball: made on first use (a few minutes: it downloads some 100 MB of
 * Debian packages), then reused by every test of the run, and by later runs on this machine
 * (keyed by what it includes). BRANCHGATE_ROOT_CACHE names the cache folder.
 */
export function rootTarball(): string {
  const dir = process.env.BRANCHGATE_ROOT_CACHE ?? path.join(tmpdir(), 'branchgate-root-cache')
  mkdirSync(dir, { recursive: true })
  const key = createHash('sha256')
    .update(`${SUITE} ${INCLUDE.join(',')}`)
    .digest('hex')
    .slice(0, 12)
  const tar = path.join(dir, `${SUITE}-${key}.tar`)
  if (existsSync(tar)) return tar
  // mmdebstrap writes a tarball only to a name ending in .tar (else a folder).
  const partial = path.join(dir, `partial-${process.pid}-${SUITE}-${key}.tar`)
  execFileSync(
    'mmdebstrap',
    [
      '--variant=apt',
      `--include=${INCLUDE.join(',')}`,
      '--skip=cleanup/apt/lists',
      SUITE,
      partial,
      'http://deb.debian.org/debian',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  renameSync(partial, tar)
  return tar
}

/** A fresh root from the tarball, a network namespace for it, and a way to run commands in it. */
export interface DebianRoot {
  dir: string
  ns: string
  /** Runs a command in the root; resolves with its output and status (never throws). */
  run(args: string[], input?: string): { status: number; stdout: string; stderr: string }
  /** Runs a command in the root and returns its stdout; throws with its output when it fails. */
  sh(script: string, input?: string): string
  /** A script for Ansible's chroot connection (`ansible_chroot_exe`): chroot into this root's namespace. */
  chrootExe: string
  /** Stops what runs in the namespace and removes the namespace and the root. */
  remove(): void
}

export function freshRoot(tar: string): DebianRoot {
  const base = mkdtempSync(path.join(tmpdir(), 'branchgate-root-'))
  const dir = path.join(base, 'root')
  mkdirSync(dir)
  execFileSync('tar', ['-C', dir, '-xf', tar])
  // A box that is up allows its services to start (in a chroot invoke-rc.d asks policy-rc.d).
  writeFileSync(path.join(dir, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 0\n')
  chmodSync(path.join(dir, 'usr/sbin/policy-rc.d'), 0o755)
  const ns = `bgpkg-${randomBytes(3).toString('hex')}`
  execFileSync('ip', ['netns', 'add', ns])
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
  const chrootExe = path.join(base, 'chroot')
  writeFileSync(chrootExe, `#!/bin/sh\nexec ${IN_ROOT} ${ns} "$@"\n`)
  chmodSync(chrootExe, 0o755)
  const run = (args: string[], input?: string) => {
    const r = spawnSync(IN_ROOT, [ns, dir, ...args], {
      encoding: 'utf8',
      input,
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        DEBIAN_FRONTEND: 'noninteractive',
        LANG: 'C.UTF-8',
      },
    })
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }
  return {
    dir,
    ns,
    run,
    chrootExe,
    sh(script, input) {
      const r = run(['sh', '-ec', script], input)
      if (r.status !== 0)
        throw new Error(`in the root: ${script}\nexit ${r.status}\n${r.stdout}\n${r.stderr}`)
      return r.stdout
    },
    remove() {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .stdout.split(/\s+/)
        .filter(Boolean)
      for (const pid of pids) spawnSync('kill', ['-KILL', pid])
      spawnSync('ip', ['netns', 'delete', ns])
      // Mounts live in the namespaces of processes now gone; nothing is mounted on the host.
      rmSync(base, { recursive: true, force: true })
    },
  }
}

/** What a URL in the root's namespace answers (curl from the host, inside the namespace). */
export function curlIn(ns: string, url: string): { status: number; body: string } {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'curl', '-s', '-m', '10', '-w', '\\n%{http_code}', url],
    { encoding: 'utf8' },
  )
  const lines = r.stdout.trimEnd().split('\n')
  return { status: Number(lines.pop()), body: lines.join('\n') }
}
