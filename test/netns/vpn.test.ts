// ttt end to end: client and server in namespaces joined by lab links (or veths), real ping and
// iperf3 TCP through the tunnel. Assertions use the "ttt ... closing:" counter lines (until
// `ttt show` exists), the lab's link counters, and a userspace NAT box (bench/lib/udp-relay.ts)
// that rebinds source ports and captures real datagrams to replay, truncate and corrupt.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { Lab, LinkConfig } from '../lab/lab.js'
import {
  VethStar, NsProcess, Relay, keygen, startTttServer, startTttClient, stopTtt, iperfServer, iperfClient, ping, nsExec, sleep,
  type IperfResult, type Closing,
} from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { innerPacket } from '../helpers/inner-packet.js'
import { flowBucketOf } from '../../src/multipath/index.js'
import { Scope, tttLabSkip } from './helpers/scope.js'

useTestControlDir()   // every ttt started here inherits $GST_CONTROL_DIR: nothing lands in /run/gst

const skip = tttLabSkip({ iperf: true })

const PORT = 5000
const SERVER_INNER = '10.9.0.1'

/** Longest run of iperf3 intervals carrying less than 10 % of the median rate, in seconds. */
function longestStall (r: IperfResult): number {
  const rates = r.intervals.map((i) => i.bitsPerSecond).sort((a, b) => a - b)
  const median = rates[Math.floor(rates.length / 2)] ?? 0
  let longest = 0; let run = 0
  for (const i of r.intervals) {
    if (i.bitsPerSecond < median * 0.1) { run += i.end - i.start; longest = Math.max(longest, run) } else run = 0
  }
  return longest
}

function mbit (bps: number): string { return (bps / 1e6).toFixed(1) }

async function tunnelUp (client: NsProcess): Promise<void> {
  await client.waitFor(/session with .* up/, 10_000)
}

/** A tunnel over lab links, one client path per link, up. */
async function labTunnel (s: Scope, links: LinkConfig[], clientExtra: string[] = [], existing?: Lab): Promise<{ lab: Lab, server: NsProcess, client: NsProcess }> {
  const lab = existing ?? await s.lab$(links)
  const key = keygen()
  const server = s.add(startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key }))
  await server.waitFor(/listening/)
  const client = s.add(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', links.map((_, i) => lab.clientAddress(i)), { key, extra: clientExtra }))
  await tunnelUp(client)
  return { lab, server, client }
}

test('one lab link: ping and iperf3 through the tunnel', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const { lab, server, client } = await labTunnel(s, [{ delayMs: 2, rateMbit: 100, queuePkts: 200 }])
  const p = await ping(lab.namespaces.client, SERVER_INNER, 10, 0.1)
  assert.equal(p.lossPct, 0, 'ping through the tunnel loses nothing')
  assert.ok(p.avgMs >= 3.5 && p.avgMs < 30, `ping RTT ${p.avgMs} ms is about twice the 2 ms link delay`)
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const r = await iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '3'])
  t.diagnostic(`ping avg ${p.avgMs} ms; iperf3 ${mbit(r.receivedBps)} Mbit/s over a 100 Mbit/s link, ${r.retransmits} retransmits`)
  // A functional check (a real TCP flow crosses the tunnel at a useful rate); how fast is measured
  // by `npm run bench:vpn`, not asserted here, since the shared CI machine's load moves it 2x.
  assert.ok(r.receivedBps > 20e6, `iperf3 through the tunnel: ${mbit(r.receivedBps)} Mbit/s over a 100 Mbit/s link`)
  const sv = await stopTtt(server)   // first: a client's Close makes the server forget its counters
  const c = await stopTtt(client)
  assert.ok(c.peers[0]!.tx > 1000 && sv.peers[0]!.rx > 1000, 'both ends count the flow')
  assert.deepEqual(sv.errors, {}, 'the server counted no errors')
})

