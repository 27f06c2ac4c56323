// FEC on a lossy path: XOR parity per group of per-path sequences (src/multipath/fec-*.ts), the
// receiver's nacks that wait for it, and the reorder hold that waits for a repair on a lossy path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  FecEncoder, FecDecoder, fecGroupSize, FEC_ON_LOSS_RATIO, FEC_OFF_LOSS_RATIO, FEC_MIN_GROUP, FEC_MAX_GROUP, FEC_FLUSH_MS,
  PathReceiver, createFeedback, repairWaitOf, HoldTimeEstimator, type ParityUnit,
} from '../../../src/multipath/index.js'

const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v)

test('fecGroupSize: off on a clean path, on above 1 %, off again only below 0.5 %; k shrinks as loss grows', () => {
  const table: [number, boolean, number][] = [
    [0, false, 0], [0.009, false, 0], [FEC_ON_LOSS_RATIO, false, FEC_MAX_GROUP], [0.008, true, FEC_MAX_GROUP], [FEC_OFF_LOSS_RATIO, true, FEC_MAX_GROUP],
    [0.004, true, 0], [0.02, false, FEC_MAX_GROUP], [0.05, false, 29], [0.1, false, 14], [0.2, false, 7], [0.6, true, FEC_MIN_GROUP], [NaN, true, 0],
  ]
  for (const [loss, isOn, k] of table) assert.equal(fecGroupSize(loss, isOn), k, `loss ${loss} on ${isOn}`)
  // On and off by the first ratio; the group sized by the second (a steadier average) once on.
  assert.equal(fecGroupSize(0.2, false, 0.05), 29)
  assert.equal(fecGroupSize(0.004, true, 0.05), 0)
  assert.equal(fecGroupSize(0.02, false, 0), FEC_MAX_GROUP, 'a sizing ratio of 0 is not a division by 0')
})

test('FecEncoder: a parity per k members naming its group, XOR of bytes and lengths; off sends none', () => {
  const enc = new FecEncoder(64)
  assert.equal(enc.add(0, bytes(1), 0), undefined, 'off by default')
  enc.setLossRatio(0.6)
  assert.equal(enc.groupSize, FEC_MIN_GROUP)
  assert.equal(enc.add(5, bytes(1, 2, 3), 0), undefined)
  const p = enc.add(6, bytes(4, 5), 0)
  assert.ok(p)
  assert.deepEqual({ firstSeq: p.firstSeq, count: p.count, lengthXor: p.lengthXor }, { firstSeq: 5, count: 2, lengthXor: 3 ^ 2 })
  assert.deepEqual([...p.bytes], [1 ^ 4, 2 ^ 5, 3])
  assert.equal(enc.parities, 1)
  enc.setLossRatio(0)
  assert.equal(enc.groupSize, 0)
  assert.equal(enc.add(7, bytes(9), 0), undefined)
})

test('FecEncoder: a gap in the sequence ends the group; a partial group is flushed after FEC_FLUSH_MS', () => {
  const enc = new FecEncoder(64)
  enc.setLossRatio(0.02) // k = 32
  enc.add(0, bytes(1), 10)
  enc.add(1, bytes(2), 11)
  const cut = enc.add(3, bytes(4), 12) // seq 2 was the caller's own parity or an unprotected send
  assert.deepEqual(cut && { firstSeq: cut.firstSeq, count: cut.count }, { firstSeq: 0, count: 2 })
  assert.equal(enc.flushDueMs(), 12 + FEC_FLUSH_MS)
  assert.equal(enc.flush(12 + FEC_FLUSH_MS - 1), undefined)
  const tail = enc.flush(12 + FEC_FLUSH_MS)
  assert.deepEqual(tail && { firstSeq: tail.firstSeq, count: tail.count, bytes: [...tail.bytes] }, { firstSeq: 3, count: 1, bytes: [4] })
  assert.equal(enc.flushDueMs(), Infinity)
  assert.throws(() => enc.add(4, new Uint8Array(65), 20), RangeError)
})

/** Sends `payloads` on one path with FEC at group size k, drops `lost` (member indexes and parity numbers), decodes. */
function run (payloads: Uint8Array[], k: number, lostMembers: Set<number>, lostParities: Set<number>, parityFirst = false): Map<number, Uint8Array> {
  const enc = new FecEncoder(64)
  enc.groupSize = k
  const dec = new FecDecoder(1024, 64)
  const got = new Map<number, Uint8Array>()
  const take = (r: { seq: number, bytes: Uint8Array } | undefined): void => { if (r) got.set(r.seq, r.bytes.slice()) }
  const parities: ParityUnit[] = []
  let seq = 0
  let pendingMembers: [number, Uint8Array][] = []
  for (const payload of payloads) {
    const s = seq++
    const parity = enc.add(s, payload, 0)
    if (!lostMembers.has(s)) pendingMembers.push([s, payload])
    if (!parity) continue
    seq++ // the parity takes the next per-path sequence
    const n = parities.push(parity) - 1
    const deliverParity = (): void => { if (!lostParities.has(n)) take(dec.onParity(parity, 0)) }
    // The parity on a faster path arrives before its members; on the same path, after.
    if (parityFirst) deliverParity()
    for (const [ms, mp] of pendingMembers) { got.set(ms, mp); take(dec.onPacket(ms, mp, 0)) }
    pendingMembers = []
    if (!parityFirst) deliverParity()
  }
  return got
}

