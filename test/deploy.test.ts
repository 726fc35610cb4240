import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { readCaptiveDnsTemplate, renderCaptiveDns } from '../src/gate/captive-dns.js'
import { fillPlaceholders } from '../src/gate/nft-ruleset.js'
import { tempDir } from './helpers.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const UNIT = path.join(ROOT, 'systemd/branchgate.service')
const cleanups: Array<() => void> = []
afterEach(() => cleanups.splice(0).forEach((f) => f()))

const has = (cmd: string) => spawnSync('sh', ['-c', 'command -v "$0"', cmd]).status === 0

function temp() {
  const t = tempDir('branchgate-deploy-')
  cleanups.push(t.remove)
  return t.dir
}

/**
 * `systemd-analyze verify` on the unit inside a throwaway root that holds the unit's ExecStart
 * target and the host's stock units (for sysinit.target & co.), so it passes on a CI machine
 * where branchgate is not installed.
 */
function verifyUnit(unitText: string) {
  const root = temp()
  mkdirSync(path.join(root, 'opt/branchgate/bin'), { recursive: true })
  writeFileSync(path.join(root, 'opt/branchgate/bin/branchgate.js'), '#!/bin/sh\n')
  chmodSync(path.join(root, 'opt/branchgate/bin/branchgate.js'), 0o755)
  // ExecReload's kill (issue 14), as every Debian root has it.
  mkdirSync(path.join(root, 'bin'), { recursive: true })
  writeFileSync(path.join(root, 'bin/kill'), '#!/bin/sh\n')
  chmodSync(path.join(root, 'bin/kill'), 0o755)
  mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true })
  writeFileSync(path.join(root, 'etc/systemd/system/branchgate.service'), unitText)
  for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
    if (existsSync(dir)) {
      cpSync(dir, path.join(root, dir), {
        recursive: true,
        dereference: false,
        verbatimSymlinks: true,
      })
      break
    }
  }
  return spawnSync(
    'systemd-analyze',
    ['verify', `--root=${root}`, '/etc/systemd/system/branchgate.service'],
    {
      encoding: 'utf8',
    },
  )
}

const noSystemd = has('systemd-analyze')
  ? null
  : 'systemd-analyze is not installed (apt-get install systemd)'
if (noSystemd) console.warn(`skipping the systemd unit check: ${noSystemd}`)