test('two lab links: both paths carry the flow', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const { lab, server, client } = await labTunnel(s, [{ delayMs: 5, rateMbit: 30, queuePkts: 100 }, { delayMs: 5, rateMbit: 30, queuePkts: 100 }])
  const p = await ping(lab.namespaces.client, SERVER_INNER, 10, 0.1)
  assert.equal(p.lossPct, 0)
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  await sleep(1500)   // idle, as a tunnel is before its traffic starts
  const r = await iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '4'])
  const [l0, l1] = [await lab.stats(0), await lab.stats(1)]
  await stopTtt(server)
  const c = await stopTtt(client)
  const writes = c.udp.map((u) => u.writePackets)
  t.diagnostic(`iperf3 ${mbit(r.receivedBps)} Mbit/s over 2 x 30 Mbit/s; client UDP writes per path ${writes.join(' / ')}; lab up pkts ${l0.up.txPkts} / ${l1.up.txPkts}; refused ${c.peers[0]!.refused}`)
  assert.equal(writes.length, 2)
  const total = writes[0]! + writes[1]!
  for (const [i, w] of writes.entries()) assert.ok(w > total * 0.2, `path ${i} carried ${w} of ${total} datagrams`)
  assert.ok(l0.up.txPkts > 1000 && l1.up.txPkts > 1000, 'both lab links carried packets')
  // Both paths carrying data is what this checks (above); how much the bond adds up to is
  // measured by `npm run bench:bonding`, not asserted on a shared CI machine.
  assert.ok(r.receivedBps > 15e6, `the bonded flow moved ${mbit(r.receivedBps)} Mbit/s`)
})

// A ping and a download whose 5-tuples hash into the same flow bucket (1 in 64): the ping must
// still go first (sparse), not wait behind the download in the bucket's queues and reorder sequence.
test('a ping that shares the download\'s flow bucket still goes first', { skip, timeout: 60_000 }, async (t) => {
  const pingPacket = innerPacket(84, { protocol: 1 })
  let cport = 40000
  const collides = (port: number): boolean => {
    const tcp = innerPacket(1400, { protocol: 6, srcPort: port, dstPort: 5201 })
    return flowBucketOf(tcp) === flowBucketOf(pingPacket) && flowBucketOf(tcp, 1024) !== flowBucketOf(pingPacket, 1024)
  }
  while (!collides(cport)) cport++
  const s = new Scope(t)
  const { lab, server, client } = await labTunnel(s, [{ delayMs: 10, rateMbit: 20, queuePkts: 100 }, { delayMs: 60, rateMbit: 10, queuePkts: 100 }])
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const idle = await ping(lab.namespaces.client, SERVER_INNER, 10, 0.1)
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const flow = iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '6', '--cport', String(cport)])
  await sleep(2000)   // the download fills the bond
  const loaded = await ping(lab.namespaces.client, SERVER_INNER, 20, 0.1)
  const r = await flow
  await stopTtt(server)
  const c = await stopTtt(client)
  const sparse = / sparse (\d+)/.exec(c.line)?.[1]
  t.diagnostic(`iperf3 from port ${cport}: ${mbit(r.receivedBps)} Mbit/s; ping median idle ${median(idle.rtts)} ms, under the download ${median(loaded.rtts)} ms; client sparse sends ${sparse}`)
  assert.equal(loaded.lossPct, 0)
  // Relative to the same tunnel idle (l1's ~20 ms): behind the download the echo waited for its
  // packets on l2 (60 ms one way): 47-85 ms in the lab (2.1-4x idle); going first, it sees l1 plus
  // its bottleneck budget (5 ms): 25-26 ms (1.2x).
  assert.ok(median(loaded.rtts) < 1.6 * median(idle.rtts), `ping median ${median(loaded.rtts)} ms under the download, ${median(idle.rtts)} ms idle`)
})

