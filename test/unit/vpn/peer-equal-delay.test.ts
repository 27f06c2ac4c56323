// A Peer with `equalDelay` (--equal-delay): what arrives over the faster path waits until the
// slower path's base delay has passed, then goes to the TUN in order; without it, at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer, type EqualDelayScope } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'

const session = (): VpnSession => ({ seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} }) as unknown as VpnSession // keys are not under test here
const ONE_WAY_MS = [10, 60]
const TCP = 6
const UDP = 17

/** A sender with a 10 ms and a 60 ms path, and a receiver (with or without equal delay) that logs when it delivers what. */
function pair (equalDelay: EqualDelayScope | undefined): { send: (marker: number, pathId: number, nowMs: number, protocol?: number) => void, at: (nowMs: number) => void, delivered: [number, number][], receiver: Peer } {
  const wire: { atMs: number, d: Buffer }[] = []
  const delivered: [number, number][] = []
  let nowMs = 0
  const sender = new Peer({ send: (pathId, d, length) => { wire.push({ atMs: nowMs + ONE_WAY_MS[pathId]!, d: Buffer.from(d.subarray(0, length)) }) }, deliver: () => {} },
    { scheduler: 'weighted', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }])
  const receiver = new Peer({ send: () => {}, deliver: (packet, offset) => { delivered.push([Buffer.from(packet).readUInt32BE(offset + 28), nowMs]) } },
    { scheduler: 'weighted', mtuBytes: 1400, log: silentLogger, ...(equalDelay !== undefined ? { equalDelay } : {}) }, [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }])
  sender.session = session()
  receiver.session = session()
  for (const id of [0, 1]) {
    const p = sender.path(id)!
    p.addRttSample(2 * ONE_WAY_MS[id]!, 0)
    p.addDeliveryRateSample(100e6, 0)
  }
  const at = (t: number): void => {
    for (; nowMs <= t; nowMs += 1) {
      for (const m of wire.filter((w) => w.atMs <= nowMs)) receiver.onMessage(m.d, m.d.length, nowMs)
      for (let i = wire.length - 1; i >= 0; i--) if (wire[i]!.atMs <= nowMs) wire.splice(i, 1)
      receiver.tick(nowMs)
    }
    nowMs = t
  }
  const send = (marker: number, pathId: number, t: number, protocol = UDP): void => {
    at(t)
    // The other path set down for this send: the packet takes `pathId`.
    for (const id of [0, 1]) sender.path(id)!.state = id === pathId ? 'up' : 'down'
    const p = innerPacket(200, { protocol, dstPort: 7000, marker })
    sender.sendInner(p, 0, p.length, t)
  }
  return { send, at, delivered, receiver }
}

test('equal delay (all): a packet over the 10 ms path reaches the TUN when one over the 60 ms path would; without it, at once', () => {
  for (const equalDelay of ['all', undefined] as const) {
    const { send, at, delivered, receiver: pairReceiver } = pair(equalDelay)
    // Both paths carry a packet first, so the receiver knows their base delays.
    send(1, 1, 0)
    send(2, 0, 1)
    at(100)
    assert.deepEqual(delivered.map(([m]) => m), [1, 2], 'in order: #2 (fast) waited for #1 (slow) either way')
    send(3, 0, 200)
    at(300)
    const [, t3] = delivered.find(([m]) => m === 3)!
    if (equalDelay !== undefined) assert.ok(t3 >= 200 + 60 - 1 && t3 <= 200 + 60 + 1, `#3 over the fast path delivered at ${t3}, not 260`)
    else assert.equal(t3, 210, 'without equal delay #3 goes on when it arrives')
    assert.match(pairReceiver.sendSummary, equalDelay !== undefined ? / delayed 1$/ : /rebuilt \d+ silences \d+$/, 'the summary counts the held packet (#3; #2 came before the slow path\'s delay was known) with equal delay only')
    // The slow path's packet itself is not held.
    send(4, 1, 400)
    at(500)
    assert.equal(delivered.find(([m]) => m === 4)![1], 460)
  }
})

test('equal delay (tcp, the bare flag): a TCP segment over the fast path waits for the slow path\'s delay; a UDP datagram (a ping, DNS, voice) goes on at once', () => {
  const { send, at, delivered, receiver } = pair('tcp')
  send(1, 1, 0, TCP)
  send(2, 0, 1, TCP)
  at(100)
  send(3, 0, 200, TCP)
  at(300)
  const t3 = delivered.find(([m]) => m === 3)![1]
  assert.ok(t3 >= 259 && t3 <= 261, `the TCP segment over the fast path delivered at ${t3}, not 260`)
  send(4, 0, 400, UDP)
  at(500)
  assert.equal(delivered.find(([m]) => m === 4)![1], 410, 'the UDP datagram over the fast path goes on when it arrives')
  assert.match(receiver.sendSummary, / delayed 1$/, 'only the TCP segment was held')
})

test('equal delay: a new session hands on what the delay line holds at once, in order, as arriving then', () => {
  const { send, at, delivered, receiver } = pair('all')
  send(1, 1, 0)
  send(2, 0, 1)
  at(100)
  send(3, 0, 200)
  at(215) // #3 arrived at 210 and waits until 260
  assert.deepEqual(delivered.map(([m]) => m), [1, 2])
  receiver.startSession(session(), 215, 0)
  assert.deepEqual(delivered.map(([m]) => m), [1, 2, 3])
  assert.ok(Number.isFinite(receiver.reorder.holdTime.holdMs), `hold time ${receiver.reorder.holdTime.holdMs}`)
})