test('property: any single loss per group is rebuilt exactly, the parity before or after its members', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: FEC_MIN_GROUP, max: 12 }),
    fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 10 }), fc.boolean(),
    (payloads, k, picks, parityFirst) => {
      // Member i of the payloads has per-path sequence i + floor(i / k) (each parity takes one).
      const seqOf = (i: number): number => i + Math.floor(i / k)
      const groups = Math.floor(payloads.length / k) // only full groups get a parity here (no flush)
      const lost = new Set<number>()
      picks.slice(0, groups).forEach((pick, g) => lost.add(seqOf(g * k + (pick % k))))
      const got = run(payloads, k, lost, new Set(), parityFirst)
      for (let i = 0; i < groups * k; i++) assert.deepEqual(got.get(seqOf(i)), payloads[i], `member ${i} (k ${k})`)
    },
  ))
})

test('property: two losses in a group are left to repair (nothing rebuilt for it, nothing wrong ever)', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 4, maxLength: 60 }), fc.integer({ min: FEC_MIN_GROUP, max: 8 }),
    fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 5 }),
    (payloads, k, lostList, lostParityList) => {
      const seqOf = (i: number): number => i + Math.floor(i / k)
      const lost = new Set(lostList.map((i) => seqOf(i % payloads.length)))
      const got = run(payloads, k, lost, new Set(lostParityList))
      for (let i = 0; i < payloads.length; i++) {
        const g = Math.floor(i / k)
        const lostInGroup = payloads.slice(g * k, g * k + k).filter((_, j) => lost.has(seqOf(g * k + j))).length
        const value = got.get(seqOf(i))
        if (value !== undefined) assert.deepEqual(value, payloads[i], `member ${i} is exact whenever present`)
        if (lost.has(seqOf(i)) && lostInGroup >= 2) assert.equal(value, undefined, `member ${i}: ${lostInGroup} lost in its group`)
      }
    },
  ))
})

test('FecDecoder: a late member after a two-loss parity rebuilds the other; bad parities are counted, not thrown', () => {
  const enc = new FecEncoder(64)
  enc.groupSize = 3
  const dec = new FecDecoder(64, 64)
  const payloads = [bytes(1, 1), bytes(2), bytes(3, 3, 3)]
  let parity: ParityUnit | undefined
  payloads.forEach((p, i) => { parity = enc.add(i, p, 0) ?? parity })
  assert.ok(parity)
  assert.equal(dec.onPacket(0, payloads[0]!, 0), undefined)
  assert.equal(dec.onParity(parity, 0), undefined)
  assert.equal(dec.lastMissing, 2)
  const r = dec.onPacket(2, payloads[2]!, 1) // came late (another path, or reordered)
  assert.deepEqual(r && { seq: r.seq, bytes: [...r.bytes] }, { seq: 1, bytes: [2] })
  assert.equal(dec.onPacket(1, payloads[1]!, 2), undefined, 'the real one after the rebuild is a duplicate')
  assert.equal(dec.stats.rebuilt, 1)
  for (const bad of [{ firstSeq: -1, count: 2 }, { firstSeq: 0, count: 0 }, { firstSeq: 0, count: FEC_MAX_GROUP + 1 }, { firstSeq: 1.5, count: 2 }]) {
    assert.equal(dec.onParity({ ...bad, lengthXor: 0, bytes: bytes(0) }, 3), undefined)
  }
  assert.equal(dec.onParity({ firstSeq: 0, count: 2, lengthXor: 0, bytes: new Uint8Array(65) }, 3), undefined)
  assert.equal(dec.stats.invalid, 5)
  // A length XOR that names a member longer than the parity: corrupt, nothing rebuilt.
  dec.onPacket(100, bytes(7), 4)
  assert.equal(dec.onParity({ firstSeq: 100, count: 2, lengthXor: 1 ^ 9, bytes: bytes(7) }, 4), undefined)
  assert.equal(dec.stats.invalid, 6)
  assert.throws(() => new FecDecoder(100), RangeError)
})