/** Median time of `count` TCP handshakes from `ns` to host:port, in ms (a Node client: connect, close). */
async function tcpConnectMedianMs (ns: string, host: string, port: number, count: number): Promise<number> {
  const script = `const net = require('node:net'); const ms = []
    const one = () => { const t = process.hrtime.bigint(); const s = net.connect(${port}, '${host}', () => {
      ms.push(Number(process.hrtime.bigint() - t) / 1e6); s.destroy()
      if (ms.length < ${count}) setTimeout(one, 100); else console.log(JSON.stringify(ms)) })
      s.on('error', (e) => { console.error(e.message); process.exit(1) }) }
    one()`
  const ms = JSON.parse((await nsExec(ns, process.execPath, ['-e', script], 30_000)).stdout) as number[]
  return [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!
}

test('--equal-delay on the client: a TCP segment it receives over the fast link waits for the slow link\'s delay, a ping does not; with "all", the ping waits too', { skip, timeout: 90_000 }, async (t) => {
  const s = new Scope(t)
  const links = [{ delayMs: 10, rateMbit: 20, queuePkts: 100 }, { delayMs: 60, rateMbit: 10, queuePkts: 100 }]
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const runs: { extra: string[], pingMs: number, connectMs: number }[] = []
  let lab: Lab | undefined
  for (const extra of [[], ['--equal-delay'], ['--equal-delay', 'all']]) {
    const tunnel = await labTunnel(s, links, extra, lab)
    lab = tunnel.lab
    if (runs.length === 0) {
      const listener = s.add(NsProcess.spawn('tcp listener', lab.namespaces.server, process.execPath,
        ['-e', "require('node:net').createServer((c) => { c.on('error', () => {}); c.end() }).listen(7100, () => console.log('ready'))"]))
      await listener.waitFor(/ready/)
    }
    await sleep(1000)   // both paths' delays known (probes)
    const p = await ping(lab.namespaces.client, SERVER_INNER, 20, 0.1)
    assert.equal(p.lossPct, 0, `ping through the tunnel ${extra.join(' ')}`)
    const connectMs = await tcpConnectMedianMs(lab.namespaces.client, SERVER_INNER, 7100, 10)
    runs.push({ extra, pingMs: median(p.rtts), connectMs })
    await stopTtt(tunnel.server)
    const c = await stopTtt(tunnel.client)
    assert.equal(/ delayed \d+/.test(c.line), extra.length > 0, `the client's summary counts what it delayed only with the option: ${c.line}`)
  }
  t.diagnostic(runs.map((r) => `${r.extra.join(' ') || 'without'}: ping ${r.pingMs} ms, TCP handshake ${r.connectMs.toFixed(1)} ms`).join('; '))
  const [off, tcp, all] = runs as [typeof runs[0], typeof runs[0], typeof runs[0]]
  // The SYN and the echo request cross l1 (10 ms) either way; the SYN-ACK and the echo reply come
  // back over l1 too, and a held one waits at the client until l2's 60 ms have passed: about +50 ms.
  assert.ok(tcp.connectMs > off.connectMs + 35 && tcp.connectMs < off.connectMs + 80, `bare --equal-delay holds TCP: handshake ${tcp.connectMs} ms against ${off.connectMs} ms`)
  assert.ok(tcp.pingMs < off.pingMs + 15, `bare --equal-delay lets a ping through: ${tcp.pingMs} ms against ${off.pingMs} ms`)
  assert.ok(all.pingMs > off.pingMs + 35 && all.pingMs < off.pingMs + 80, `--equal-delay all holds the ping too: ${all.pingMs} ms against ${off.pingMs} ms`)
  assert.ok(all.connectMs > off.connectMs + 35, `and TCP: ${all.connectMs} ms against ${off.connectMs} ms`)
})

// The server listens on 0.0.0.0 and the client writes to its loopback address, which is no
// link's route source: replies must leave from the address written to (IP_PKTINFO), or the client
// drops them as "not the server" and the tunnel never comes up.
test('a server on 0.0.0.0 with an address per link replies from the address each path wrote to', { skip, timeout: 30_000 }, async (t) => {
  const s = new Scope(t)
  const lab = await s.lab$([{ delayMs: 2 }, { delayMs: 2 }])
  const key = keygen()
  const server = s.add(startTttServer(lab.namespaces.server, `0.0.0.0:${PORT}`, `${SERVER_INNER}/24`, { key }))
  await server.waitFor(/listening/)
  const client = s.add(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0), lab.clientAddress(1)], { key }))
  await tunnelUp(client)
  const p = await ping(lab.namespaces.client, SERVER_INNER, 10, 0.1)
  assert.equal(p.lossPct, 0, 'ping through the tunnel loses nothing')
  for (const [i, from] of [lab.clientAddress(0), lab.clientAddress(1)].entries()) {
    const learned = new RegExp(`path ${i} from ${from.replaceAll('.', '\\.')}:\\d+ \\(to ${lab.serverAddress.replaceAll('.', '\\.')}\\)`)
    await server.waitFor(learned, 5000)
  }
  const c = await stopTtt(client)
  assert.equal(c.errors.stranger, undefined, 'no reply came from an address the client did not write to')
})