describe('the systemd unit', () => {
  const unit = readFileSync(UNIT, 'utf8')

  it('runs as the unprivileged user with only CAP_NET_ADMIN and a read-only system', () => {
    for (const line of [
      'User=branchgate',
      'AmbientCapabilities=CAP_NET_ADMIN',
      'CapabilityBoundingSet=CAP_NET_ADMIN',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/branchgate',
      'PrivateTmp=yes',
      'Restart=on-failure',
      'RestartPreventExitStatus=2',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'ExecStart=/opt/branchgate/bin/branchgate.js serve --config /etc/branchgate/branchgate.json',
    ]) {
      expect(unit.split('\n'), line).toContain(line)
    }
  })

  it.skipIf(noSystemd !== null)('passes systemd-analyze verify', () => {
    const run = verifyUnit(unit)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  it.skipIf(noSystemd !== null)(
    'would fail verify if the unit were broken (the check can fail)',
    () => {
      const run = verifyUnit(
        unit.replace(
          'ExecStart=/opt/branchgate/bin/branchgate.js',
          'ExecStart=/opt/branchgate/bin/missing.js',
        ),
      )
      expect(run.status).not.toBe(0)
      expect(run.stderr).toContain('missing.js')
    },
  )
})

describe('the install script', () => {
  const run = (root: string, ...args: string[]) =>
    spawnSync('bash', [path.join(ROOT, 'deploy/install.sh'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, BRANCHGATE_ROOT: root },
    })

  it('lays out /opt, /etc and /var/lib, the unit, dnsmasq and forwarding; a second run changes nothing', () => {
    const root = temp()
    const first = run(root, '--guest', 'br-guest', '--uplink', 'eth0', '--address', '10.99.1.1/24')
    expect(first.stderr).toBe('')
    expect(first.status).toBe(0)
    const config = loadConfig(
      readFileSync(path.join(root, 'etc/branchgate/branchgate.json'), 'utf8'),
    )
    expect(config.gate).toMatchObject({
      backend: 'nftables',
      guestInterface: 'br-guest',
      uplinkInterface: 'eth0',
    })
    // IPv6 by default: the portal by name, so an IPv6-only phone finds it too.
    expect(config.publicUrl).toBe('http://portal.branch.lan:8080')
    expect(config.listen.portal.host).toBe('::')
    expect(config.gate).toMatchObject({ ipv6: { prefix: 'fd42:77::/64', uplink: 'nat' } })
    expect(config.listen.admin.host).toBe('127.0.0.1')
    expect(existsSync(path.join(root, 'opt/branchgate/dist/serve.js'))).toBe(true)
    expect(existsSync(path.join(root, 'opt/branchgate/test'))).toBe(false)
    expect(existsSync(path.join(root, 'var/lib/branchgate'))).toBe(true)
    expect(readFileSync(path.join(root, 'etc/systemd/system/branchgate.service'), 'utf8')).toBe(
      readFileSync(UNIT, 'utf8'),
    )
    expect(readFileSync(path.join(root, 'etc/sysctl.d/90-branchgate.conf'), 'utf8')).toBe(
      '# branchgate: the mini-PC routes guests to the uplink.\nnet.ipv4.ip_forward = 1\n' +
        'net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.eth0.accept_ra = 2\n',
    )
    expect(
      readFileSync(path.join(root, 'etc/network/interfaces.d/branchgate-guest'), 'utf8'),
    ).toContain('iface br-guest inet6 static\n    address fd42:77::1/64\n')
    const dnsmasq = readFileSync(path.join(root, 'etc/dnsmasq.d/branchgate.conf'), 'utf8')
    expect(dnsmasq).toContain('dhcp-range=br-guest,10.99.1.20,10.99.1.250,255.255.255.0,2h')
    expect(dnsmasq).toContain(
      'dhcp-option=br-guest,114,"http://portal.branch.lan:8080/api/captive"',
    )
    expect(dnsmasq).toContain(
      '\nenable-ra\ndhcp-range=::,constructor:br-guest,ra-stateless,64,2h\n',
    )
    expect(dnsmasq).toContain(
      'dhcp-option=br-guest,option6:103,"http://portal.branch.lan:8080/api/captive"',
    )
    expect(dnsmasq).toContain(
      'address=/portal.branch.lan/10.99.1.1\naddress=/portal.branch.lan/fd42:77::1\n',
    )
    expect(dnsmasq).not.toContain('{{')

    // The operator edits the config; running the script again keeps the edit.
    const edited = readFileSync(path.join(root, 'etc/branchgate/branchgate.json'), 'utf8').replace(
      'Sucursal Reforma',
      'Sucursal Roma',
    )
    writeFileSync(path.join(root, 'etc/branchgate/branchgate.json'), edited)
    const snapshot = execFileSync(
      'sh',
      ['-c', 'cd "$0" && find . -path ./opt -prune -o -type f -exec md5sum {} + | sort', root],
      { encoding: 'utf8' },
    )
    const second = run(root, '--guest', 'br-guest', '--uplink', 'eth0', '--address', '10.99.1.1/24')
    expect(second.status).toBe(0)
    expect(second.stdout).toContain('kept /etc/branchgate/branchgate.json')
    expect(
      execFileSync(
        'sh',
        ['-c', 'cd "$0" && find . -path ./opt -prune -o -type f -exec md5sum {} + | sort', root],
        { encoding: 'utf8' },
      ),
    ).toBe(snapshot)
  })

  it('leaves IPv6 out with --no-ipv6: IPv4 guests, the portal at the gateway address', () => {
    const root = temp()
    const r = run(
      root,
      '--guest',
      'br-guest',
      '--uplink',
      'eth0',
      '--address',
      '10.99.1.1/24',
      '--no-ipv6',
    )
    expect(r.stderr).toBe('')
    const config = loadConfig(
      readFileSync(path.join(root, 'etc/branchgate/branchgate.json'), 'utf8'),
    )
    expect(config.publicUrl).toBe('http://10.99.1.1:8080')
    expect(config.gate).toMatchObject({ ipv6: null })
    const dnsmasq = readFileSync(path.join(root, 'etc/dnsmasq.d/branchgate.conf'), 'utf8')
    expect(dnsmasq).toContain('\n#enable-ra\n#dhcp-range=::,constructor:br-guest')
    expect(readFileSync(path.join(root, 'etc/sysctl.d/90-branchgate.conf'), 'utf8')).not.toContain(
      'ipv6',
    )
    expect(
      run(temp(), '--guest', 'br-guest', '--uplink', 'eth0', '--ipv6-prefix', 'fd42:77::/48')
        .stderr,
    ).toContain('--ipv6-prefix must be a /64')
  })

  it('refuses values that could bend a template', () => {
    const root = temp()
    expect(run(root, '--guest', 'eth1|rm', '--uplink', 'eth0').status).not.toBe(0)
    expect(run(root, '--guest', 'eth1', '--uplink', 'eth1').stderr).toContain('two different ports')
    expect(
      run(root, '--guest', 'eth1', '--uplink', 'eth0', '--address', '10.0.0.1/8').stderr,
    ).toContain('--address')
    expect(existsSync(path.join(root, 'etc'))).toBe(false)
  })

  it('ships an example config that loads', () => {
    const c = loadConfig(readFileSync(path.join(ROOT, 'deploy/branchgate.example.json'), 'utf8'))
    expect(c.gate.backend).toBe('nftables')
  })
})

describe('the dnsmasq config', () => {
  it.skipIf(!has('dnsmasq'))('renders to a file dnsmasq accepts, with option 114', () => {
    const text = fillPlaceholders(
      readFileSync(path.join(ROOT, 'deploy/dnsmasq.conf.tmpl'), 'utf8'),
      {
        guestInterface: 'br-guest',
        dhcpStart: '10.99.1.20',
        dhcpEnd: '10.99.1.250',
        netmask: '255.255.255.0',
        leaseTime: '2h',
        gatewayIp: '10.99.1.1',
        captiveApiUrl: 'https://portal.branch.lan:8443/api/captive',
        portalHostRecord: 'address=/portal.branch.lan/10.99.1.1',
        ipv6: '',
      },
    )
    const file = path.join(temp(), 'dnsmasq.conf')
    writeFileSync(file, text)
    const check = spawnSync('dnsmasq', ['--test', `--conf-file=${file}`], { encoding: 'utf8' })
    expect(check.stderr).toContain('syntax check OK')
    expect(text).toContain('dhcp-option=br-guest,114,"https://portal.branch.lan:8443/api/captive"')
  })

  it.skipIf(!has('dnsmasq'))("renders the captive resolver's file to one dnsmasq accepts", () => {
    const text = renderCaptiveDns(readCaptiveDnsTemplate(), {
      guestInterface: 'br-guest',
      port: 5300,
      gatewayAddresses: ['10.99.1.1', 'fd00:99::1'],
      gardenHosts: ['notice.bank.example', '*.links.example'],
      nftset: true,
    })
    const file = path.join(temp(), 'captive-dns.conf')
    writeFileSync(file, text)
    const check = spawnSync('dnsmasq', ['--test', `--conf-file=${file}`], { encoding: 'utf8' })
    expect(check.stderr).toContain('syntax check OK')
  })
})
