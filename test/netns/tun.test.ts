// TunDevice against the real kernel, in a throwaway network namespace (needs root).
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { addonPath } from '../../src/native/index.js'
import { VethStar, NsProcess, keygen, startTttServer, startTttClient, stopTtt, iperfServer, iperfClient, sleep, tttPath } from '../../bench/lib/vpn.js'

const check = fileURLToPath(new URL('./helpers/tun-check.js', import.meta.url))
const skip = process.getuid?.() !== 0 ? 'needs root (TUN devices, network namespaces)'
  : !existsSync('/dev/net/tun') ? 'no /dev/net/tun'
  : spawnSync('unshare', ['--version']).status !== 0 ? 'unshare (util-linux) is not installed'
  : !existsSync(addonPath) ? `${addonPath} is missing (run npm install)`
  : undefined

interface Observations {
  link: { mtu: number, up: boolean, addresses: string[] }
  read: { seqs: number, inOrder: boolean, batches: number, order: string[], stats: Record<string, number> }
  backpressure: { whileStopped: number, afterStart: number }
  write: { single: boolean, batch: number, slotWrites: number, garbage: boolean, got: string[], stats: Record<string, number> }
  open: { busy: string, anyName: string, multiQueue: [string, string, boolean] }
  closed: boolean
}
let seen: Observations

before(async () => {
  if (skip) return
  // `unshare --net`: the namespace, and every device in it, dies with the child, pass or fail.
  const { stdout } = await promisify(execFile)('unshare', ['--net', process.execPath, check], { timeout: 20_000 })
  seen = JSON.parse(stdout) as Observations
})

test('open configures MTU, addresses (IPv4 and IPv6) and brings the device up', { skip }, () => {
  const global = seen.link.addresses.filter((a) => !a.startsWith('fe80:'))
  assert.deepEqual({ ...seen.link, addresses: global }, { mtu: 1400, up: true, addresses: ['10.77.0.1/24', 'fd00:77::1/64'] })
})

test('reads arrive in order, in batches, with microtasks run between batches', { skip }, () => {
  assert.equal(seen.read.seqs, 200)
  assert.equal(seen.read.inOrder, true)
  assert.ok(seen.read.batches < 200, `${seen.read.batches} batches for 200 packets`)
  assert.equal(seen.read.stats.readBatches, seen.read.batches)
  assert.ok(seen.read.stats.readPackets! >= 200)
  assert.deepEqual(seen.read.order.slice(0, 4), ['batch 0', 'microtask 0', 'batch 1', 'microtask 1'])
})

test('stop holds packets in the kernel until start', { skip }, () => {
  assert.deepEqual(seen.backpressure, { whileStopped: 0, afterStart: 10 })
})

test('single, batched and slot writes reach sockets; a refused packet is counted, not thrown', { skip }, () => {
  assert.equal(seen.write.single, true)
  assert.equal(seen.write.batch, 3)
  assert.equal(seen.write.slotWrites, 2)
  assert.equal(seen.write.garbage, false)
  assert.deepEqual(seen.write.got, ['batch-0', 'batch-1', 'batch-2', 'single', 'slot-0', 'slot-1'])
  assert.equal(seen.write.stats.writePackets, 6)
  assert.equal(seen.write.stats.writeErrors, 1)
  assert.equal(seen.write.stats.lastErrno, 22, 'EINVAL')
})

test('open errors are typed; kernel-chosen names and multi-queue work; close removes the device', { skip }, () => {
  assert.match(seen.open.busy, /^EBUSY: couldn't attach TUN device gsttun0: EBUSY \(in use/)
  assert.match(seen.open.anyName, /^tun\d+$/)
  assert.deepEqual(seen.open.multiQueue, ['gstmq0', 'gstmq0', true])
  assert.equal(seen.closed, true)
})

// ---- TUN offload end to end: real TCP through ttt (TSO super-packets cut on one side, glued on the other)

const tttMissing = !existsSync(tttPath) ? `${tttPath} is missing (run npx tsc -p .)` : spawnSync('iperf3', ['--version']).status !== 0 ? 'iperf3 is not installed' : undefined

function counter (ns: string, name: string): number {
  const out = spawnSync('ip', ['netns', 'exec', ns, 'nstat', '-az', name], { encoding: 'utf8' }).stdout
  return Number(new RegExp(`${name}\\s+(\\d+)`).exec(out)?.[1] ?? NaN)
}

test('TUN offload: TCP over IPv4 and IPv6 through ttt, both ways, arrives whole: super-packets are cut and glued, no checksum error anywhere', { skip: skip ?? tttMissing, timeout: 120_000 }, async (t) => {
  const star = VethStar.create(1)
  const procs: NsProcess[] = []
  t.after(async () => { for (const p of procs) p.kill(); await Promise.all(procs.map(async (p) => await p.exited)); star.destroy() })
  const [c, s] = [star.spokes[0]!, star.hub]
  const key = keygen()
  const server = startTttServer(s, `${star.hubAddress(0)}:5000`, '10.9.0.1/24', { key, extra: ['--address', 'fd00:9::1/64'] })
  procs.push(server)
  await server.waitFor(/listening/)
  const client = startTttClient(c, `${star.hubAddress(0)}:5000`, '10.9.0.2/24', [star.spokeAddress(0)], { key, extra: ['--address', 'fd00:9::2/64'] })
  procs.push(client)
  await client.waitFor(/session with .* up/)
  // IPv6 addresses are usable once duplicate address detection is done.
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const tentative = [c, s].some((ns) => spawnSync('ip', ['-n', ns, '-6', 'addr'], { encoding: 'utf8' }).stdout.includes('tentative'))
    if (!tentative) break
    await sleep(100)
  }
  for (const [target, reverse] of [['10.9.0.1', false], ['fd00:9::1', false], ['10.9.0.1', true], ['fd00:9::1', true]] as const) {
    const srv = await iperfServer(s, target, 5201)
    procs.push(srv)
    const r = await iperfClient(c, target, 5201, ['-t', '2', ...(reverse ? ['-R'] : [])])
    await srv.exited
    t.diagnostic(`${target}${reverse ? ' reverse' : ''}: ${(r.receivedBps / 1e6).toFixed(0)} Mbit/s, ${r.retransmits} retransmits`)
    assert.ok(r.receivedBps > 0 && r.seconds > 0, `${target}${reverse ? ' reverse' : ''}: the transfer completed`)
  }
  for (const ns of [c, s]) {
    assert.equal(counter(ns, 'TcpInCsumErrors'), 0, `${ns}: no TCP checksum errors`)
    assert.equal(counter(ns, 'Ip6InHdrErrors') + counter(ns, 'IpInHdrErrors'), 0, `${ns}: no IP header errors`)
  }
  const sv = await stopTtt(server)
  const cl = await stopTtt(client)
  const tun = (x: typeof cl): Record<string, number> => x.tun as unknown as Record<string, number>
  t.diagnostic(`client tun ${JSON.stringify(cl.tun)}; server tun ${JSON.stringify(sv.tun)}`)
  assert.ok(tun(cl).readSuper! > 0 && tun(sv).readSuper! > 0, 'both ends read TCP super-packets from their TUN and cut them')
  assert.ok(tun(cl).writeSuper! > 0 && tun(sv).writeSuper! > 0, 'both ends glued received segments into super-packets')
  assert.equal(tun(cl).readErrors, 0)
  assert.equal(tun(sv).readErrors, 0)
  assert.deepEqual(sv.errors, {}, 'the server counted no errors')
})