test('two clients on one server port talk to the server and to each other', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const star = s.star = VethStar.create(2)
  await nsExec(star.hub, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'])
  const key = keygen()
  const server = s.add(startTttServer(star.hub, `0.0.0.0:${PORT}`, `${SERVER_INNER}/24`, { key }))
  await server.waitFor(/listening/)
  const a = s.add(startTttClient(star.spokes[0]!, `${star.hubAddress(0)}:${PORT}`, '10.9.0.2/24', [star.spokeAddress(0)], { key }))
  const b = s.add(startTttClient(star.spokes[1]!, `${star.hubAddress(1)}:${PORT}`, '10.9.0.3/24', [star.spokeAddress(1)], { key }))
  await tunnelUp(a)
  await tunnelUp(b)
  const [pa, pb] = await Promise.all([ping(star.spokes[0]!, SERVER_INNER, 5, 0.1), ping(star.spokes[1]!, SERVER_INNER, 5, 0.1)])
  assert.equal(pa.lossPct, 0, 'client A reaches the server')
  assert.equal(pb.lossPct, 0, 'client B reaches the server')
  const ab = await ping(star.spokes[0]!, '10.9.0.3', 5, 0.1)
  const ba = await ping(star.spokes[1]!, '10.9.0.2', 5, 0.1)
  assert.equal(ab.lossPct, 0, 'A reaches B through the server')
  assert.equal(ba.lossPct, 0, 'B reaches A through the server')
  s.add(await iperfServer(star.spokes[1]!, '10.9.0.3', 5201))
  const r = await iperfClient(star.spokes[0]!, '10.9.0.3', 5201, ['-t', '2'])
  t.diagnostic(`A -> B through the server: ${mbit(r.receivedBps)} Mbit/s, ${r.retransmits} retransmits`)
  // That TCP flows from A to B is what this checks; its rate on a shared machine (11.7-108 Mbit/s seen) is for the benches.
  assert.ok(r.receivedBps > 1e6, `A -> B moved ${mbit(r.receivedBps)} Mbit/s`)
  const sv = await stopTtt(server)
  await stopTtt(a); await stopTtt(b)
  assert.equal(sv.peers.length, 2, `the server had two clients: ${sv.line}`)
  for (const peer of sv.peers) assert.ok(peer.rx > 100 && peer.tx > 100, `each client's traffic counted: ${JSON.stringify(peer)}`)
})

/** Server + client with the client's one path through the NAT box in the client namespace. */
async function natSetup (s: Scope, t: TestContext, link: LinkConfig, serverExtra: string[] = [], clientExtra: string[] = []): Promise<{ lab: Lab, server: NsProcess, client: NsProcess, relay: Relay, key: string }> {
  const lab = s.lab ?? await s.lab$([link])
  const key = keygen()
  const server = s.add(startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key, extra: serverExtra }))
  await server.waitFor(/listening/)
  const relay = s.relay = await Relay.start(lab.namespaces.client, lab.clientAddress(0), 6000, lab.clientAddress(0), lab.serverAddress, PORT)
  const client = s.add(startTttClient(lab.namespaces.client, `${lab.clientAddress(0)}:6000`, '10.9.0.2/24', [lab.clientAddress(0)], { key, extra: clientExtra }))
  await tunnelUp(client)
  void t
  return { lab, server, client, relay, key }
}

test('NAT rebinding: the path\'s source port changes twice mid-flow without a stall', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const { lab, server, client, relay } = await natSetup(s, t, { delayMs: 5, rateMbit: 50, queuePkts: 100 })
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const flow = iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '6', '-i', '0.1'])
  await sleep(2000)
  const first = await relay.command('rebind')
  await sleep(2000)
  const second = await relay.command('rebind')
  const r = await flow
  const stall = longestStall(r)
  const moved = server.lines.filter((l) => /path 0 moved to/.test(l))
  t.diagnostic(`rebinds to ports ${String(first.upstreamPort)}, ${String(second.upstreamPort)}; ${mbit(r.receivedBps)} Mbit/s, longest stall ${stall.toFixed(2)} s, ${r.retransmits} retransmits; server: ${moved.length} moves`)
  const sv = await stopTtt(server)
  await stopTtt(client)
  assert.equal(moved.length, 2, `the server followed both rebinds: ${server.text.slice(-1500)}`)
  assert.equal(sv.peers.length, 1, 'still one client (no new session)')
  assert.ok(stall < 1, `longest stall ${stall.toFixed(2)} s`)
  assert.ok(r.receivedBps > 20e6, `flow kept going: ${mbit(r.receivedBps)} Mbit/s`)
})

