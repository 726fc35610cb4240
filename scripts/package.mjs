#!/usr/bin/env node
// npm run package: builds dist/ and packs branchgate as a Debian package with dpkg-deb,
// build/branchgate_<version>_<arch>.deb. Appliance-style: it carries the Node.js runtime it was
// built and tested with (the `node` running this script, stripped of its debug symbols), so the
// box needs no Node from anywhere (Debian 12's own is 18, Ubuntu 24.04's is 18 too), and a
// better-sqlite3 compiled for that very runtime. Everything lives in /usr/lib/branchgate; the
// command is /usr/bin/branchgate; the unit, the SysV script, the man page (from --help) and the
// docs are where Debian expects them. The maintainer scripts are deploy/debian/.
//
// Usage: node scripts/package.mjs [--version V] [--out DIR] [--compression zstd|xz|gzip]
//   --version      the package's version (default: package.json's)
//   --out          where the .deb goes (default: build/)
//   --compression  dpkg-deb's -Z: xz (default, what Debian's tools expect; some 40 s of CPU
//                  for the runtime), gzip (fast, 40% larger) or zstd (fast; Debian 12's lintian
//                  refuses it, Ubuntu's apt reads it)
// It packs for the architecture it runs on: better-sqlite3 and node are checked to be of it.
// For arm64, run it on an arm64 machine (where npm ci compiled better-sqlite3 for arm64).
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  closeSync,
} from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
const { values: opts } = parseArgs({
  options: {
    version: { type: 'string', default: pkg.version },
    out: { type: 'string', default: path.join(root, 'build') },
    compression: { type: 'string', default: 'xz' },
  },
})
const die = (msg) => {
  console.error(`package: ${msg}`)
  process.exit(2)
}
const run = (cmd, args, o = {}) =>
  (
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...o }) ?? ''
  ).trim()
const has = (cmd) => {
  try {
    run('sh', ['-c', `command -v ${cmd}`])
    return true
  } catch {
    return false
  }
}

const version = opts.version
// Debian's version syntax (upstream part only: a native package).
if (!/^[0-9][A-Za-z0-9.+~]*$/.test(version))
  die(`--version ${JSON.stringify(version)} is not a Debian version (e.g. 0.2.0, 0.2.0~rc1)`)
if (!['zstd', 'xz', 'gzip'].includes(opts.compression))
  die(`--compression must be zstd, xz or gzip, got ${JSON.stringify(opts.compression)}`)
for (const [cmd, from] of [
  ['dpkg-deb', 'dpkg'],
  ['dpkg-shlibdeps', 'dpkg-dev'],
  ['strip', 'binutils'],
])
  if (!has(cmd)) die(`${cmd} is missing: apt-get install ${from}`)
const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 20)
  die(`Node.js 20 or later must run this script (it is packed), got ${process.version}`)

const arch = run('dpkg', ['--print-architecture'])
/** ELF e_machine of each Debian architecture branchgate can be packed for. */
const MACHINES = { amd64: 62, arm64: 183, armhf: 40, i386: 3, riscv64: 243 }
function elfMachine(file) {
  const fd = openSync(file, 'r')
  const head = Buffer.alloc(20)
  readSync(fd, head, 0, 20, 0)
  closeSync(fd)
  if (head.toString('latin1', 1, 4) !== 'ELF') return null
  return head[5] === 1 ? head.readUInt16LE(18) : head.readUInt16BE(18)
}
const addon = path.join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')
if (!existsSync(addon)) die(`${addon} is missing: run npm ci first`)
const koffiBinary = path.join(
  root,
  `node_modules/@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`,
)
if (!existsSync(koffiBinary)) die(`${koffiBinary} is missing: run npm ci first`)
for (const [what, file] of [
  ['the Node.js runtime', process.execPath],
  ['better-sqlite3', addon],
  ['koffi', koffiBinary],
]) {
  if (elfMachine(file) !== MACHINES[arch])
    die(`${what} (${file}) is not built for ${arch}: pack on a ${arch} machine after npm ci`)
}

// 1. The application, compiled afresh (the commit goes into the bundles).
// The version the package is given (--version) is the one `branchgate --version` reports.
run(process.execPath, [path.join(root, 'scripts/build.mjs')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BRANCHGATE_VERSION: version },
})
const commit = process.env.BRANCHGATE_COMMIT || gitCommit()
function gitCommit() {
  try {
    return run('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'])
  } catch {
    return 'unknown'
  }
}

