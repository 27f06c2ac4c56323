// A new handshake's session against a restarted peer: the restarted end's sequences (flow, path)
// start again at 0 while ours go on. Before Peer.startSession, the end that kept its state took
// every packet of the restarted one for a duplicate of one it had already delivered (the reorder
// buffer expected the old sequences) and its paths read the fresh counts as losses over 100 %.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'

const session = (): VpnSession => ({ seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} }) as unknown as VpnSession // keys are not under test here

/** One end: its own peer with one path, what it delivered, and what it sent (to hand to the other end). */
class End {
  readonly delivered: number[] = []
  readonly outbox: Buffer[] = []
  readonly peer: Peer
  constructor () {
    this.peer = new Peer({
      send: (_pathId, d, length) => { this.outbox.push(Buffer.from(d.subarray(0, length))) },
      deliver: (packet, offset) => { this.delivered.push(Buffer.from(packet).readUInt32BE(offset + 28)) },
    }, { scheduler: 'weighted', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'p0' }])
    const p = this.peer.path(0)!
    p.state = 'up'
    p.addRttSample(20, 0)
    p.addDeliveryRateSample(100e6, 0)
  }

  /** Sends `count` packets of one flow, numbered from `from`. */
  send (from: number, count: number, nowMs: number): void {
    for (let i = from; i < from + count; i++) { const p = innerPacket(200, { dstPort: 7000, marker: i }); this.peer.sendInner(p, 0, p.length, nowMs) }
  }
}

/** Hands everything `from` sent (data, feedback, probes) to `to`, in order. */
function carry (from: End, to: End, nowMs: number): void {
  for (const d of from.outbox.splice(0)) to.peer.onMessage(d, d.length, nowMs)
}

function exchange (a: End, b: End, nowMs: number, count: number, first: number): void {
  a.send(first, count, nowMs)
  b.send(first, count, nowMs)
  carry(a, b, nowMs)
  carry(b, a, nowMs)
  a.peer.tick(nowMs + 50); b.peer.tick(nowMs + 50) // feedback both ways
  carry(a, b, nowMs + 60)
  carry(b, a, nowMs + 60)
}

test('after the other end restarts, a new session delivers its packets at once both ways, and loss stays sane', () => {
  const client = new End()
  let server = new End()
  client.peer.startSession(session(), 0, 0)
  server.peer.startSession(session(), 0, 0)
  exchange(client, server, 1, 500, 0)
  assert.equal(client.delivered.length, 500)
  assert.equal(server.delivered.length, 500)

  // The server process is killed and started again: a fresh Peer; the client keeps its own.
  server = new End()
  client.peer.startSession(session(), 1000, 0)
  server.peer.startSession(session(), 1000, 0)
  client.delivered.length = 0
  exchange(client, server, 1000, 20, 1000)
  assert.deepEqual(client.delivered, Array.from({ length: 20 }, (_, i) => 1000 + i), 'the restarted server\'s packets (flow sequences from 0 again) are delivered, in order')
  assert.deepEqual(server.delivered, Array.from({ length: 20 }, (_, i) => 1000 + i), 'the client\'s packets (its sequences going on) are delivered at once, not held')
  for (const end of [client, server]) {
    const loss = end.peer.path(0)!.loss.lossRatio
    assert.ok(loss >= 0 && loss <= 0.05, `loss estimate ${loss} after the new session`)
  }
})

test('a new session with the same peer (both ends kept their state) loses nothing either', () => {
  const client = new End()
  const server = new End()
  client.peer.startSession(session(), 0, 0)
  server.peer.startSession(session(), 0, 0)
  exchange(client, server, 1, 300, 0)
  client.peer.startSession(session(), 500, 0)
  server.peer.startSession(session(), 500, 0)
  client.delivered.length = 0
  server.delivered.length = 0
  exchange(client, server, 500, 30, 300)
  assert.equal(client.delivered.length, 30)
  assert.equal(server.delivered.length, 30)
})

test('the path a new handshake came over carries data at once, even if it went down while the old session died', () => {
  const client = new End()
  client.peer.startSession(session(), 0, 0)
  const path = client.peer.path(0)!
  path.state = 'down' // no reply for a while: the server was gone
  client.peer.startSession(session(), 5000, 0)
  assert.notEqual(path.state, 'down')
  client.send(0, 1, 5000)
  assert.equal(client.outbox.length, 1, 'the first packet after the handshake went out')
  assert.equal(client.peer.counters.refused, 0)
})
