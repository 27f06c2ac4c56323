// The VPN's wait for a path with room: bounded by how long its oldest packet has waited, with a
// count cap; and a Peer under `auto` holding a sender's burst there instead of refusing it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WaitQueue, WAIT_LIMIT_MS, WAIT_FLOOR_PACKETS, WAIT_CEILING_MS } from '../../../src/vpn/wait-queue.js'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'
import { MessageKind, SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'

test('a wait queue is first in, first out, and wraps around its ring', () => {
  const q = new WaitQueue(4, 25)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) q.push(round * 10 + i, round)
    assert.deepEqual([q.shift(round), q.shift(round), q.shift(round)], [round * 10, round * 10 + 1, round * 10 + 2])
  }
  assert.equal(q.size, 0)
  assert.equal(q.peek(), undefined)
  assert.throws(() => q.shift(9), RangeError)
})

test('new packets are refused once the oldest has waited the limit, not before, and again after it leaves', () => {
  const q = new WaitQueue(1000, 25, 1)
  assert.ok(q.admit(0), 'an empty queue admits whenever')
  q.push(1, 0)
  q.push(2, 20)
  assert.ok(q.hasRoom(24.9))
  assert.ok(q.admit(24.9))
  assert.equal(q.hasRoom(25), false, 'the oldest has waited 25 ms')
  assert.equal(q.admit(25), false)
  assert.equal(q.stats.refusedAged, 1)
  assert.equal(q.oldestWaitMs(25), 25)
  q.shift(26) // packet 1 leaves: now the oldest is packet 2, queued at 20
  assert.ok(q.admit(26), 'the limit counts from the oldest still waiting')
  assert.equal(q.stats.maxWaitMs, 26)
  q.shift(27)
  assert.ok(q.admit(1e6), 'empty again: admits however late')
  assert.equal(q.stats.refusedFull, 0)
})

test('up to the floor, packets wait up to the ceiling however long the oldest has waited', () => {
  const q = new WaitQueue(1000, 25, 3, Infinity)
  for (let i = 0; i < 3; i++) { assert.ok(q.admit(i * 100)); q.push(i, i * 100) }
  assert.equal(q.admit(300), false, 'past the floor the age counts')
  assert.equal(q.stats.refusedAged, 1)
  q.shift(300)
  assert.ok(q.admit(300))
})

test('the ceiling refuses under the floor once the oldest has waited it, counted apart', () => {
  const q = new WaitQueue(1000, 25, 512, 100)
  q.push(1, 0)
  q.push(2, 50)
  assert.ok(q.hasRoom(99.9) && q.admit(99.9), 'two waiting, the oldest 99.9 ms: under the ceiling')
  assert.equal(q.hasRoom(100), false)
  assert.equal(q.admit(100), false, 'the oldest has waited 100 ms')
  assert.deepEqual({ aged: q.stats.refusedAged, ceiling: q.stats.refusedCeiling }, { aged: 0, ceiling: 1 })
  q.shift(100) // the oldest is now packet 2, queued at 50
  assert.ok(q.admit(149), 'the ceiling counts from the oldest still waiting')
  assert.equal(q.admit(150), false)
  assert.equal(WAIT_CEILING_MS > WAIT_LIMIT_MS, true, 'the ceiling is the longer bound')
})

test('the count cap refuses even young packets, counted apart from aged ones', () => {
  const q = new WaitQueue(3, 25)
  for (let i = 0; i < 3; i++) { assert.ok(q.admit(0)); q.push(i, 0) }
  assert.equal(q.admit(1), false)
  assert.deepEqual({ aged: q.stats.refusedAged, full: q.stats.refusedFull, max: q.stats.maxCount }, { aged: 0, full: 1, max: 3 })
  assert.throws(() => q.push(9, 1), RangeError)
  assert.equal(q.clear(), 3)
  assert.ok(q.admit(1))
  assert.throws(() => new WaitQueue(0), RangeError)
})