test('FecDecoder: nack delay follows the parity lag while parities come, 0 a second after they stop', () => {
  const dec = new FecDecoder(64, 64)
  assert.equal(dec.nackDelayMs(0), 0)
  assert.equal(dec.isActive(0), false)
  for (let g = 0; g < 20; g++) {
    const t = g * 10
    dec.onPacket(g * 3, bytes(1), t)
    dec.onPacket(g * 3 + 1, bytes(2), t + 4)
    dec.onParity({ firstSeq: g * 3, count: 2, lengthXor: 0, bytes: bytes(3) }, t + 6)
  }
  const delay = dec.nackDelayMs(200)
  assert.ok(delay >= 6 && delay < 10, `delay ${delay}`)
  assert.equal(dec.nackDelayMs(200, 3), 3, 'capped by the caller')
  assert.equal(dec.nackDelayMs(200, 50), delay, 'a cap above the lag changes nothing')
  assert.equal(dec.isActive(196 + 1000), true)
  assert.equal(dec.nackDelayMs(196 + 1001), 0)
})

test('FecEncoder: a group that keeps growing is not flushed FEC_FLUSH_MS after its first member, only that long after its last', () => {
  const enc = new FecEncoder(64)
  enc.setLossRatio(0.05) // k = 29
  // A member every 2 ms: a busy path. None is flushed while they keep coming.
  for (let i = 0; i < 20; i++) {
    enc.add(i, bytes(i), i * 2)
    assert.equal(enc.flush(i * 2 + 1), undefined)
  }
  assert.equal(enc.flushDueMs(), 38 + FEC_FLUSH_MS)
  const tail = enc.flush(38 + FEC_FLUSH_MS)
  assert.equal(tail?.count, 20)
})

test('PathReceiver with a nack delay: a rebuilt gap is never nacked, others go out when due or when a parity says so', () => {
  const r = new PathReceiver(10)
  const fb = createFeedback()
  r.onPacket({ pathSeq: 0, txTimeMs: 0 }, 100, 0)
  r.writeFeedback(0, fb)
  r.nackDelayMs = 8
  r.onPacket({ pathSeq: 3, txTimeMs: 1 }, 100, 1) // 1 and 2 missing
  assert.equal(r.isFeedbackDue(1), false, 'a gap is not urgent while a parity may rebuild it')
  assert.equal(r.nextFeedbackMs(), 9)
  r.onRebuilt(1)
  r.writeFeedback(5, fb) // the interval's feedback before the nack is due leaves it out
  assert.equal(fb.nackCount, 0)
  assert.equal(r.isFeedbackDue(8), false)
  assert.equal(r.isFeedbackDue(9), true, 'due with nothing else to report')
  r.writeFeedback(9, fb)
  assert.deepEqual(fb.nacks.slice(0, fb.nackCount), [2])
  r.onPacket({ pathSeq: 6, txTimeMs: 10 }, 100, 10) // 4 and 5 missing
  r.nackNow(4, 3, 11) // a parity over 4..6 found two missing
  r.writeFeedback(11, fb)
  assert.deepEqual(fb.nacks.slice(0, fb.nackCount).sort(), [2, 4, 5])
})

test('repairWaitOf: 0 without a lossy path; spread + nack delay + feedback interval + half of both RTTs with one (the nack\'s way on the fastest if sent there)', () => {
  const fast = new PathReceiver(10)
  const slow = new PathReceiver(10)
  for (let i = 0; i < 10; i++) {
    fast.onPacket({ pathSeq: i, txTimeMs: i }, 100, i + 10)
    slow.onPacket({ pathSeq: i, txTimeMs: i }, 100, i + 60)
  }
  slow.nackDelayMs = 5
  const srtt = [20, 120]
  assert.equal(repairWaitOf([fast, slow], srtt, [false, false], 70), 0)
  assert.equal(repairWaitOf([fast, slow], srtt, [false, true], 70), 50 + 5 + 10 + (120 + 20) / 2)
  assert.equal(repairWaitOf([fast, slow], srtt, [false, true], 70, true), 50 + 5 + 10 + (20 + 20) / 2, 'nacks also sent on the fastest path')
  assert.equal(repairWaitOf([fast, slow], [NaN, NaN], [false, true], 70), 0, 'no RTT yet')
  assert.equal(repairWaitOf([fast, slow], srtt, [false, true], 5000), 0, 'paths silent for a second are left out')
})

test('HoldTimeEstimator: a repair wait raises the hold; the longest recent fill counts only while a path is lossy', () => {
  const hold = new HoldTimeEstimator()
  for (let i = 0; i < 100; i++) hold.addFillSample(10, i)
  hold.addFillSample(120, 100)
  const plain = hold.holdMs
  assert.ok(plain < 120, `one long fill among short ones: ${plain}`)
  hold.setRepairWait(30)
  assert.ok(hold.holdMs >= 120, `with a lossy path the longest recent fill is covered: ${hold.holdMs}`)
  hold.advance(100 + 10_000)
  assert.ok(hold.holdMs < 120 && hold.holdMs >= 30, `after the window: ${hold.holdMs}`)
  hold.setRepairWait(0)
  hold.setRepairWait(1000)
  assert.equal(hold.holdMs, hold.maxHoldMs)
})
