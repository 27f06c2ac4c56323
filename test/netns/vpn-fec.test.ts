// ttt over two lab links, the slower one losing 5 % of its packets at random: the client protects
// it with FEC parity, the server rebuilds from it and copies its nacks to the fast path, and a TCP
// stream through the tunnel arrives byte for byte. Figures are for the diagnostic; the assertions
// are on function (counters moved, data intact), not speed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NsProcess, keygen, startTttServer, startTttClient, stopTtt, nsExec, type Closing } from '../../bench/lib/vpn.js'
import { tcpFlowPath, flowReport } from '../../bench/lib/lab-flow.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { Scope, tttLabSkip } from './helpers/scope.js'

useTestControlDir()

const skip = tttLabSkip({})

const PORT = 5000
const SERVER_INNER = '10.9.0.1'

/** The FEC and nack-copy counters of a closing line ("copies N parities N rebuilt N"). */
function fecCounters (c: Closing): { copies: number, parities: number, rebuilt: number } {
  const m = /copies (\d+) parities (\d+) rebuilt (\d+)/.exec(c.line)
  assert.ok(m, `no FEC counters in the closing line: ${c.line}`)
  return { copies: Number(m[1]), parities: Number(m[2]), rebuilt: Number(m[3]) }
}

/** TCP segments that arrived with a bad checksum in namespace `ns` (/proc/net/snmp, per namespace). */
async function tcpChecksumErrors (ns: string): Promise<number> {
  const { stdout } = await nsExec(ns, 'cat', ['/proc/net/snmp'])
  const [names, values] = stdout.split('\n').filter((l) => l.startsWith('Tcp:')).map((l) => l.trim().split(/\s+/))
  return Number(values![names!.indexOf('InCsumErrors')])
}

test('5 % loss on the slower link: parity sent on it, packets rebuilt, nacks copied to the fast path, the stream intact', { skip, timeout: 90_000 }, async (t) => {
  const s = new Scope(t)
  const lab = await s.lab$([
    { delayMs: 10, rateMbit: 20, queuePkts: 100 },
    { delayMs: 30, rateMbit: 10, queuePkts: 100, lossPct: 5 },
  ])
  const key = keygen()
  const server = s.add(startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key }))
  await server.waitFor(/listening/)
  const client = s.add(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0), lab.clientAddress(1)], { key }))
  await client.waitFor(/session with .* up/, 10_000)
  const sink = s.add(NsProcess.spawn('tcp-flow sink', lab.namespaces.server, process.execPath, [tcpFlowPath, 'sink', SERVER_INNER, '7000']))
  await sink.waitFor(/^listening/)
  const csumBefore = await tcpChecksumErrors(lab.namespaces.server)
  const l2Before = await lab.stats(1)
  const source = s.add(NsProcess.spawn('tcp-flow source', lab.namespaces.client, process.execPath, [tcpFlowPath, 'source', SERVER_INNER, '7000', '6']))
  assert.equal(await source.exited, 0, `the source ran to its end: ${source.text.slice(-500)}`)
  await Promise.race([sink.exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
  const l2After = await lab.stats(1)
  const csumAfter = await tcpChecksumErrors(lab.namespaces.server)
  // The server first: a client's CLOSE would make it forget the client (and its counters).
  const sv = await stopTtt(server)
  const c = await stopTtt(client)
  const sent = JSON.parse(source.lines.find((l) => l.startsWith('{'))!) as { bytes: number, sha256: string }
  const got = flowReport(sink.lines)
  const cf = fecCounters(c)
  const sf = fecCounters(sv)
  t.diagnostic(`${(sent.bytes / 1e6).toFixed(1)} MB in 6 s; l2 carried ${l2After.up.txPkts - l2Before.up.txPkts} packets up; client parities ${cf.parities}, repairs ${c.peers[0]?.repairs}; server rebuilt ${sf.rebuilt}, nack copies ${sf.copies}; reorder ${JSON.stringify(sv.peers[0]?.reorder)}`)
  assert.ok(l2After.up.txPkts - l2Before.up.txPkts > 500, 'the lossy link carried part of the stream')
  assert.ok(cf.parities > 0, 'the client sent parity on the lossy path')
  assert.ok(sf.rebuilt > 0, 'the server rebuilt packets from it')
  assert.ok(sf.copies > 0, 'the server copied feedback with nacks to the fast path')
  assert.ok((c.peers[0]?.repairs ?? 0) > 0, 'and the client repaired what parity could not rebuild')
  assert.equal(got.bytes, sent.bytes, 'the sink got every byte')
  assert.equal(got.sha256, sent.sha256, 'and the same bytes (sha256)')
  assert.equal(csumAfter - csumBefore, 0, 'no TCP segment arrived corrupt (a wrongly rebuilt packet would)')
})
