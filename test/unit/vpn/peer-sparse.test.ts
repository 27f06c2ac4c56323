// A Peer's sparse-flow priority: with `auto` and every path full, bulk waits for room while a
// sparse flow's packet (a ping) goes out at once on the path where it arrives first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { flowBucketOf, BOTTLENECK_BUDGET_MS, DEFAULT_FLOW_BUCKETS } from '../../../src/multipath/index.js'
import { SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'
import { settledPath } from '../../helpers/settled-path.js'

/** A bulk packet and a ping of another flow bucket. */
function bulkAndPing (): { bulk: Buffer, ping: Buffer } {
  const bulk = innerPacket(1400, { srcPort: 40000 })
  let ping = innerPacket(84, { srcPort: 40001 })
  for (let port = 40001; flowBucketOf(ping) === flowBucketOf(bulk); port++) ping = innerPacket(84, { srcPort: port })
  return { bulk, ping }
}

function fullPeer (sent: number[]): Peer {
  const peer = new Peer({ send: (pathId) => { sent.push(pathId) }, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }])
  peer.session = { seal: () => {} } as unknown as VpnSession // sealing is not under test here
  for (const [i, oneWayMs] of [[0, 10], [1, 60]] as const) {
    settledPath(peer, i, oneWayMs, 10e6).onSend(1_000_000, 0) // far over every queue budget
  }
  return peer
}

test('bulk waits while every path is full; a sparse flow goes out at once on the fast path', () => {
  const sent: number[] = []
  const peer = fullPeer(sent)
  const { bulk, ping } = bulkAndPing()
  // A new flow is sparse for its first 12 kB (8 such packets), then queues behind the full paths.
  for (let i = 0; i < 10; i++) peer.sendInner(bulk, 0, bulk.length, 1)
  assert.equal(sent.length, 8, 'the bulk flow\'s first 8 packets went out, the rest wait')
  assert.equal(peer.sparseSent, 8)
  peer.sendInner(ping, 0, ping.length, 1)
  assert.equal(sent.length, 9, 'the ping did not wait behind the bulk')
  assert.equal(sent[8], 0, 'on the path where it arrives first')
  assert.equal(peer.sparseSent, 9)
  peer.sendInner(bulk, 0, bulk.length, 1)
  assert.equal(sent.length, 9, 'bulk still waits')
})

test('a sparse flow whose flow bucket a bulk flow fills goes out at once in the sparse bucket, not behind the bulk', () => {
  const sent: number[] = []
  const buckets: number[] = []
  const peer = new Peer({ send: (pathId, d) => { sent.push(pathId); buckets.push(d.readUInt16BE(SEALED_HEADER_BYTES + 2)) }, deliver: () => {} },
    { scheduler: 'auto', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }])
  peer.session = { seal: () => {} } as unknown as VpnSession
  for (const [i, oneWayMs] of [[0, 10], [1, 60]] as const) settledPath(peer, i, oneWayMs, 10e6).onSend(1_000_000, 0)
  const bulk = innerPacket(1400, { srcPort: 40000 })
  // Another flow in the bulk's bucket (of DEFAULT_FLOW_BUCKETS), but not in its sparse class.
  let ping = innerPacket(84, { srcPort: 40001 })
  for (let port = 40001; flowBucketOf(ping) !== flowBucketOf(bulk) || flowBucketOf(ping, 1024) === flowBucketOf(bulk, 1024); port++) ping = innerPacket(84, { srcPort: port })
  for (let i = 0; i < 10; i++) peer.sendInner(bulk, 0, bulk.length, 1)
  assert.equal(sent.length, 8, 'the bulk flow\'s first 8 packets went out, the rest wait')
  assert.deepEqual(new Set(buckets), new Set([flowBucketOf(bulk)]), 'a flow that has not filled its bucket yet keeps its own sequence')
  peer.sendInner(ping, 0, ping.length, 1)
  assert.equal(sent.length, 9, 'the ping did not wait behind the bulk of its bucket')
  assert.equal(sent[8], 0, 'on the path where it arrives first')
  assert.equal(buckets[8], DEFAULT_FLOW_BUCKETS, 'in the sparse bucket: the receiver does not hold it behind the bulk\'s packets')
  assert.equal(peer.sparseSent, 9)
})

test('with `weighted` there is no sparse priority (the static shares decide)', () => {
  const sent: number[] = []
  const peer = fullPeer(sent)
  peer.setScheduler('weighted')
  peer.sendInner(innerPacket(84, { srcPort: 40001 }), 0, 84, 1)
  assert.equal(peer.sparseSent, 0)
})

