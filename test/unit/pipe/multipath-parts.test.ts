// The pure parts of the multipath pipe: reassembly by offset against a naive reference, the
// subflow sent log, seen stream ids, the join proof and the join hello codec.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Reassembler } from '../../../src/pipe/reassembly.js'
import { SentLog, Unit } from '../../../src/pipe/retransmit.js'
import { SeenStreamIds } from '../../../src/pipe/stream-ids.js'
import { deriveJoinKey, joinProof, isValidJoinProof, JoinReplayGuard } from '../../../src/pipe/join.js'
import { HelloPurpose, decodeHello, encodeHello } from '../../../src/pipe/hello.js'
import { FrameType } from '../../../src/pipe/frame.js'

test('reassembly: any order, any duplicates, any overlaps deliver the stream once, in order (against a naive reference)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 400 }),
    fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 60 }),
    (bytes, cuts) => {
      const stream = Buffer.from(bytes)
      // Segments: random [start, end) pieces (duplicates and overlaps included), plus a cover of the whole.
      const segments = cuts.map(([a, b]) => { const s = a % stream.length; return [s, Math.min(stream.length, s + 1 + (b % 50))] as const })
      for (let at = 0; at < stream.length; at += 37) segments.push([at, Math.min(stream.length, at + 37)])
      const r = new Reassembler()
      const out: Buffer[] = []
      const delivered = new Uint8Array(stream.length) // reference: which bytes are known, in order
      let expected = 0
      for (const [s, e] of segments) {
        r.push(s, stream.subarray(s, e), (b) => out.push(Buffer.from(b)))
        for (let i = s; i < e; i++) delivered[i] = 1
        while (expected < stream.length && delivered[expected] === 1) expected++
        assert.equal(r.deliveredOffset, expected, 'delivers exactly the contiguous prefix the reference has')
      }
      assert.deepEqual(Buffer.concat(out), stream)
      assert.equal(r.heldBytes, 0)
    },
  ))
})

test('reassembly: an in-order segment is handed out as a view (no copy); out-of-order bytes are held and counted', () => {
  const r = new Reassembler()
  const got: Buffer[] = []
  const a = Buffer.from('abcd')
  r.push(4, Buffer.from('efgh'), (b) => got.push(b))
  assert.equal(r.heldBytes, 4)
  r.push(0, a, (b) => got.push(b))
  assert.equal(got[0]!.buffer, a.buffer, 'a view of the pushed buffer')
  assert.equal(Buffer.concat(got).toString(), 'abcdefgh')
  assert.equal(r.heldBytes, 0)
  r.push(2, Buffer.from('cd'), () => assert.fail('a duplicate delivers nothing'))
})

test('sent log: ACK counts free units once; a lost subflow hands back what no ACK covered and is in flight nowhere else', () => {
  const log = new SentLog()
  const units = [0, 1, 2, 3].map((i) => new Unit(FrameType.Data, 1, i * 10, Buffer.alloc(10)))
  const elsewhere = new SentLog()
  units.forEach((u, i) => log.push(i + 1, u)) // frames 1..4
  elsewhere.push(1, units[3]!) // unit 3 is also in flight on another subflow (redundant)
  const acked: Unit[] = []
  assert.equal(log.ack(2, 4, (u) => acked.push(u)), true)
  assert.deepEqual(acked, [units[0], units[1]])
  assert.equal(log.ack(2, 4, () => assert.fail('nothing new')), true, 'a repeated count is fine')
  assert.equal(log.ack(1, 4, () => {}), false, 'a count going backwards is an error')
  assert.equal(log.ack(5, 4, () => {}), false, 'a count beyond what was sent is an error')
  assert.deepEqual(log.takeUnacked(), [units[2]], 'unit 3 is still in flight elsewhere')
  assert.equal(log.size, 0)
  elsewhere.ack(1, 1, (u) => acked.push(u))
  assert.equal(acked.at(-1), units[3])
})