test('bad input: wrong key, replayed, truncated, corrupted and garbage datagrams are dropped and counted; the flow is unaffected', { skip, timeout: 90_000 }, async (t) => {
  const s = new Scope(t)
  // An unshaped link and a paced flow: no queue anywhere overflows, so every injected datagram
  // reaches the server and any loss or retransmit would be the injection's doing.
  const { lab, server, client, relay } = await natSetup(s, t, { delayMs: 2 })
  // A wrong-key client from the same namespace, straight to the server, TUN left unconfigured.
  const intruder = s.add(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '', [lab.clientAddress(0)], { key: keygen(), extra: ['--tun', 'ttbad0'] }))
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const flow = iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '6', '-i', '0.1', '-b', '30M'])
  const pinger = ping(lab.namespaces.client, SERVER_INNER, 100, 0.05)
  await sleep(1500)
  const injected: Record<string, number> = {}
  for (const [cmd, n] of [['replay', '200 same'], ['replay', '200 fresh'], ['truncate', '100'], ['corrupt', '100'], ['badsession', '100'], ['garbage', '100'], ['badinit', '10']] as const) {
    const reply = await relay.command(`${cmd} ${n}`)
    injected[`${cmd} ${n}`] = Number(reply.sent)
    await sleep(200)
  }
  const [r, p] = await Promise.all([flow, pinger])
  const stall = longestStall(r)
  await sleep(500)
  // Its first "no answer" line comes 5 s after its first handshake (later on a loaded machine).
  const noAnswer = await intruder.waitFor(/no answer from /, 15_000).catch(() => '')
  const ic = await stopTtt(intruder)
  const sv = await stopTtt(server)   // first: a client's Close makes the server forget its counters
  const c = await stopTtt(client)
  t.diagnostic(`injected ${JSON.stringify(injected)}; server errors ${JSON.stringify(sv.errors)}; intruder errors ${JSON.stringify(ic.errors)}`)
  t.diagnostic(`flow ${mbit(r.receivedBps)} Mbit/s, ${r.retransmits} retransmits, longest stall ${stall.toFixed(2)} s; ping loss ${p.lossPct} %, max ${p.maxMs} ms`)
  assert.ok(!intruder.lines.some((l) => /session with .* up/.test(l)), 'the wrong-key client never got a session')
  assert.match(noAnswer, /no answer from .* to \d+ handshakes in \d+ s: .* does it have this client's key\?/, `the wrong-key client says why it may get no answer: ${intruder.text.slice(-800)}`)
  assert.ok((sv.errors.handshake ?? 0) >= 3, `the server counted the wrong key's handshakes: ${JSON.stringify(sv.errors)}`)
  assert.equal(sv.peers.length, 1, 'no session for anyone but the real client')
  assert.ok((sv.errors.replay ?? 0) >= 400, `replays counted: ${JSON.stringify(sv.errors)}`)
  assert.ok((sv.errors['unknown-session'] ?? 0) >= 100, 'random session indexes counted')
  assert.ok((sv.errors.decrypt ?? 0) >= 100, 'corrupted datagrams counted')
  assert.ok((sv.errors.malformed ?? 0) >= 100, 'garbage counted')
  const total = Object.values(sv.errors).reduce((a, b) => a + b, 0)
  const sent = Object.values(injected).reduce((a, b) => a + b, 0)
  assert.ok(total >= sent, `every injected datagram was counted (${total} errors for ${sent} injected + the intruder's handshakes)`)
  assert.ok(!server.lines.some((l) => /moved to/.test(l)), 'no injected datagram moved the path')
  assert.equal(p.lossPct, 0, 'the ping running meanwhile lost nothing')
  assert.ok(stall < 0.3, `the iperf3 flow did not stall (${stall.toFixed(2)} s)`)
  assert.ok(r.receivedBps > 27e6, `flow ${mbit(r.receivedBps)} Mbit/s of 30 paced`)
  assert.ok(r.retransmits <= 5, `${r.retransmits} retransmits`)
  assert.deepEqual(c.errors, {}, 'the real client saw no errors')
})

