/**
 * The Debian package, proven on a clean Debian 12 root: built twice (the previous release, one
 * migration short, and this one), checked by lintian, installed with apt, started, upgraded,
 * removed and purged; then the Ansible role run twice against a fresh root. What a chroot
 * cannot show: systemd itself (the unit is checked by systemd-analyze in test/deploy.test.ts; in
 * the root the package's SysV script starts the service, with the same user and capability) and
 * the firewall across the upgrade (the gate is dry-run in the root; test/e2e/gateway.test.ts
 * shows the kernel's set surviving a restart).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readMigrations } from '../../src/db/open.js'
import {
  curlIn,
  freshRoot,
  packageSkipReason,
  rootTarball,
  type DebianRoot,
} from './debian-root.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const skip = packageSkipReason()
if (skip) console.warn(`skipping the Debian package's proof: ${skip}`)
const VERSION = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version
const MIGRATIONS = readMigrations()
/**
 * The migration the upgrade brings: the next build is this tree plus one harmless migration.
 * (The previous release used to be this tree minus its newest migration, but the code of this
 * tree reads the tables that migration makes: that build could not start, so the clean install
 * never answered /healthz and its `user add` failed on a missing table.)
 */
const LAST = {
  name: `${String(MIGRATIONS.at(-1)!.version + 1).padStart(3, '0')}-package-upgrade-probe`,
}
const LONG = 900_000

let work = ''
let tar = ''
const debs = { previous: '', current: '' }
const roots: DebianRoot[] = []
const pack = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync(process.execPath, ['scripts/package.mjs', '--out', work, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  })

beforeAll(async () => {
  if (skip) return
  work = mkdtempSync(path.join(tmpdir(), 'branchgate-package-'))
  tar = rootTarball()
  // Each build from its own copy of this tree (package.mjs builds dist/ where it runs).
  const copyTree = (dir: string) => {
    for (const f of [
      'src',
      'scripts',
      'views',
      'public',
      'deploy',
      'systemd',
      'bin',
      'libexec',
      'docs',
      'README.md',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
    ])
      cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true })
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    return dir
  }
  // The previous release: this tree as it is, version X~previous.
  pack(
    copyTree(path.join(work, 'previous')),
    ['--version', `${VERSION}~previous`, '--compression', 'gzip'],
    {
      BRANCHGATE_COMMIT: 'previous',
    },
  )
  debs.previous = path.join(
    work,
    readdirSync(work).find((f) => f.includes('~previous') && f.endsWith('.deb'))!,
  )
  // The next build: this tree plus one migration (LAST), version X, this commit.
  const next = copyTree(path.join(work, 'next'))
  writeFileSync(
    path.join(next, 'src/db/migrations', `${LAST.name}.sql`),
    'CREATE TABLE package_upgrade_probe (id INTEGER PRIMARY KEY);\n',
  )
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short=12', 'HEAD'], {
    encoding: 'utf8',
  }).trim()
  pack(next, [], { BRANCHGATE_COMMIT: commit })
  debs.current = path.join(
    work,
    readdirSync(work).find((f) => f.startsWith(`branchgate_${VERSION}_`) && f.endsWith('.deb'))!,
  )
}, LONG)

afterAll(() => {
  for (const r of roots) r.remove()
  if (work) rmSync(work, { recursive: true, force: true })
})

function root(): DebianRoot {
  const r = freshRoot(tar)
  roots.push(r)
  return r
}
const copyIn = (r: DebianRoot, file: string) => {
  cpSync(file, path.join(r.dir, 'tmp', path.basename(file)))
  return `/tmp/${path.basename(file)}`
}
const healthz = (r: DebianRoot) => curlIn(r.ns, 'http://127.0.0.1:8080/healthz')
/** The service started by the package's scripts answers; polls: it was started in the background. */
async function answers(r: DebianRoot) {
  for (;;) {
    const h = healthz(r)
    if (h.status === 200) return JSON.parse(h.body)
    // A service that exited will never answer: say so with its log instead of polling on.
    const state = r.sh(
      'start-stop-daemon --status --pidfile /run/branchgate.pid && echo up || echo down',
    )
    if (state.trim() !== 'up')
      throw new Error(
        `the service is not running; its log:\n${r.sh('tail -n 40 /var/log/branchgate.log || true')}`,
      )
    await new Promise((res) => setTimeout(res, 200))
  }
}

