// Flow classes from inner packets, per-path receivers and feedback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { flowBucketOf, FlowSequencer, PathReceiver, createFeedback, unwrapSeq32, delaySpreadOf, MAX_NACKS_PER_FEEDBACK, NACK_REPEATS } from '../../../src/multipath/index.js'

function ipv4 (src: number[], dst: number[], proto: number, sport: number, dport: number, fragment = 0): Uint8Array {
  const p = new Uint8Array(40)
  p[0] = 0x45; p[6] = fragment >> 8; p[7] = fragment & 0xff; p[9] = proto
  p.set(src, 12); p.set(dst, 16)
  p[20] = sport >> 8; p[21] = sport & 0xff; p[22] = dport >> 8; p[23] = dport & 0xff
  return p
}

test('flowBucketOf: same 5-tuple same bucket; ports matter for TCP/UDP; fragments hash without ports', () => {
  const a = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, 40000, 443)
  assert.equal(flowBucketOf(a), flowBucketOf(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, 40000, 443)))
  const buckets = new Set<number>()
  for (let port = 40000; port < 40100; port++) buckets.add(flowBucketOf(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, port, 443)))
  assert.ok(buckets.size > 30, `100 flows spread over ${buckets.size} buckets`)
  const frag1 = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 1, 2, 0x2000)
  const frag2 = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, 9, 9, 0x0010)
  assert.equal(flowBucketOf(frag1), flowBucketOf(frag2))
  assert.equal(flowBucketOf(new Uint8Array([0x45])), 0)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 1, max: 1024 }), (bytes, n) => {
    const b = flowBucketOf(bytes, n)
    assert.ok(Number.isInteger(b) && b >= 0 && b < n)
  }))
})

test('FlowSequencer counts per bucket', () => {
  const seq = new FlowSequencer(4)
  assert.deepEqual([seq.next(1), seq.next(1), seq.next(2), seq.next(1)], [0, 1, 0, 2])
})

test('PathReceiver nacks gaps at once and reports cumulative counts', () => {
  const r = new PathReceiver(10)
  const fb = createFeedback()
  r.onPacket({ pathSeq: 0, txTimeMs: 0 }, 100, 5)
  assert.equal(r.isFeedbackDue(5), true, 'the first packet is answered at once')
  r.writeFeedback(5, fb)
  r.onPacket({ pathSeq: 1, txTimeMs: 5 }, 100, 6)
  assert.equal(r.isFeedbackDue(6), false)
  assert.equal(r.isFeedbackDue(15), true, 'after the feedback interval')
  r.writeFeedback(15, fb)
  r.onPacket({ pathSeq: 4, txTimeMs: 10 }, 100, 20)
  assert.equal(r.isFeedbackDue(20), true, 'a gap makes feedback urgent')
  r.writeFeedback(22, fb)
  assert.deepEqual(fb.nacks.slice(0, fb.nackCount), [2, 3])
  assert.equal(fb.highestSeq, 4)
  assert.equal(fb.receivedPackets, 3)
  assert.equal(fb.receivedBytes, 300)
  assert.equal(fb.echoTxTimeMs, 10)
  assert.equal(fb.ackDelayMs, 2)
  // A nack rides in NACK_REPEATS feedbacks (one may be lost), then is dropped.
  for (let i = 1; i < NACK_REPEATS; i++) {
    r.onPacket({ pathSeq: 4 + i, txTimeMs: 10 }, 100, 30 + i)
    r.writeFeedback(30 + i, fb)
    assert.deepEqual(fb.nacks.slice(0, fb.nackCount), [2, 3], `repeat ${i}`)
  }
  r.onPacket({ pathSeq: 4 + NACK_REPEATS, txTimeMs: 10 }, 100, 40)
  r.writeFeedback(40, fb)
  assert.equal(fb.nackCount, 0)
  // A packet that was only late is not nacked again.
  r.onPacket({ pathSeq: 10, txTimeMs: 10 }, 100, 41)
  r.onPacket({ pathSeq: 8, txTimeMs: 10 }, 100, 42)
  r.writeFeedback(42, fb)
  assert.deepEqual(fb.nacks.slice(0, fb.nackCount), [9])
  // Beyond MAX_NACKS_PER_FEEDBACK pending, gaps are counted, not nacked.
  const before = r.nacksDropped
  r.onPacket({ pathSeq: 11 + MAX_NACKS_PER_FEEDBACK + 5, txTimeMs: 30 }, 100, 50)
  r.writeFeedback(50, fb)
  assert.equal(fb.nackCount, MAX_NACKS_PER_FEEDBACK)
  assert.equal(r.nacksDropped - before, 6)
})

