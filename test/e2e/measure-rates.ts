// Run as root: node --import tsx test/e2e/measure-rates.ts nft|htb  (not a test: prints figures for
// docs/gateway.md "Rates"; nft = nftables per-device meter + shared named limit, htb = branchgate's own).
import { createTestNetwork, INTERNET_IP } from './netns.js'

const n = await createTestNetwork({ clients: 3 })
const c = n.clients
const out: string[] = []
try {
  await n.startInternet()
  await n.exec(n.net, 'ip', ['link', 'set', 'eth0', 'gso_max_size', '1514'])
  for (const cl of c) await n.exec(cl.ns, 'ip', ['link', 'set', 'eth0', 'gso_max_size', '1514'])
  for (let i = 0; i < c.length; i++)
    n.spawnIn(n.net, 'iperf3', ['-s', '-p', String(5201 + i), '-B', INTERNET_IP])
  await n.startDnsmasq()
  const mode = process.argv[2] ?? 'nft'
  const rate =
    mode === 'htb'
      ? { downKbps: 30000, upKbps: null, totalDownKbps: 40000 }
      : { downKbps: null, upKbps: null, totalDownKbps: null }
  await n.startBranchgate(
    n.defaultConfig({
      gate: { backend: 'nftables', guestInterface: 'guest', uplinkInterface: 'up0', rate },
    }),
  )
  for (const cl of c) await n.dhcp(cl)
  for (const cl of c) {
    const r = await n.cli(['allow', cl.mac])
    if (r.code) throw new Error(r.stderr)
  }
  if (mode === 'nft') {
    // 30 Mbit/s per device = 3750 kB/s; the total 40 Mbit/s = 5000 kB/s, shared by a named limit.
    // Keyed by the phone's address: in the forward hook a routed packet still carries the
    // uplink's Ethernet header (ether daddr is the gateway's own MAC), so a MAC key never matches.
    const addrs = c.map((x) => x.address).join(', ')
    const rules = [
      'add table inet measure',
      'add limit inet measure total { rate over 5000 kbytes/second burst 500 kbytes }',
      `add set inet measure phones { type ipv4_addr; elements = { ${addrs} }; }`,
      'add chain inet measure shape { type filter hook forward priority filter - 5; policy accept; }',
      'add rule inet measure shape ip daddr @phones limit name "total" drop',
      'add rule inet measure shape ip daddr @phones meter perdev { ip daddr limit rate over 3750 kbytes/second burst 375 kbytes } drop',
    ].join('\n')
    const r = await n.exec(n.gw, 'sh', ['-c', `nft -f - <<'X'\n${rules}\nX`])
    if (r.code) throw new Error(r.stderr)
  }
  const iperf = async (i: number, secs: number) => {
    const r = await n.exec(
      c[i]!.ns,
      'iperf3',
      ['-c', INTERNET_IP, '-p', String(5201 + i), '-J', '-R', '-t', String(secs), '-O', '1'],
      60000,
    )
    const j = JSON.parse(r.stdout).end
    return { kbps: Math.round(j.sum_received.bits_per_second / 1000), retr: j.sum_sent.retransmits }
  }
  const lat = async (i: number) => {
    const urls = Array.from({ length: 30 }, (_, k) => `http://${INTERNET_IP}/small?${k}`)
    const r = await n.exec(c[i]!.ns, 'curl', [
      '-s',
      '-H',
      'Connection: close',
      '-w',
      '%{time_total}\\n',
      ...urls.flatMap((u) => ['-o', '/dev/null', u]),
    ])
    const t = r.stdout
      .trim()
      .split('\n')
      .map((l) => Number(l) * 1000)
      .sort((a, b) => a - b)
    return t[15]!
  }
  // Limits of one device alone (no total in the way for nft: total above 30).
  for (let k = 0; k < 3; k++)
    out.push(`${mode} one phone alone (limit 30000): ${JSON.stringify(await iperf(0, 3))}`)
  await lat(2)
  const idle = await lat(2)
  const [a, b, loaded] = await Promise.all([
    iperf(0, 4),
    iperf(1, 4),
    new Promise((r) => setTimeout(r, 1500)).then(() => lat(2)),
  ])
  out.push(
    `${mode} two phones under a 40000 total: ${JSON.stringify(a)} ${JSON.stringify(b)} sum ${a.kbps + b.kbps}; third phone median ${idle.toFixed(1)} ms idle, ${loaded.toFixed(1)} ms loaded`,
  )
} finally {
  console.log(out.join('\n'))
  await n.cleanup()
}