const stage = path.join(opts.out, `stage-${version}-${arch}`)
rmSync(stage, { recursive: true, force: true })
const at = (...p) => path.join(stage, ...p)
const lib = at('usr/lib/branchgate')
const put = (from, to, mode = 0o644) => {
  mkdirSync(path.dirname(to), { recursive: true })
  copyFileSync(from, to)
  chmodSync(to, mode)
}
const tree = (from, to, filter = () => true) =>
  cpSync(from, to, { recursive: true, filter: (src) => filter(src) })

tree(path.join(root, 'dist'), path.join(lib, 'dist'), (src) => !path.basename(src).startsWith('.'))
// The command's module, run by /usr/bin/branchgate with the packaged runtime: not a script of
// its own (a `#!` line would name an interpreter outside Debian's).
mkdirSync(path.join(lib, 'bin'), { recursive: true })
writeFileSync(
  path.join(lib, 'bin/branchgate.js'),
  readFileSync(path.join(root, 'bin/branchgate.js'), 'utf8').replace(
    /^#!.*\n/,
    '// Run by /usr/bin/branchgate with /usr/lib/branchgate/node/bin/node.\n',
  ),
  { mode: 0o644 },
)
tree(path.join(root, 'views'), path.join(lib, 'views'))
tree(path.join(root, 'public'), path.join(lib, 'public'))
tree(path.join(root, 'src/db/migrations'), path.join(lib, 'src/db/migrations'))
// The gate's nft session through libnftables (python3-nftables, a Recommends): run as
// `/usr/bin/python3 nft-session.py`, so a plain file, not a script of its own.
put(path.join(root, 'libexec/nft-session.py'), path.join(lib, 'libexec/nft-session.py'))
for (const f of readdirSync(path.join(root, 'deploy')))
  if (/\.(tmpl|json)$/.test(f)) put(path.join(root, 'deploy', f), path.join(lib, 'deploy', f))
put(path.join(root, 'deploy/install.sh'), path.join(lib, 'deploy/install.sh'), 0o755)
put(path.join(root, 'deploy/install-radvd.sh'), path.join(lib, 'deploy/install-radvd.sh'), 0o755)
put(
  path.join(root, 'deploy/debian/branchgate.json'),
  path.join(lib, 'deploy/debian/branchgate.json'),
)
put(path.join(root, 'systemd/branchgate.service'), path.join(lib, 'systemd/branchgate.service'))
writeFileSync(
  path.join(lib, 'package.json'),
  JSON.stringify({ name: pkg.name, version, type: 'module', private: true }, null, 2) + '\n',
)

// 2. Production node_modules: the bundles hold every npm package but better-sqlite3 (native),
// which needs bindings and file-uri-to-path at run time; prebuild-install only ran at npm ci.
const modules = path.join(lib, 'node_modules')
const bs = path.join(root, 'node_modules/better-sqlite3')
tree(path.join(bs, 'lib'), path.join(modules, 'better-sqlite3/lib'))
put(path.join(bs, 'package.json'), path.join(modules, 'better-sqlite3/package.json'))
put(addon, path.join(modules, 'better-sqlite3/build/Release/better_sqlite3.node'))
for (const dep of ['bindings', 'file-uri-to-path']) {
  const from = path.join(root, 'node_modules', dep)
  tree(
    from,
    path.join(modules, dep),
    (src) => !/\.(md|markdown)$|LICENSE|(^|\/)test\b|(^|\/)\./i.test(path.relative(from, src)),
  )
}

// koffi (the gate calls libnftables in-process through it, src/gate/nft-library.ts): its
// JavaScript and this architecture's prebuilt glibc binary; no C++ sources, no musl binary.
const koffi = path.join(root, 'node_modules/koffi')
tree(koffi, path.join(modules, 'koffi'), (src) => {
  const rel = path.relative(koffi, src)
  return (
    (/\.(c?js|json)$/.test(rel) || rel === 'LICENSE.txt' || !path.extname(rel)) &&
    // Build tools: cnoke (its installer), trampolines.cjs (a generator with a #! node line).
    !/^(vendor|lib|doc)(\/|$)|\/abi$|^cnoke\.cjs$|trampolines\.cjs$/.test(rel)
  )
})
const koffiArch = `@koromix/koffi-linux-${process.arch}`
const koffiNative = path.join(modules, koffiArch, `linux_${process.arch}/koffi.node`)
for (const f of ['package.json', 'index.js'])
  put(path.join(root, 'node_modules', koffiArch, f), path.join(modules, koffiArch, f))