describe.skipIf(skip !== null).sequential('the Debian package', () => {
  it(
    'passes lintian: no error, and only the warnings the README explains',
    () => {
      const r = spawnSync('lintian', ['--no-tag-display-limit', debs.current], { encoding: 'utf8' })
      const tags = r.stdout.split('\n').filter((l) => /^[EW]: /.test(l))
      expect(tags.filter((l) => l.startsWith('E: '))).toEqual([])
      expect(tags).toEqual([])
    },
    LONG,
  )

  it("ships a unit that systemd-analyze verify accepts, with the package's paths and ExecReload", () => {
    const x = path.join(work, 'extracted')
    execFileSync('dpkg-deb', ['-x', debs.current, x])
    const unit = readFileSync(path.join(x, 'lib/systemd/system/branchgate.service'), 'utf8')
    expect(unit).toContain(
      'ExecStart=/usr/bin/branchgate serve --config /etc/branchgate/branchgate.json',
    )
    expect(unit).toContain('ExecReload=/bin/kill -HUP $MAINPID')
    expect(unit).not.toContain('/opt/branchgate')
    mkdirSync(path.join(x, 'bin'), { recursive: true })
    cpSync('/bin/kill', path.join(x, 'bin/kill'))
    cpSync('/lib/systemd/system', path.join(x, 'lib/systemd/system'), {
      recursive: true,
      dereference: false,
      verbatimSymlinks: true,
    })
    const verify = spawnSync(
      'systemd-analyze',
      ['verify', `--root=${x}`, '/lib/systemd/system/branchgate.service'],
      // Documentation=man:branchgate(1) is looked up with the host's `man`, not in --root: point
      // it at the package's own man page (the host has no branchgate installed).
      { encoding: 'utf8', env: { ...process.env, MANPATH: path.join(x, 'usr/share/man') } },
    )
    expect(verify.stderr).toBe('')
    expect(verify.status).toBe(0)
  })

  it(
    'installs with apt on a clean Debian 12, makes its user, folders and first config, and the service answers /healthz',
    async () => {
      const r = root()
      const deb = copyIn(r, debs.previous)
      r.sh(`apt-get install -y ${deb}`)
      expect(r.sh('getent passwd branchgate')).toMatch(
        /^branchgate:x:\d+:\d+:.*:\/var\/lib\/branchgate:\/usr\/sbin\/nologin$/m,
      )
      expect(
        r.sh(
          'stat -c "%a %U %G" /etc/branchgate /var/lib/branchgate /etc/branchgate/branchgate.json',
        ),
      ).toBe('750 root branchgate\n750 branchgate branchgate\n640 root branchgate\n')
      expect(await answers(r)).toEqual({
        status: 'ok',
        branch: 'unconfigured',
        db: 'ok',
        gate: 'dry-run',
      })
      expect(r.sh('branchgate --version')).toBe(
        `branchgate ${VERSION}~previous (commit previous)\n`,
      )
      // The service runs as branchgate with CAP_NET_ADMIN only, from the bundled runtime.
      const pid = r.sh('cat /run/branchgate.pid').trim()
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      expect(status).toMatch(/^CapEff:\s+0000000000001000$/m)
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe(
        '/usr/lib/branchgate/node/bin/node',
      )
      expect(Number(/^Uid:\s+(\d+)/m.exec(status)![1])).toBe(Number(r.sh('id -u branchgate')))
      // apt brought the Recommends, and the gate's libnftables session can run as the service.
      expect(r.sh("dpkg-query -W -f '${Status}' python3-nftables")).toBe('install ok installed')
      r.sh(
        'setpriv --reuid=branchgate --regid=branchgate --init-groups /usr/bin/python3 /usr/lib/branchgate/libexec/nft-session.py --check',
      )
      // A second configure run changes nothing and keeps the config.
      r.sh(
        `echo '{"branch":{"id":"mx-042","name":"Sucursal Roma"},"dataDir":"/var/lib/branchgate","listen":{"admin":{"port":8081}}}' > /etc/branchgate/branchgate.json`,
      )
      r.sh('dpkg-reconfigure branchgate || dpkg --configure -a')
      expect(r.sh('cat /etc/branchgate/branchgate.json')).toContain('Sucursal Roma')
    },
    LONG,
  )

  it(
    'upgrades to the next build: restarts, backs the database up, migrates it, and keeps the data and the config',
    async () => {
      const r = roots[0]!
      r.sh(
        'echo secreto-admin-22 | setpriv --reuid=branchgate --regid=branchgate --init-groups branchgate user add ana --role admin --password-stdin --config /etc/branchgate/branchgate.json',
      )
      const before = await answers(r)
      expect(before.branch).toBe('mx-042')
      const names = () =>
        r
          .sh(
            `sqlite3 /var/lib/branchgate/branchgate.db 'SELECT name FROM schema_migrations ORDER BY version'`,
          )
          .trim()
          .split('\n')
      expect(names()).not.toContain(LAST.name)
      const pidBefore = r.sh('cat /run/branchgate.pid').trim()

      r.sh(`apt-get install -y ${copyIn(r, debs.current)}`)
      expect(r.sh('branchgate --version')).toMatch(
        new RegExp(`^branchgate ${VERSION} \\(commit [0-9a-f]{12}(\\+dirty)?\\)\\n$`),
      )
      expect(r.sh('cat /run/branchgate.pid').trim()).not.toBe(pidBefore)
      expect((await answers(r)).branch).toBe('mx-042')
      expect(names()).toEqual([...MIGRATIONS.map((m) => m.name), LAST.name])
      const backups = r
        .sh('ls /var/lib/branchgate')
        .split('\n')
        .filter((f) => f.includes('.before-'))
      expect(backups).toEqual([
        expect.stringMatching(new RegExp(`^branchgate\\.db\\.before-${LAST.name}\\..*Z\\.bak$`)),
      ])
      expect(
        r.sh(`sqlite3 /var/lib/branchgate/${backups[0]} 'SELECT name FROM console_users'`),
      ).toBe('ana\n')
      expect(r.sh('branchgate user list --config /etc/branchgate/branchgate.json')).toMatch(
        /^ana\tadmin/m,
      )
      expect(r.sh('cat /etc/branchgate/branchgate.json')).toContain('Sucursal Roma')
      // The log says what happened, in order: the old one stopped, the new one started.
      const log = r.sh('cat /var/log/branchgate.log')
      expect(log.indexOf('SIGTERM: stopping')).toBeLessThan(log.lastIndexOf('branch mx-042'))
    },
    LONG,
  )

  it(
    'apt remove keeps the config and the data; apt purge removes them',
    () => {
      const r = roots[0]!
      r.sh('apt-get remove -y branchgate')
      expect(healthz(r).status).toBe(0) // nothing listens
      expect(r.sh('ls /etc/branchgate /var/lib/branchgate | sort')).toMatch(
        /branchgate\.db\n[\s\S]*branchgate\.json/,
      )
      expect(r.run(['test', '-e', '/usr/lib/branchgate']).status).toBe(1)
      r.sh('apt-get purge -y branchgate')
      expect(r.run(['test', '-e', '/etc/branchgate']).status).toBe(1)
      expect(r.run(['test', '-e', '/var/lib/branchgate']).status).toBe(1)
      expect(r.run(['test', '-e', '/etc/init.d/branchgate']).status).toBe(1)
    },
    LONG,
  )
})

