// ttt over IPv6, inside and outside: the lab turns IPv6 off, so this test builds its own two
// namespaces joined by two veths with IPv6-only outer addresses. The server listens on [::]
// (IPV6_PKTINFO: it must answer from fd7e:ff::1, the address its clients target, which is not any
// veth's address) and the client bonds two paths, each steered out its veth by a source rule.
// Inside, the tunnel carries IPv6 and IPv4; the TUN's MTU accounts for the 40-byte IPv6 header;
// a full-size IPv6 ping with DF crosses; an iperf3 TCP flow over inner IPv6 uses both paths.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { keygen, startTttServer, startTttClient, iperfServer, iperfClient, nsExec, ping } from '../../bench/lib/vpn.js'
import { DATA_OVERHEAD_BYTES } from '../../src/vpn/wire.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { Scope, tttLabSkip } from './helpers/scope.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'
import type { StatusReport } from '../../src/control/status.js'

const controlDir = useTestControlDir()
const skip = tttLabSkip({ lab: false, iperf: true })

const SERVER = 'fd7e:ff::1'
const INNER_SERVER_V6 = 'fd09::1'

function ip (args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`)
}

function removeNamespace (ns: string): void {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean)
  for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
  spawnSync('ip', ['netns', 'del', ns])
}

/** Client and server namespaces, two veths with IPv6 only, policy routing per client source address. */
function buildTopology (prefix: string): { client: string, server: string, clientAddresses: string[], veths: string[] } {
  const client = `${prefix}c`
  const server = `${prefix}s`
  for (const ns of [client, server]) {
    removeNamespace(ns)
    ip(['netns', 'add', ns])
    ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0'])
  }
  ip(['-n', server, 'addr', 'add', `${SERVER}/128`, 'dev', 'lo'])
  const clientAddresses: string[] = []
  const veths: string[] = []
  for (const i of [1, 2]) {
    const a = `${prefix}a${i}`
    const b = `${prefix}b${i}`
    ip(['link', 'add', a, 'netns', client, 'type', 'veth', 'peer', 'name', b, 'netns', server])
    ip(['-n', client, 'addr', 'add', `fd7e:${i}::1/64`, 'dev', a, 'nodad'])
    ip(['-n', server, 'addr', 'add', `fd7e:${i}::2/64`, 'dev', b, 'nodad'])
    ip(['-n', client, 'link', 'set', a, 'up'])
    ip(['-n', server, 'link', 'set', b, 'up'])
    ip(['-n', client, '-6', 'rule', 'add', 'from', `fd7e:${i}::1`, 'table', String(100 + i)])
    ip(['-n', client, '-6', 'route', 'add', SERVER, 'via', `fd7e:${i}::2`, 'dev', a, 'table', String(100 + i)])
    clientAddresses.push(`fd7e:${i}::1`)
    veths.push(a)
  }
  return { client, server, clientAddresses, veths }
}

test('ttt over IPv6 outside and inside: wildcard [::] server, two IPv6 paths, IPv6 and IPv4 through the tunnel, MTU for the IPv6 header, TCP on both paths', { skip, timeout: 60_000 }, async (t: TestContext) => {
  const prefix = `v6${process.pid.toString(36)}`
  const s = new Scope(t)
  s.onClose(() => { removeNamespace(`${prefix}c`); removeNamespace(`${prefix}s`) })
  const net = buildTopology(prefix)
  const key = keygen()
  const server = startTttServer(net.server, '[::]:5000', '10.9.0.1/24', { key, extra: ['--address', `${INNER_SERVER_V6}/64`, '--name', 'v6srv', '--control-dir', controlDir] })
  s.add(server)
  await server.waitFor(/ttt server listening on \[::\]:5000/, 20_000)
  const client = startTttClient(net.client, `[${SERVER}]:5000`, '10.9.0.2/24', net.clientAddresses, { key, extra: ['--address', 'fd09::2/64', '--name', 'v6cli', '--control-dir', controlDir, '--scheduler', 'redundant'] })
  s.add(client)
  await client.waitFor(new RegExp(`session with \\[${SERVER}\\]:5000 up`), 20_000)

  // Both address families inside.
  const v6 = await ping(net.client, INNER_SERVER_V6, 10, 0.05, ['-6'])
  const v4 = await ping(net.client, '10.9.0.1', 10, 0.05)
  t.diagnostic(`inner IPv6 ping: ${v6.lossPct} % lost, avg ${v6.avgMs} ms; inner IPv4: ${v4.lossPct} % lost`)
  assert.equal(v6.lossPct, 0, 'IPv6 through the tunnel')
  assert.equal(v4.lossPct, 0, 'IPv4 through the tunnel')

  // The veths carry 1500 bytes: an IPv6 outer header (40) + UDP (8) + our overhead leaves this much inside.
  const expectedMtu = 1500 - 40 - 8 - DATA_OVERHEAD_BYTES
  const deadline = Date.now() + 10_000
  let mtu = 0
  while (Date.now() < deadline) {
    mtu = Number(/ mtu (\d+)/.exec((await nsExec(net.client, 'ip', ['link', 'show', 'dev', 'tun0'])).stdout)?.[1])
    if (mtu === expectedMtu) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.equal(mtu, expectedMtu, 'the TUN MTU leaves room for the IPv6 outer header')
  const full = await ping(net.client, INNER_SERVER_V6, 3, 0.2, ['-6', '-M', 'do', '-s', String(expectedMtu - 48)])
  assert.equal(full.lossPct, 0, 'a full-size inner IPv6 packet with DF crosses')

  // TCP over inner IPv6 on both outer IPv6 paths: `redundant` sends every packet on each (over two
  // unshaped veths `auto` may rightly leave one path nearly idle, which would prove nothing here).
  s.add(await iperfServer(net.server, INNER_SERVER_V6, 5201))
  const r = await iperfClient(net.client, INNER_SERVER_V6, 5201, ['-t', '3'])
  const shown = await requestControl(socketPath(controlDir, 'v6cli'), { cmd: 'status' }) as StatusReport
  const session = shown.sessions[0]
  assert.ok(session !== undefined, 'the client shows its session')
  const paths = session.paths ?? []
  const bytes = paths.map((p) => p.bytesOut)
  t.diagnostic(`iperf3 over inner IPv6: ${(r.receivedBps / 1e6).toFixed(0)} Mbit/s, ${r.retransmits} retransmits; client path bytes ${bytes.join(' / ')}`)
  assert.ok(r.receivedBps > 0)
  assert.equal(bytes.length, 2)
  const total = bytes[0]! + bytes[1]!
  assert.ok(Math.min(...bytes) > total * 0.4, `both IPv6 paths carried the whole flow (${bytes.join(' / ')} bytes)`)
  assert.deepEqual(paths.map((p) => p.local.replace(/:\d+$/, '')).sort(), net.clientAddresses.map((a) => `[${a}]`).sort(), 'show brackets IPv6 addresses')
})
