// A failover's repairs: what the dead path had in flight goes to the surviving path within a
// queue budget, the rest waits for room there, ahead of new data, instead of one burst that would
// overflow the surviving path's bottleneck.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import type { Path } from '../../../src/multipath/index.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'
import { MessageKind, SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'

function measured (p: Path, rateBitsPerSec: number, rttMs: number): void {
  p.state = 'up'
  p.addRttSample(rttMs, 0)
  p.delay.addSample(0, rttMs / 2, 0)
  p.addDeliveryRateSample(rateBitsPerSec, 0)
  p.rate.inStartup = false
  p.rate.gain = 1
  p.pacer.setRate(p.planningRateBitsPerSec(), 0)
}

test('a dead path\'s units go to the other path a budget\'s worth at a time, all of them before any new data', () => {
  const sent: { pathId: number, flowSeq: number }[] = []
  const send = (pathId: number, d: Buffer): void => {
    if (d[SEALED_HEADER_BYTES] === MessageKind.Data) sent.push({ pathId, flowSeq: d.readUInt32BE(SEALED_HEADER_BYTES + 4) })
  }
  const peer = new Peer({ send, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'l1' }, { id: 1, name: 'l2' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession // sealing is not under test here
  const l1 = peer.path(0)!
  const l2 = peer.path(1)!
  measured(l1, 20e6, 20)
  measured(l2, 1e9, 120) // fast enough to take the whole burst below
  peer.setPathAdminDown(0, true, 0)
  const packet = innerPacket(1400, { protocol: 6 })
  for (let i = 0; i < 160; i++) peer.sendInner(packet, 0, packet.length, 1 + i * 0.01)
  const onL2 = sent.filter((s) => s.pathId === 1).length
  assert.equal(onL2, 160, 'l2 took the burst')
  // l1 comes back, then l2 dies with all 160 in flight (none answered).
  peer.setPathAdminDown(0, false, 5)
  l1.state = 'up'
  sent.length = 0
  peer.setPathAdminDown(1, true, 5)
  const atOnce = sent.length
  // 20 ms of l1 at 20 Mbit/s is 50 kB: about 35 units of 1.4 kB, not 160.
  assert.ok(atOnce >= 20 && atOnce <= 45, `${atOnce} repairs sent at once`)
  assert.ok(sent.every((s) => s.pathId === 0))
  // New data offered meanwhile waits behind the repairs.
  for (let i = 0; i < 20; i++) peer.sendInner(packet, 0, packet.length, 6)
  assert.ok(sent.every((s) => s.flowSeq < 160), 'only repairs left (the wait for room moved on by a ms: one more of them)')
  let atMs = 6
  for (let i = 0; i < 10_000 && Number.isFinite(atMs); i++) atMs = peer.releasePaced(atMs)
  const flowSeqs = sent.map((s) => s.flowSeq)
  const repairs = flowSeqs.slice(0, 160)
  assert.deepEqual([...repairs].sort((a, b) => a - b), Array.from({ length: 160 }, (_, i) => i + repairs[0]!), 'each unit of l2 repaired once, with its own flow sequence')
  assert.ok(flowSeqs.slice(160).every((seq) => seq > repairs.at(-1)!), 'the new data left after every repair')
  assert.equal(sent.length, 180)
  assert.equal(peer.counters.repairs, 160)
})
