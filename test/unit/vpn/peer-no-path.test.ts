// A Peer whose only path is not usable for a moment (its replies late because either end was
// off-CPU): what the TUN hands over waits, within the wait's time bound, and leaves when the path
// answers again. Before, every packet waiting or offered then was refused at once, so each such
// blip cost the inner flows hundreds of losses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { WAIT_LIMIT_MS } from '../../../src/vpn/wait-queue.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'

function onePathPeer (kind: 'auto' | 'weighted', sent: number[]): Peer {
  const peer = new Peer({ send: (pathId) => { sent.push(pathId) }, deliver: () => {} }, { scheduler: kind, mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'only' }])
  peer.session = { seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession // keys are not under test here
  const p = peer.path(0)!
  p.state = 'up'
  p.addRttSample(2, 0)
  p.addDeliveryRateSample(1e9, 0)
  return peer
}

for (const kind of ['auto', 'weighted'] as const) {
  test(`${kind}: packets offered while the only path is down wait and leave when it is up again`, () => {
    const sent: number[] = []
    const peer = onePathPeer(kind, sent)
    const packet = innerPacket(1400)
    // Bulk first, so the flow is not sparse any more.
    for (let i = 0; i < 20; i++) peer.sendInner(packet, 0, packet.length, 1)
    const before = sent.length
    peer.path(0)!.state = 'down'
    for (let i = 0; i < 100; i++) peer.sendInner(packet, 0, packet.length, 2 + i * 0.1)
    assert.equal(sent.length, before, 'nothing goes out on a down path')
    assert.equal(peer.counters.refused, 0, 'nothing refused within the wait bound')
    peer.path(0)!.state = 'up'
    peer.sendInner(packet, 0, packet.length, 2 + WAIT_LIMIT_MS / 2)
    assert.equal(sent.length - before, 101, 'everything that waited went out, in order, then the new one')
    assert.equal(peer.counters.refused, 0)
  })

  test(`${kind}: a path that stays down: only what waited past the bound is refused`, () => {
    const sent: number[] = []
    const peer = onePathPeer(kind, sent)
    const packet = innerPacket(1400)
    for (let i = 0; i < 20; i++) peer.sendInner(packet, 0, packet.length, 1)
    peer.path(0)!.state = 'down'
    for (let i = 0; i < 10; i++) peer.sendInner(packet, 0, packet.length, 10)
    for (let i = 0; i < 5; i++) peer.sendInner(packet, 0, packet.length, 10 + WAIT_LIMIT_MS - 1)
    assert.equal(peer.counters.refused, 0)
    peer.sendInner(packet, 0, packet.length, 10 + WAIT_LIMIT_MS + 1)
    assert.equal(peer.counters.refused, 10, 'the 10 offered first waited past the bound: refused')
    const before = sent.length
    peer.path(0)!.state = 'up'
    peer.sendInner(packet, 0, packet.length, 10 + WAIT_LIMIT_MS + 2)
    assert.equal(sent.length - before, 7, 'the 6 still within the bound went out, then the new one')
  })
}

test('a sparse packet (a ping) offered while no path is usable waits too, instead of being refused', () => {
  const sent: number[] = []
  const peer = onePathPeer('auto', sent)
  const ping = innerPacket(84)
  peer.path(0)!.state = 'down'
  peer.sendInner(ping, 0, ping.length, 1)
  assert.equal(peer.counters.refused, 0)
  assert.equal(sent.length, 0)
  peer.path(0)!.state = 'up'
  peer.tick(2)
  assert.ok(sent.includes(0), 'the ping left on the path once it was up')
  assert.equal(peer.counters.refused, 0)
})