test('sent log against a reference under random sends and ACKs', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.constant('send'), fc.nat(5)), { maxLength: 200 }), (ops) => {
    const log = new SentLog()
    let sent = 0
    let acked = 0
    const ackedIds: number[] = []
    for (const op of ops) {
      if (op === 'send') { sent++; log.push(sent, new Unit(FrameType.Data, 1, sent, undefined)) } else {
        const count = Math.min(sent, acked + op)
        assert.equal(log.ack(count, sent, (u) => ackedIds.push(u.offset)), true)
        acked = count
      }
    }
    assert.deepEqual(ackedIds, Array.from({ length: acked }, (_, i) => i + 1))
    assert.equal(log.takeUnacked().length, sent - acked)
  }))
})

test('seen stream ids: any arrival order; ids below the floor collapse', () => {
  fc.assert(fc.property(fc.shuffledSubarray(Array.from({ length: 300 }, (_, i) => i + 1), { minLength: 300 }), (order) => {
    const seen = new SeenStreamIds()
    for (const id of order) { assert.equal(seen.has(id), false); seen.add(id); assert.equal(seen.has(id), true) }
    assert.equal(seen.sparseCount, 0, 'all of 1..300 seen: nothing held individually')
    assert.equal(seen.has(301), false)
  }))
})

test('join proof: both ends derive the same key; the proof binds session, path, timestamp and ephemeral key', () => {
  const c2s = Buffer.alloc(32, 1)
  const s2c = Buffer.alloc(32, 2)
  const hash = Buffer.alloc(64, 3)
  const key = deriveJoinKey(c2s, s2c, hash)
  assert.deepEqual(deriveJoinKey(Buffer.from(c2s), Buffer.from(s2c), Buffer.from(hash)), key)
  assert.notDeepEqual(deriveJoinKey(s2c, c2s, hash), key, 'direction order matters')
  const sid = Buffer.alloc(8, 4)
  const ts = Buffer.alloc(12, 5)
  const e = Buffer.alloc(32, 6)
  const proof = joinProof(key, sid, 1, ts, e)
  assert.equal(isValidJoinProof(key, sid, 1, ts, e, proof), true)
  const other = Buffer.alloc(32, 7)
  assert.equal(isValidJoinProof(key, sid, 1, ts, other, proof), false, 'another ephemeral key')
  assert.equal(isValidJoinProof(key, sid, 2, ts, e, proof), false, 'another path')
  assert.equal(isValidJoinProof(key, Buffer.alloc(8, 9), 1, ts, e, proof), false, 'another session')
  assert.equal(isValidJoinProof(key, sid, 1, Buffer.alloc(12, 8), e, proof), false, 'another timestamp')
  assert.equal(isValidJoinProof(deriveJoinKey(c2s, s2c, Buffer.alloc(64)), sid, 1, ts, e, proof), false, 'another session key')
  assert.equal(isValidJoinProof(key, sid, 1, ts, e, proof.subarray(0, 31)), false, 'short proof')
})

test('join replay guard: per path, strictly newer than the last join and than the session\'s first hello', () => {
  const t = (n: number): Buffer => { const b = Buffer.alloc(12); b.writeUInt32BE(n, 4); return b }
  const guard = new JoinReplayGuard()
  assert.equal(guard.accept(1, t(5), t(5)), false, 'not newer than the session itself')
  assert.equal(guard.accept(1, t(7), t(5)), true)
  assert.equal(guard.accept(1, t(7), t(5)), false, 'the same join again')
  assert.equal(guard.accept(2, t(6), t(5)), true, 'another path has its own order')
  assert.equal(guard.accept(1, t(8), t(5)), true)
})

test('join hello: round-trips; wrong lengths are handshake errors', () => {
  const hello = {
    purpose: HelloPurpose.JoinSession, timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), streamWindowBytes: 65_536,
    join: { sessionId: Buffer.alloc(8, 3), pathId: 7, proof: Buffer.alloc(32, 4) },
  }
  const bytes = encodeHello(hello)
  assert.equal(bytes.length, 75)
  const back = decodeHello(bytes)
  assert.equal(back.purpose, HelloPurpose.JoinSession)
  assert.deepEqual(back.join, hello.join)
  assert.throws(() => decodeHello(bytes.subarray(0, 74)), /expected 75/)
  const plain = encodeHello({ ...hello, purpose: HelloPurpose.NewSession })
  assert.equal(plain.length, 34)
  assert.equal(decodeHello(plain).join, undefined)
})