put(koffiBinary, koffiNative)

// 3. The Node.js runtime this was tested with, without its debug symbols.
mkdirSync(path.join(lib, 'node/bin'), { recursive: true })
run('strip', [
  '--remove-section=.comment',
  '--remove-section=.note',
  '-o',
  path.join(lib, 'node/bin/node'),
  process.execPath,
])
chmodSync(path.join(lib, 'node/bin/node'), 0o755)
run('strip', [
  '--strip-unneeded',
  '--remove-section=.comment',
  '--remove-section=.note',
  path.join(modules, 'better-sqlite3/build/Release/better_sqlite3.node'),
  koffiNative,
])

// 4. The command, the unit, the SysV script, forwarding.
const wrapper = `#!/bin/sh
# branchgate: runs the application with the Node.js runtime it was built and tested with.
exec /usr/lib/branchgate/node/bin/node /usr/lib/branchgate/bin/branchgate.js "$@"
`
mkdirSync(at('usr/bin'), { recursive: true })
writeFileSync(at('usr/bin/branchgate'), wrapper, { mode: 0o755 })
const unit = readFileSync(path.join(root, 'systemd/branchgate.service'), 'utf8')
  .replace(
    /^# branchgate: captive-portal Wi-Fi gateway\..*$/m,
    '# branchgate: captive-portal Wi-Fi gateway. Installed by the branchgate package.',
  )
  .replace(
    /^Documentation=.*$/m,
    'Documentation=man:branchgate(1) file:///usr/share/doc/branchgate/gateway.md',
  )
  .replace(/^WorkingDirectory=.*$/m, 'WorkingDirectory=/usr/lib/branchgate')
  .replace(/^ExecStart=\/opt\/branchgate\/bin\/branchgate\.js /m, 'ExecStart=/usr/bin/branchgate ')
if (unit.includes('/opt/branchgate'))
  die('systemd/branchgate.service names /opt/branchgate where the package does not expect it')
mkdirSync(at('lib/systemd/system'), { recursive: true })
writeFileSync(at('lib/systemd/system/branchgate.service'), unit, { mode: 0o644 })
put(path.join(root, 'deploy/debian/branchgate.init'), at('etc/init.d/branchgate'), 0o755)
mkdirSync(at('usr/lib/sysctl.d'), { recursive: true })
writeFileSync(
  at('usr/lib/sysctl.d/90-branchgate.conf'),
  '# branchgate: the mini-PC routes guests to the uplink.\nnet.ipv4.ip_forward = 1\n',
)

// 5. Documentation: the man page from --help, the README and docs/, changelog, copyright.
const doc = at('usr/share/doc/branchgate')
mkdirSync(doc, { recursive: true })
put(path.join(root, 'README.md'), path.join(doc, 'README.md'))
for (const f of readdirSync(path.join(root, 'docs')))
  put(path.join(root, 'docs', f), path.join(doc, f))
const help = run(process.execPath, [path.join(root, 'bin/branchgate.js'), '--help'])
writeFileSync(path.join(doc, 'changelog.gz'), gzipSync(changelog(), { level: 9 }))
writeFileSync(path.join(doc, 'copyright'), copyright())
put(
  path.join(root, 'deploy/debian/lintian-overrides'),
  at('usr/share/lintian/overrides/branchgate'),
)
mkdirSync(at('usr/share/man/man1'), { recursive: true })
writeFileSync(at('usr/share/man/man1/branchgate.1.gz'), gzipSync(manPage(help), { level: 9 }))

// 6. DEBIAN/: control (shared libraries from dpkg-shlibdeps), scripts, conffiles, md5sums.
const debian = at('DEBIAN')
mkdirSync(debian, { recursive: true })
for (const s of ['postinst', 'prerm', 'postrm'])
  put(path.join(root, 'deploy/debian', s), path.join(debian, s), 0o755)