test('auto keeps a path\'s bottleneck queue to its budget: the rest of a burst waits here, a ping goes first, and the wait drains as the queue does', () => {
  const sent: number[] = []
  const peer = new Peer({ send: (pathId) => { sent.push(pathId) }, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'fast' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession
  const p = settledPath(peer, 0, 10, 20e6)
  const { bulk, ping } = bulkAndPing()
  // 100 packets at once (a 20 Mbit/s path drains one in 0.56 ms): the first 8 are sparse and go
  // regardless; bulk then goes only while the modelled bottleneck queue is under the budget.
  for (let i = 0; i < 100; i++) peer.sendInner(bulk, 0, bulk.length, 1)
  const queueMs = p.queueDelayMs(0, 1)
  assert.ok(queueMs > BOTTLENECK_BUDGET_MS && queueMs <= BOTTLENECK_BUDGET_MS + 0.6, `bottleneck queue ${queueMs.toFixed(2)} ms`)
  const first = sent.length
  assert.ok(first < 15, `${first} sent, the rest waits`)
  peer.sendInner(ping, 0, ping.length, 1)
  assert.equal(sent.length, first + 1, 'the ping did not wait behind the bulk')
  // The peer asks to be woken when the queue is back under the budget, and then sends more.
  const wakeMs = peer.releasePaced(1)
  // (at least half a ms on, so a path refused for another reason never spins the timer)
  assert.ok(Math.abs(wakeMs - Math.max(1.5, 1 + p.queueDelayMs(0, 1) - BOTTLENECK_BUDGET_MS)) < 1e-9, `wake at ${wakeMs}`)
  const before = sent.length
  let atMs = wakeMs
  let maxQueueMs = 0
  for (let i = 0; i < 1000 && Number.isFinite(atMs); i++) {
    const nextMs = peer.releasePaced(atMs)
    maxQueueMs = Math.max(maxQueueMs, p.queueDelayMs(0, atMs))
    atMs = nextMs
  }
  assert.equal(sent.length - before, 100 - first, 'every waiting packet left, paced by the budget')
  assert.ok(maxQueueMs <= BOTTLENECK_BUDGET_MS + 0.6, `at most ${maxQueueMs.toFixed(2)} ms queued at the bottleneck`)
  assert.equal(peer.counters.refused, 0)
})

test('a bulk flow that spilled onto the slower path keeps that path\'s delay when its rate dips; a ping and, after a second, the flow itself go fast again', () => {
  const sent: number[] = []
  const peer = new Peer({ send: (pathId) => { sent.push(pathId) }, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession
  settledPath(peer, 0, 10, 20e6)
  settledPath(peer, 1, 60, 10e6)
  const { bulk, ping } = bulkAndPing()
  // For 2.2 s, bursts bigger than the fast path's budget: the rest goes to the slower path (and waits here).
  // Both paths answer all along (what their feedback would say: nothing is overdue).
  const answered = (t: number): void => { peer.path(0)!.markHeard(t); peer.path(1)!.markHeard(t) }
  const burst = (t0: number): void => {
    for (let i = 0; i < 100; i++) peer.sendInner(bulk, 0, bulk.length, t0 + 1)
    for (let t = t0 + 2; t < t0 + 100; t++) { peer.releasePaced(t); answered(t) }
  }
  burst(0)
  assert.ok(sent.includes(1), 'the burst used the slower path')
  sent.length = 0
  peer.sendInner(bulk, 0, bulk.length, 300)
  assert.deepEqual(sent, [0], 'not kept while the flow has filled both paths for less than KEEP_AFTER_MS (its startup)')
  for (let t0 = 300; t0 < 2200; t0 += 100) burst(t0)
  // The flow's rate dips (a PROBE_RTT): one packet, long after the slower path's last one.
  sent.length = 0
  const keptBefore = peer.delayKeeper.kept
  answered(2400)
  peer.sendInner(bulk, 0, bulk.length, 2400)
  assert.deepEqual(sent, [1], 'kept on the slower path, where auto alone would take the idle fast one')
  assert.equal(peer.delayKeeper.kept, keptBefore + 1)
  peer.sendInner(ping, 0, ping.length, 2400)
  assert.deepEqual(sent, [1, 0], 'a ping still takes the fast path')
  answered(2410)
  peer.sendInner(bulk, 0, bulk.length, 2410)
  assert.deepEqual(sent, [1, 0, 0], 'within the delay spread of the kept one: the fast path (it waits for that one anyway)')
  answered(3300)
  peer.sendInner(bulk, 0, bulk.length, 3300)
  assert.deepEqual(sent, [1, 0, 0, 0], 'a second after the flow last filled both paths it is back on the fast one')
})