test('key rotation under load (--rekey 1): keys rotate without errors or stalls; retransmits compared with a run without rotation', { skip, timeout: 150_000 }, async (t) => {
  const s = new Scope(t)
  const lab = await s.lab$([{ delayMs: 1 }])
  type Run = { rekey: boolean, paced: boolean, r: IperfResult, epochChanges: number, c: Closing }
  const runs: Run[] = []
  // Unlimited flows (the CPU is the bottleneck, ttt refuses packets over its queue budget) and
  // paced ones (30 Mbit/s: no bottleneck, so any retransmit is the rotation's doing).
  for (const paced of [false, true]) {
    for (const rekey of [false, true]) {
      const extra = rekey ? ['--rekey', '1'] : []
      const { server, client, relay } = await natSetup(s, t, {}, extra, extra)
      const iperf = s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
      const r = await iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '10', '-i', '0.1', ...(paced ? ['-b', '30M'] : [])])
      const st = await relay.command('stats')
      const sv = await stopTtt(server)
      const c = await stopTtt(client)
      await relay.stop()
      await iperf.stop()
      t.diagnostic(`  retransmits by 0.1 s interval: ${r.intervals.filter((i) => i.retransmits > 0).map((i) => `${i.end.toFixed(1)}:${i.retransmits}`).join(' ')}`)
      t.diagnostic(`  server: refused ${sv.peers[0]?.refused}, errors ${JSON.stringify(sv.errors)}`)
      runs.push({ rekey, paced, r, epochChanges: Number(st.epochChanges), c })
      t.diagnostic(`${paced ? 'paced 30M' : 'unlimited'} ${rekey ? '--rekey 1' : 'no rekey '}: ${mbit(r.receivedBps)} Mbit/s, ${r.retransmits} retransmits, longest stall ${longestStall(r).toFixed(2)} s, key epochs changed ${String(st.epochChanges)} times; client refused ${c.peers[0]!.refused}, reorder ${JSON.stringify(c.peers[0]!.reorder)}, errors ${JSON.stringify(c.errors)}`)
    }
  }
  const [base, rot, pacedBase, pacedRot] = runs as [Run, Run, Run, Run]
  assert.equal(base.epochChanges, 0)
  assert.ok(rot.epochChanges >= 5 && pacedRot.epochChanges >= 5, `keys rotated ${rot.epochChanges} / ${pacedRot.epochChanges} times in 10 s`)
  assert.ok(longestStall(pacedRot.r) < 0.3, 'paced flow: no stall across rotations')
  for (const run of [rot, pacedRot]) assert.deepEqual(Object.keys(run.c.errors).filter((k) => k !== 'replay'), [], `no decrypt/epoch errors across rotations: ${JSON.stringify(run.c.errors)}`)
  // A rotation costs each end about 0.3-0.7 ms of handshake CPU on the event loop (X25519, BLAKE2b):
  // too short to overflow anything. The refusal bursts once blamed on rotation (hundreds within
  // 0.1 s, with and without rotation alike) were the only path judged down for a few ms after
  // either end was off-CPU, when every waiting packet was refused at once; they now wait (see
  // test/unit/vpn/peer-no-path.test.ts and the SIGSTOP test below). What is left to compare:
  // ttt's own drops (client "refused") and iperf3's retransmits, which on a loaded machine also
  // count the kernel's loss probes after a delayed ACK, with and without rotation alike.
  // Rotation's own cost is judged on the paced flow, which no queue of ours ever drops from
  // (0 refused with and without rotation in every run). An unlimited flow fills the bottleneck:
  // the wait queue's time bound then drops what waited too long, the inner TCP's congestion
  // signal, and that count varied from 0 to 2974 between identical runs with or without
  // rotation (CI runs of session 4: 1609/846, 1727/1442, 1403/0, 2263/2974), so a ratio of the
  // two cannot single out rotation; the unlimited run is held to no decrypt or epoch errors above.
  await t.test('rotation adds no refused packets and no retransmits beyond the run without it (paced flow)', () => {
    const refused = (run: Run): number => run.c.peers[0]!.refused
    assert.ok(refused(pacedRot) <= refused(pacedBase) + 2, `paced: ttt refused ${refused(pacedRot)} packets with rotation, ${refused(pacedBase)} without`)
    assert.ok(pacedRot.r.retransmits <= pacedBase.r.retransmits + 10, `paced: retransmits with rotation ${pacedRot.r.retransmits} vs ${pacedBase.r.retransmits} without`)
  })
})