writeFileSync(path.join(debian, 'conffiles'), '/etc/init.d/branchgate\n')
const shlibs = shlibDepends([
  path.join(lib, 'node/bin/node'),
  path.join(modules, 'better-sqlite3/build/Release/better_sqlite3.node'),
  koffiNative,
])
const installedKb = Math.ceil(duBytes(stage, debian) / 1024)
writeFileSync(
  path.join(debian, 'control'),
  `Package: branchgate
Version: ${version}
Architecture: ${arch}
Maintainer: ${process.env.BRANCHGATE_MAINTAINER || 'branchgate maintainers <branchgate@example.org>'}
Installed-Size: ${installedKb}
Pre-Depends: init-system-helpers (>= 1.54~)
Depends: ${shlibs}, adduser, nftables, iproute2, dnsmasq, ca-certificates
Recommends: python3-nftables
Section: net
Priority: optional
Description: captive-portal Wi-Fi gateway for bank and retail branches
 A customer joins the branch's guest Wi-Fi, types a name and a mobile number,
 receives a one-time code by SMS and is let through the branch's firewall
 (nftables). Visits are recorded on the box (SQLite) and pushed to the central
 CRM; branch managers read them in a console on its own listener.
 .
 This package carries the Node.js runtime branchgate was built and tested with
 (${process.version}) in /usr/lib/branchgate/node: it needs no other Node.js.
 Built from commit ${commit}.
`,
)
writeFileSync(path.join(debian, 'md5sums'), md5sums(stage))
normaliseModes(stage)

mkdirSync(opts.out, { recursive: true })
const deb = path.join(opts.out, `branchgate_${version}_${arch}.deb`)
run('dpkg-deb', ['--root-owner-group', `-Z${opts.compression}`, '--build', stage, deb], {
  stdio: 'inherit',
})
rmSync(stage, { recursive: true, force: true })
console.log(
  `package: ${deb} (${(statSync(deb).size / 1e6).toFixed(1)} MB, node ${process.version}, commit ${commit})`,
)