test('a probe is answered at once', () => {
  const r = new PathReceiver(10)
  r.writeFeedback(0, createFeedback())
  r.onPacket({ pathSeq: 0, txTimeMs: 0 }, 64, 1, true)
  assert.equal(r.isFeedbackDue(1), true)
})

test('unwrapSeq32 extends wire sequences across the 32-bit wrap', () => {
  const cases: [number, number, number][] = [
    [0, 5, 5],
    [0xffff_fff0, 0x0000_0010, 0x1_0000_0010],
    [0x1_0000_0010, 0xffff_fff0, 0xffff_fff0],
    [0x5_0000_0000, 7, 0x5_0000_0007],
  ]
  for (const [ref, low, want] of cases) assert.equal(unwrapSeq32(ref, low), want)
})

test('delaySpreadOf compares the paths that are active', () => {
  const fast = new PathReceiver()
  const slow = new PathReceiver()
  const idle = new PathReceiver()
  idle.onPacket({ pathSeq: 0, txTimeMs: 0 }, 100, 500)
  for (let t = 0; t < 2000; t += 10) {
    fast.onPacket({ pathSeq: t, txTimeMs: t }, 100, t + 10)
    slow.onPacket({ pathSeq: t, txTimeMs: t }, 100, t + 60)
  }
  assert.equal(delaySpreadOf([fast, slow, idle], 2100, 5000).spreadMs, 490, 'the idle path counts while within the window')
  assert.equal(delaySpreadOf([fast, slow, idle], 2100, 1000).spreadMs, 50)
})

test('flowBucketOf with a length: a packet at the start of a longer view hashes as the packet alone; what lies past the length is not read', () => {
  const packet = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, 40000, 443)
  const view = new Uint8Array(200).fill(0x5a)
  view.set(packet)
  assert.equal(flowBucketOf(view, 1024, packet.length), flowBucketOf(packet, 1024))
  // 22 bytes: an IPv4 header and half the ports; the junk after them must not complete the ports.
  const short = view.slice(0, 22)
  assert.equal(flowBucketOf(view, 1024, 22), flowBucketOf(short, 1024))
  assert.equal(flowBucketOf(view, 1024, 0), 0)
})

test('PathReceiver says a burst\'s last feedback once more a feedback interval later, without nacks, and then stops', () => {
  for (const repeats of [true, false]) {
    const r = new PathReceiver(10, false, repeats)
    const fb = createFeedback()
    r.onPacket({ pathSeq: 0, txTimeMs: 0 }, 100, 5)
    r.writeFeedback(5, fb)
    r.onPacket({ pathSeq: 2, txTimeMs: 1 }, 100, 6) // 1 lost: nacked
    assert.equal(r.isFeedbackDue(6), true)
    assert.equal(r.writeFeedback(6, fb).nackCount, 1)
    assert.equal(r.isFeedbackDue(15), false, 'nothing new, within the interval')
    assert.equal(r.nextFeedbackMs(), repeats ? 16 : Infinity)
    assert.equal(r.isFeedbackDue(16), repeats, repeats ? 'the repeat, in case the last feedback was lost' : 'off: nothing')
    if (!repeats) continue
    const again = r.writeFeedback(16, fb)
    assert.equal(again.highestSeq, 2)
    assert.equal(again.receivedPackets, 2)
    assert.equal(again.nackCount, 0, 'the nack keeps its repeats for feedbacks about new arrivals')
    assert.equal(r.isFeedbackDue(100), false, 'once per quiet spell')
    assert.equal(r.nextFeedbackMs(), Infinity)
    r.onPacket({ pathSeq: 3, txTimeMs: 2 }, 100, 18)
    assert.equal(r.isFeedbackDue(18), true, 'the repeat left the cadence alone: the first packet after the quiet is answered at once')
    assert.equal(r.writeFeedback(18, fb).nacks[0], 1, 'the nack rides in the next feedback with news')
  }
})