// CPU starvation made real: the client process is stopped (SIGSTOP) for 150 ms, four times,
// under an unlimited flow. The server's replies wait in the client's socket meanwhile. Before,
// the client's first tick on waking often judged its only path by that silence and declared it
// down, and every packet waiting or handed over by the TUN until the replies were read was
// refused at once (250-300 per run here, each an inner TCP retransmit). Now a late tick reads the
// sockets first (src/vpn/tick-gate.ts), and packets wait out a short down within the wait's bound.
test('a client stopped for 150 ms under a flow refuses nothing for want of a path on waking', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const lab = await s.lab$([{ delayMs: 1 }])
  const key = keygen()
  const server = s.add(startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key }))
  await server.waitFor(/listening/)
  const client = s.add(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0)], { key }))
  await tunnelUp(client)
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const flow = iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '7', '-i', '0.1'])
  const downLines = (): number => client.lines.filter((l) => / down \(no replies/.test(l)).length
  let downsAfterWaking = 0
  try {
    for (let i = 0; i < 4; i++) {
      await sleep(1200)
      const before = downLines()
      process.kill(client.pid, 'SIGSTOP')
      await sleep(150)
      process.kill(client.pid, 'SIGCONT')
      await sleep(100)
      downsAfterWaking += downLines() - before
    }
  } finally {
    if (client.running) process.kill(client.pid, 'SIGCONT')
  }
  const r = await flow
  const sv = await stopTtt(server)
  const c = await stopTtt(client)
  const peer = c.peers[0]!
  // Refusals the wait counts are its own bounds (a burst `auto` could not place in 25 ms, or the
  // oldest waiting past the 100 ms ceiling: what waited through the 150 ms stop does); the rest
  // are packets dropped because no path was usable.
  const noPath = peer.refused - (peer.wait?.refusedAged ?? 0) - (peer.wait?.refusedCeiling ?? 0) - (peer.wait?.refusedFull ?? 0)
  t.diagnostic(`${mbit(r.receivedBps)} Mbit/s, ${r.retransmits} retransmits; client path down right after waking ${downsAfterWaking} times; client refused ${peer.refused} (${noPath} for want of a path), wait ${JSON.stringify(peer.wait)}; server refused ${sv.peers[0]?.refused}`)
  assert.equal(noPath, 0, 'no packet was refused for want of a usable path')
})

test('a fresh tunnel: a paced 30 Mbit/s TCP flow over an unshaped link: nothing refused', {
  skip,
  timeout: 60_000,
  // Before 86a0ed4 ("packets wait ... instead of being refused at once") ~200 packets of the
  // first second were refused here (client "refused" == iperf3 retransmits).
}, async (t) => {
  const s = new Scope(t)
  const { lab, server, client } = await natSetup(s, t, { delayMs: 1 })
  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const r = await iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '6', '-i', '0.5', '-b', '30M'])
  await stopTtt(server)
  const c = await stopTtt(client)
  const when = r.intervals.filter((i) => i.retransmits > 0).map((i) => `${i.end.toFixed(1)}s:${i.retransmits}`).join(' ')
  t.diagnostic(`${mbit(r.receivedBps)} Mbit/s, ${r.retransmits} retransmits (${when}); client refused ${c.peers[0]!.refused}, paths ${c.paths.join(' ')}`)
  assert.equal(c.peers[0]!.refused, 0, 'ttt refused nothing')
  // A handful of retransmits remain under load (the path runs through the userspace NAT box).
  assert.ok(r.retransmits <= 20, `${r.retransmits} retransmits`)
})