describe.skipIf(skip !== null).sequential('the Ansible role', () => {
  const ANSIBLE = path.join(ROOT, 'deploy/ansible')
  const playbook = (inventory: string, vaultPass: string) =>
    spawnSync('ansible-playbook', ['-i', inventory, path.join(ANSIBLE, 'site.yml')], {
      cwd: ANSIBLE,
      encoding: 'utf8',
      env: {
        ...process.env,
        ANSIBLE_CONFIG: path.join(ANSIBLE, 'ansible.cfg'),
        ANSIBLE_VAULT_PASSWORD_FILE: vaultPass,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_FORCE_COLOR: '0',
      },
    })
  /** The play's recap, one line per host. */
  const recaps = (out: string) =>
    [
      ...out.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm),
    ].map((m) => ({
      host: m[1]!,
      ok: Number(m[2]),
      changed: Number(m[3]),
      unreachable: Number(m[4]),
      failed: Number(m[5]),
    }))

  it(
    'passes ansible-playbook --syntax-check and ansible-lint',
    () => {
      const syntax = spawnSync('ansible-playbook', ['--syntax-check', 'site.yml'], {
        cwd: ANSIBLE,
        encoding: 'utf8',
      })
      expect(syntax.stderr).toBe('')
      expect(syntax.status).toBe(0)
      const lint = spawnSync('ansible-lint', ['--offline', 'site.yml', 'roles/branchgate'], {
        cwd: ANSIBLE,
        encoding: 'utf8',
      })
      expect(lint.stdout + lint.stderr).not.toMatch(/^(?!.*Passed).*(warning|error)\b/im)
      expect(lint.status).toBe(0)
    },
    LONG,
  )

  it(
    'refuses a branch whose IPv6 prefix is not a /64, saying which value and what it must be, before touching the box',
    () => {
      // Only the role's first checks run: in check mode, on the controller, without facts.
      const inv = path.join(work, 'inventory-bad-ipv6.yml')
      writeFileSync(
        inv,
        [
          'branches:',
          '  hosts:',
          '    mx-ci-009:',
          '      ansible_connection: local',
          '      branchgate_branch_id: mx-ci-009',
          '      branchgate_branch_name: Sucursal CI nueve',
          '      branchgate_guest_interface: bg-guest',
          '      branchgate_uplink_interface: bg-uplink',
          '      branchgate_guest_address: 10.79.0.1/24',
          '      branchgate_package_file: /nonexistent/branchgate.deb',
          '      branchgate_ipv6_prefix: fd42:79::/48',
          '',
        ].join('\n'),
      )
      const r = spawnSync('ansible-playbook', ['--check', '-i', inv, 'site.yml'], {
        cwd: ANSIBLE,
        encoding: 'utf8',
        env: {
          ...process.env,
          ANSIBLE_CONFIG: path.join(ANSIBLE, 'ansible.cfg'),
          ANSIBLE_GATHERING: 'explicit',
          ANSIBLE_NOCOLOR: '1',
        },
      })
      expect(r.status).toBe(2)
      expect(r.stdout).toContain("TASK [branchgate : Check the branch's IPv6 values]")
      expect(r.stdout).toContain(
        'branchgate_ipv6_prefix (\\"fd42:79::/48\\") must be a /64 written as groups ending in ::/64',
      )
      expect(recaps(r.stdout)).toEqual([
        { host: 'mx-ci-009', ok: 1, changed: 0, unreachable: 0, failed: 1 },
      ])
    },
    LONG,
  )

  it(
    'installs and configures fresh roots from an inventory and a vault, one IPv4-only and one dual-stack, and a second run changes nothing',
    async () => {
      // Two branches, each a fresh root in its own network namespace with a guest port (a veth
      // whose other end nobody uses: the guest access point's place). The first is IPv4-only
      // with a dry-run gate; the second has IPv6 (a routed /64) and the real nftables gate.
      const v4 = root()
      const v6 = root()
      const inNs = (r: DebianRoot, ...args: string[]) =>
        execFileSync('ip', ['netns', 'exec', r.ns, 'ip', ...args])
      for (const r of [v4, v6]) {
        inNs(r, 'link', 'add', 'bg-guest', 'type', 'veth', 'peer', 'name', 'bg-ap')
        inNs(r, 'link', 'set', 'bg-guest', 'up')
        inNs(r, 'link', 'set', 'bg-ap', 'up')
      }
      // The IPv4-only port has its address already (the role leaves it); the dual-stack one gets
      // both of its addresses from the role, and an uplink of its own.
      inNs(v4, 'addr', 'add', '10.77.0.1/24', 'dev', 'bg-guest')
      inNs(v6, 'link', 'add', 'bg-uplink', 'type', 'veth', 'peer', 'name', 'bg-isp')
      inNs(v6, 'link', 'set', 'bg-uplink', 'up')
      inNs(v6, 'link', 'set', 'bg-isp', 'up')
      const host = (r: DebianRoot, vars: string[]) => [
        `    ${r.dir}:`,
        '      ansible_connection: community.general.chroot',
        `      ansible_chroot_exe: ${r.chrootExe}`,
        '      ansible_python_interpreter: /usr/bin/python3',
        '      branchgate_guest_interface: bg-guest',
        // No systemd in a chroot: the package's SysV script.
        '      branchgate_service_use: sysvinit',
        ...vars.map((v) => `      ${v}`),
      ]
      const inv = path.join(work, 'inventory')
      mkdirSync(path.join(inv, 'group_vars/branches'), { recursive: true })
      writeFileSync(
        path.join(inv, 'hosts.yml'),
        [
          'branches:',
          '  hosts:',
          ...host(v4, [
            'branchgate_branch_id: mx-ci-001',
            'branchgate_branch_name: Sucursal CI',
            'branchgate_uplink_interface: lo',
            'branchgate_guest_address: 10.77.0.1/24',
            'branchgate_gate_backend: dry-run',
            'branchgate_doctor_may_fail: [gate]',
          ]),
          ...host(v6, [
            'branchgate_branch_id: mx-ci-006',
            'branchgate_branch_name: Sucursal CI seis',
            'branchgate_uplink_interface: bg-uplink',
            'branchgate_guest_address: 10.78.0.1/24',
            'branchgate_ipv6_prefix: fd42:78::/64',
            'branchgate_ipv6_uplink: routed',
            // What doctor cannot see from a chroot: the port's state (no /sys) and which dnsmasq
            // is this root's (no PID namespace: pidof sees every dnsmasq on the machine); and
            // the console SMS provider.
            "branchgate_doctor_may_fail: ['guest interface', dnsmasq, sms console]",
          ]),
          '',
        ].join('\n'),
      )
      writeFileSync(
        path.join(inv, 'group_vars/branches/main.yml'),
        [
          `branchgate_package_file: ${debs.current}`,
          'branchgate_sync_adapter:',
          '  type: webhook',
          '  url: https://crm.example.com/hooks/branchgate',
          '  secretsFile: $CREDENTIALS_DIRECTORY/crm-webhook',
          'branchgate_secrets:',
          '  crm-webhook: "{{ vault_crm_webhook_secret }}"',
          '',
        ].join('\n'),
      )
      // The secret comes from an encrypted vault file, as in production.
      const pass = path.join(work, 'vault-pass')
      writeFileSync(pass, 'ci-vault-password\n')
      writeFileSync(
        path.join(inv, 'group_vars/branches/vault.yml'),
        'vault_crm_webhook_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n',
      )
      execFileSync('ansible-vault', [
        'encrypt',
        '--vault-password-file',
        pass,
        path.join(inv, 'group_vars/branches/vault.yml'),
      ])
      expect(readFileSync(path.join(inv, 'group_vars/branches/vault.yml'), 'utf8')).toMatch(
        /^\$ANSIBLE_VAULT;/,
      )

      const first = playbook(inv, pass)
      expect(first.stderr).not.toMatch(/ERROR/)
      expect(recaps(first.stdout), first.stdout).toHaveLength(2)
      for (const r of recaps(first.stdout)) {
        expect(r, first.stdout).toMatchObject({ failed: 0, unreachable: 0 })
        expect(r.changed).toBeGreaterThan(0)
      }
      expect(first.stdout).toMatch(/RUNNING HANDLER \[branchgate : Reload branchgate\]/)
      expect(first.stdout).not.toContain('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')

      // The IPv4-only branch: IPv6 lines of the package's dnsmasq template commented out.
      expect(await answers(v4)).toMatchObject({ status: 'ok', branch: 'mx-ci-001' })
      expect(v4.sh('stat -c "%a %U" /etc/branchgate/credentials/crm-webhook')).toBe('600 root\n')
      const dnsmasq4 = v4.sh('cat /etc/dnsmasq.d/branchgate.conf')
      expect(dnsmasq4).toContain('dhcp-option=bg-guest,114,"http://10.77.0.1:8080/api/captive"')
      expect(dnsmasq4).toMatch(/^#enable-ra$/m)
      expect(dnsmasq4).not.toMatch(/^(enable-ra|dhcp-range=::)/m)
      expect(v4.sh('cat /etc/network/interfaces.d/branchgate-guest')).not.toContain('inet6')
      expect(v4.sh('cat /etc/sysctl.d/90-branchgate.conf')).not.toContain('ipv6')

      // The dual-stack branch: gate.ipv6 in the config, router advertisements and DHCPv6 with
      // option 103 at the portal's name (both families), the port's ::1 now and at boot,
      // forwarding on; doctor's IPv6 check (address in the prefix on the port, forwarding) passed.
      expect(await answers(v6)).toMatchObject({ status: 'ok', branch: 'mx-ci-006' })
      const config6 = JSON.parse(v6.sh('cat /etc/branchgate/branchgate.json'))
      expect(config6.gate).toMatchObject({
        backend: 'nftables',
        ipv6: { prefix: 'fd42:78::/64', uplink: 'routed' },
      })
      expect(config6.publicUrl).toBe('http://portal.branch.lan:8080')
      const dnsmasq6 = v6.sh('cat /etc/dnsmasq.d/branchgate.conf')
      expect(dnsmasq6).toMatch(/^enable-ra$/m)
      expect(dnsmasq6).toContain('dhcp-range=::,constructor:bg-guest,ra-stateless,64,2h')
      expect(dnsmasq6).toContain(
        'dhcp-option=bg-guest,option6:103,"http://portal.branch.lan:8080/api/captive"',
      )
      expect(dnsmasq6).toMatch(/^address=\/portal\.branch\.lan\/10\.78\.0\.1$/m)
      expect(dnsmasq6).toMatch(/^address=\/portal\.branch\.lan\/fd42:78::1$/m)
      expect(v6.sh('cat /etc/network/interfaces.d/branchgate-guest')).toContain(
        'iface bg-guest inet6 static\n    address fd42:78::1/64\n',
      )
      const addresses = inNs(v6, '-j', 'addr', 'show', 'dev', 'bg-guest').toString()
      expect(addresses).toContain('"local":"fd42:78::1","prefixlen":64')
      expect(addresses).toContain('"local":"10.78.0.1","prefixlen":24')
      expect(v6.sh('cat /proc/sys/net/ipv6/conf/all/forwarding')).toBe('1\n')
      expect(v6.sh('cat /proc/sys/net/ipv6/conf/bg-uplink/accept_ra')).toBe('2\n')
      const doctor = JSON.parse(
        v6.run(['branchgate', 'doctor', '--json', '--config', '/etc/branchgate/branchgate.json'])
          .stdout,
      ) as { findings: Array<{ check: string; ok: boolean; detail: string }> }
      expect(doctor.findings.find((f) => f.check === 'IPv6')).toMatchObject({
        ok: true,
        detail: expect.stringContaining('fd42:78::1 on bg-guest'),
      })
      // The package's koffi loads libnftables: doctor finds the gate's changes can be made in
      // the service's own process, and the service, unprivileged with CAP_NET_ADMIN, makes them,
      // a login's element changes through libnftnl (libnftables' own dependency).
      expect(doctor.findings.find((f) => f.check === 'nft session')).toEqual({
        check: 'nft session',
        ok: true,
        detail:
          "libnftables (in the service's process); a login's element changes straight to the kernel (libnftnl)",
      })
      // And its presence sweeps read the kernel there with netlink dumps.
      expect(doctor.findings.find((f) => f.check === 'presence')).toEqual({
        check: 'presence',
        ok: true,
        detail:
          "the neighbour table, its changes and the firewall's counters read in the service's process (netlink)",
      })
      // And each device's tc classes on a netlink socket there.
      expect(doctor.findings.find((f) => f.check === 'rates')).toEqual({
        check: 'rates',
        ok: true,
        detail:
          "each device's tc classes on a netlink socket of the service's own (the trees at start through tc)",
      })
      const serviceLog = v6.sh('cat /var/log/branchgate.log')
      expect(serviceLog).toContain(
        "gate: nft session: libnftables (in the service's process); a login's element changes straight to the kernel (libnftnl)",
      )
      // Its presence sweeps read the neighbour table and the counters with netlink dumps there
      // too (AF_NETLINK is among the unit's address families): no fallback to ip or nft said.
      expect(serviceLog).not.toMatch(/presence: (the neighbour table through ip|cannot)/)
      expect(serviceLog).not.toMatch(/straight from the kernel \(/)
      // Its neighbour watch follows the table's changes on its own netlink socket, not ip monitor.
      expect(serviceLog).not.toMatch(/neighbours: the table's changes through ip monitor/)
      // Each device's tc classes go on a netlink socket of its own too (CAP_NET_ADMIN).
      expect(serviceLog).toContain(
        "gate: each device's tc classes on a netlink socket of the service's own",
      )
      expect(serviceLog).not.toMatch(/tc changes on the netlink socket failed/)

      const second = playbook(inv, pass)
      expect(recaps(second.stdout), second.stdout).toHaveLength(2)
      for (const r of recaps(second.stdout))
        expect(r, second.stdout).toMatchObject({ changed: 0, unreachable: 0, failed: 0 })
      expect(second.stdout).not.toMatch(/RUNNING HANDLER/)
    },
    LONG,
  )
})