/** A Peer with one `up` path at 1 Gbit/s whose modelled queue is over every budget until `freeAtMs`. */
function blockedPeer (freeAtMs: number, flowSeqs: number[] = []): Peer {
  const send = (_path: number, d: Buffer): void => { if (d[SEALED_HEADER_BYTES] === MessageKind.Data) flowSeqs.push(d.readUInt32BE(SEALED_HEADER_BYTES + 4)) }
  const peer = new Peer({ send, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'veth' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession // sealing is not under test here
  const p = peer.path(0)!
  p.state = 'up'
  p.addRttSample(1, 0)
  p.delay.addSample(0, 0.5, 0)
  p.addDeliveryRateSample(1e9, 0)
  p.rate.inStartup = false
  p.rate.gain = 1
  p.pacer.setRate(p.planningRateBitsPerSec(), 0)
  // A backlog that drains at freeAtMs: over the 150 ms burst budget at t = 0.
  p.onSend((freeAtMs * 1e9) / 8000, 0)
  return peer
}

/**
 * Drives the peer's wake-ups from `fromMs` (a tick, then each time it asks to be called again,
 * as the VPN's timer does) until nothing waits; returns the time of the last one. `auto` sends
 * only a bottleneck budget's worth per path at a time, so a long wait leaves over several.
 */
function drainAll (peer: Peer, fromMs: number): number {
  peer.tick(fromMs)
  let atMs = fromMs
  for (let i = 0; i < 10_000; i++) {
    const nextMs = peer.releasePaced(atMs)
    if (!Number.isFinite(nextMs)) return atMs
    atMs = nextMs
  }
  throw new Error('the wait never drained')
}

test('auto: a 2000-packet burst while the only path is full waits (a fixed 512 refused most of it) and leaves in order', () => {
  const flowSeqs: number[] = []
  const peer = blockedPeer(170, flowSeqs)
  const packet = innerPacket(1400, { protocol: 6 })
  // The flow's first 8 packets count as sparse (12 kB) and leave at once; the rest is bulk.
  for (let i = 0; i < 2000; i++) peer.sendInner(packet, 0, packet.length, 1 + i * 0.005) // 10 ms of arrivals
  assert.equal(peer.counters.refused, 0, 'nothing refused while the oldest has waited under the limit')
  assert.equal(peer.counters.txPackets, 8)
  assert.equal(peer.waitStats.maxCount, 1992)
  // The path's model drains (the burst budget is 150 ms): the waiting packets leave, oldest first.
  drainAll(peer, 200)
  // (The first tick also hands back the 8 sparse packets as tail losses: no feedback ever comes here.)
  const firstSends = flowSeqs.filter((seq, i) => !flowSeqs.slice(0, i).includes(seq))
  assert.deepEqual(firstSends, Array.from({ length: 2000 }, (_, i) => i), 'every packet left once, in order')
  assert.equal(peer.counters.txPackets - peer.counters.repairs, 2000)
  assert.ok(peer.waitStats.maxWaitMs >= 199 - 1, 'the first to wait left at the tick')
})

test('auto: past the limit new bulk is refused (the inner flow\'s congestion signal), and admitted again once the queue moves', () => {
  const peer = blockedPeer(1000) // blocked far longer than the limit
  const packet = innerPacket(1400, { protocol: 6 })
  const waiting = WAIT_FLOOR_PACKETS + 100
  for (let i = 0; i < 8 + waiting; i++) peer.sendInner(packet, 0, packet.length, 0) // 8 sparse, the rest wait
  assert.equal(peer.counters.refused, 0)
  peer.sendInner(packet, 0, packet.length, WAIT_LIMIT_MS - 1)
  assert.equal(peer.counters.refused, 0)
  peer.sendInner(packet, 0, packet.length, WAIT_LIMIT_MS)
  peer.sendInner(packet, 0, packet.length, WAIT_LIMIT_MS + 5)
  assert.equal(peer.counters.refused, 2)
  assert.equal(peer.waitStats.refusedAged, 2)
  const lastMs = drainAll(peer, 1000) // room again: all waiting leave
  assert.equal(peer.counters.txPackets - peer.counters.repairs, 8 + waiting + 1)
  peer.sendInner(packet, 0, packet.length, lastMs + 1)
  assert.equal(peer.counters.txPackets - peer.counters.repairs, 8 + waiting + 2, 'a moving queue admits (and here sends) again')
  assert.equal(peer.counters.refused, 2)
})

test('the count cap is half the repair ring, so waiting packets never overwrite what is in flight', () => {
  const peer = new Peer({ send: () => {}, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, repairUnits: 64, log: silentLogger },
    [{ id: 0, name: 'veth' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession
  const p = peer.path(0)!
  p.state = 'up'
  p.addRttSample(1, 0)
  p.addDeliveryRateSample(1e9, 0)
  p.rate.inStartup = false
  p.pacer.setRate(p.planningRateBitsPerSec(), 0)
  p.onSend(1e9 / 8000 * 1000, 0)
  const packet = innerPacket(1400, { protocol: 6 })
  for (let i = 0; i < 100; i++) peer.sendInner(packet, 0, packet.length, 1)
  assert.equal(peer.waitStats.maxCount, 32)
  assert.equal(peer.waitStats.refusedFull, 100 - 8 - 32)
  assert.equal(peer.counters.refused, 100 - 8 - 32)
})