function shlibDepends(files) {
  // dpkg-shlibdeps wants a debian/control to read; a throwaway one beside the stage.
  const dir = path.join(opts.out, `shlibs-${version}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(path.join(dir, 'debian'), { recursive: true })
  writeFileSync(
    path.join(dir, 'debian/control'),
    'Source: branchgate\n\nPackage: branchgate\nArchitecture: any\n',
  )
  const out = run('dpkg-shlibdeps', ['-O', ...files.map((f) => `-e${f}`)], { cwd: dir })
  rmSync(dir, { recursive: true, force: true })
  return out.replace(/^shlibs:Depends=/, '')
}

function duBytes(dir, skip) {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (p === skip) continue
    if (e.isDirectory()) n += duBytes(p, skip)
    else n += statSync(p).size
  }
  return n
}

function files(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) files(p, out)
    else out.push(p)
  }
  return out
}

function md5sums(dir) {
  return (
    files(dir)
      .filter(
        (f) =>
          !path.relative(dir, f).startsWith('DEBIAN/') && !path.relative(dir, f).startsWith('etc/'),
      )
      .sort()
      .map(
        (f) =>
          `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${path.relative(dir, f)}`,
      )
      .join('\n') + '\n'
  )
}

/** Folders 0755, files 0644 unless executable (0755): what dpkg and lintian expect. */
function normaliseModes(dir) {
  chmodSync(dir, 0o755)
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) normaliseModes(p)
    else chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644)
  }
}

function changelog() {
  const date = new Date(Number(process.env.SOURCE_DATE_EPOCH || 0) * 1000 || Date.now())
    .toUTCString()
    .replace('GMT', '+0000')
  return `branchgate (${version}) stable; urgency=medium

  * Built from commit ${commit}; what changed is in the project's history.

 -- ${process.env.BRANCHGATE_MAINTAINER || 'branchgate maintainers <branchgate@example.org>'}  ${date}
`
}

function copyright() {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'))
  const prod = Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev)
    .map(
      ([k, v]) =>
        `${k.slice('node_modules/'.length)} ${v.version}: ${v.license ?? 'see its package'}`,
    )
    .sort()
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: branchgate
Comment: branchgate and the npm packages bundled into /usr/lib/branchgate/dist
 (or kept in /usr/lib/branchgate/node_modules), each under its own licence:
 .
${prod.map((l) => ` ${l}`).join('\n')}
 .
 The Node.js runtime in /usr/lib/branchgate/node is Node.js ${process.version}
 (MIT, with the licences of the libraries it bundles: OpenSSL, ICU, libuv,
 V8, zlib, ... listed in Node.js's LICENSE file).

Files: *
Copyright: 2025-2026 the branchgate authors
License: proprietary
 All rights reserved by the branchgate authors unless a file says otherwise.

Files: usr/lib/branchgate/node/*
Copyright: Node.js contributors and the OpenJS Foundation, 2009-2026
License: Expat

Files: usr/lib/branchgate/node_modules/*
Copyright: 2016-2026 Joshua Wise (better-sqlite3), 2012-2026 Nathan Rajlich
 (bindings, file-uri-to-path), 2020-2026 Niels Martignène (koffi)
License: Expat

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.
`
}

/** roff: NAME, SYNOPSIS and COMMANDS from `branchgate --help`, then files, signals, exit codes. */
function manPage(helpText) {
  const esc = (s) =>
    s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^\./gm, '\\&.').replace(/^'/gm, "\\&'")
  const lines = helpText.split('\n')
  const commands = lines
    .filter((l) => /^ {2}branchgate /.test(l))
    .map((l) => {
      const m = /^ {2}(\S.*?\S)\s{2,}(\S.*)$/.exec(l)
      return m ? `.TP\n.B ${esc(m[1])}\n${esc(m[2])}` : `.TP\n.B ${esc(l.trim())}`
    })
  const date = new Date(Number(process.env.SOURCE_DATE_EPOCH || 0) * 1000 || Date.now())
    .toISOString()
    .slice(0, 10)
  return `.TH BRANCHGATE 1 "${date}" "branchgate ${esc(version)}" "branchgate"
.SH NAME
branchgate \\- captive\\-portal Wi\\-Fi gateway for bank and retail branches
.SH SYNOPSIS
.B branchgate
.I command
.RB [ \\-\\-config
.IR FILE ]
.RI [ options ]
.br
.B branchgate \\-\\-version
.SH DESCRIPTION
${esc(lines[0] ?? '')}
.PP
A customer joins the guest Wi\\-Fi, types a name and a mobile number, receives a
one\\-time code by SMS and is let through the branch's nftables firewall.
.B branchgate serve
runs the portal, the manager console and the background jobs (what systemd starts);
the other commands work on the same database.
.SH COMMANDS
${commands.join('\n')}
.SH OPTIONS
.TP
.BI \\-\\-config " FILE"
The configuration (JSON). Also
.BR BRANCHGATE_CONFIG .
Without one, the demo defaults.
.TP
.B \\-\\-help
The command's usage line.
.TP
.B \\-\\-version
The version and the commit it was built from.
.SH FILES
.TP
.I /etc/branchgate/branchgate.json
The configuration: written once by the package, never overwritten. Secret keys may be given as
.RI \\(dq key File\\(dq
(a file, mode 0600) or as
.I $CREDENTIALS_DIRECTORY/name
(systemd's LoadCredential=).
.TP
.I /var/lib/branchgate
The database (branchgate.db), its automatic backups before migrations, and secret.key.
.TP
.I /usr/lib/branchgate
The application and the Node.js runtime it runs on.
.SH SIGNALS
.TP
.B SIGHUP
Re\\-read the configuration and apply the walled garden, staff devices, SMS providers,
templates and fraud limits and the CRM target at once; the log names what else needs a
restart. An invalid configuration is refused and the running one stays
.RB ( "systemctl reload branchgate" ).
.TP
.B SIGTERM
Stop. The firewall table stays: the kernel's timeouts keep governing who is let through.
.SH EXIT STATUS
0 done; 1 a check failed or an unexpected error; 2 something the operator must fix (an option,
the configuration, a data file), said in one sentence.
.SH SEE ALSO
.BR systemctl (1),
.BR nft (8),
.BR dnsmasq (8),
.I /usr/share/doc/branchgate/README.md
`
}
