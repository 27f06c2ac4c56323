// The reorder buffer against a sorted reference, per-bucket independence, hold expiry, duplicates.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ReorderBuffer, HoldTimeEstimator, MAX_HOLD_MS } from '../../../src/multipath/index.js'

interface Item { bucket: number, seq: number }

function collector (): { out: Item[], buffer: (hold?: HoldTimeEstimator, window?: number) => ReorderBuffer<Item> } {
  const out: Item[] = []
  return {
    out,
    buffer: (hold, window) => new ReorderBuffer<Item>({
      buckets: 4, deliver: (item) => { out.push(item) }, ...(hold ? { holdTime: hold } : {}), ...(window ? { windowPackets: window } : {}),
    }),
  }
}

test('any arrival order with duplicates and no loss: every item once, in order per bucket (sorted reference)', () => {
  fc.assert(fc.property(
    fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 200 }),
    fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
    fc.array(fc.nat({ max: 399 }), { maxLength: 40 }),
    (buckets, keys, dupIdx) => {
      const next = [0, 0, 0, 0]
      const sent: Item[] = buckets.map((b) => ({ bucket: b, seq: next[b]!++ }))
      // Shuffle by random keys, then add duplicates anywhere after their original.
      const arrivals = sent.map((item, i) => ({ item, key: keys[i % keys.length]! + i * 0 })).sort((a, b) => a.key - b.key).map((a) => a.item)
      for (const d of dupIdx) { const it = arrivals[d % arrivals.length]!; arrivals.push({ ...it }) }
      const { out, buffer } = collector()
      const rb = buffer(new HoldTimeEstimator(1e9, 1e9)) // never expire: no loss, so nothing may be skipped
      for (const it of arrivals) rb.push(it.bucket, it.seq, it, 0)
      for (let b = 0; b < 4; b++) {
        const got = out.filter((i) => i.bucket === b).map((i) => i.seq)
        const want = sent.filter((i) => i.bucket === b).map((i) => i.seq).sort((x, y) => x - y)
        assert.deepEqual(got, want)
      }
      assert.equal(rb.stats.duplicates, dupIdx.length)
      assert.equal(rb.stats.skipped, 0)
      assert.equal(rb.stats.heldBehindLoss, 0)
      assert.equal(rb.stats.holding, 0)
    },
  ))
})

test('with losses and expiry: deliveries stay increasing per bucket and account for every sequence', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ bucket: fc.nat({ max: 3 }), isLost: fc.boolean(), delayMs: fc.nat({ max: 300 }) }), { minLength: 1, maxLength: 200 }),
    (packets) => {
      const next = [0, 0, 0, 0]
      const sent = packets.map((p, i) => ({ item: { bucket: p.bucket, seq: next[p.bucket]!++ }, atMs: i + p.delayMs, isLost: p.isLost }))
      const { out, buffer } = collector()
      const rb = buffer(new HoldTimeEstimator(50, 50))
      const arrivals = sent.filter((s) => !s.isLost).sort((a, b) => a.atMs - b.atMs)
      for (const a of arrivals) { rb.expire(a.atMs); rb.push(a.item.bucket, a.item.seq, a.item, a.atMs) }
      rb.expire(1e9)
      for (let b = 0; b < 4; b++) {
        const got = out.filter((i) => i.bucket === b).map((i) => i.seq)
        for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, 'strictly increasing')
      }
      const received = arrivals.length
      assert.equal(rb.stats.delivered + rb.stats.late, received, 'each arrival delivered or dropped as late')
      assert.equal(rb.stats.holding, 0)
      assert.ok(rb.stats.heldBehindLoss <= rb.stats.held)
      const highest = next.reduce((n, v) => n + v, 0)
      assert.ok(rb.stats.delivered + rb.stats.skipped >= highest - sent.filter((s) => s.isLost).length)
    },
  ))
})

test('a hole in one bucket never stalls another', () => {
  const { out, buffer } = collector()
  const rb = buffer()
  rb.push(0, 1, { bucket: 0, seq: 1 }, 0) // bucket 0 waits for seq 0
  rb.push(1, 0, { bucket: 1, seq: 0 }, 0)
  rb.push(1, 1, { bucket: 1, seq: 1 }, 0)
  assert.deepEqual(out, [{ bucket: 1, seq: 0 }, { bucket: 1, seq: 1 }])
  assert.equal(rb.stats.holding, 1)
})

test('a hole is skipped after the hold time and counted; the late packet is dropped and raises the hold', () => {
  const { out, buffer } = collector()
  const hold = new HoldTimeEstimator()
  const rb = buffer(hold)
  const holdMs = hold.holdMs
  rb.push(0, 1, { bucket: 0, seq: 1 }, 0)
  rb.expire(holdMs - 1)
  assert.deepEqual(out, [])
  assert.equal(rb.nextDeadlineMs(), holdMs)
  rb.expire(holdMs)
  assert.deepEqual(out, [{ bucket: 0, seq: 1 }])
  assert.equal(rb.stats.skipped, 1)
  assert.equal(rb.stats.heldBehindLoss, 1)
  rb.push(0, 0, { bucket: 0, seq: 0 }, holdMs + 100)
  assert.equal(rb.stats.late, 1)
  assert.equal(out.length, 1)
  assert.ok(hold.holdMs > holdMs && hold.holdMs <= MAX_HOLD_MS, `hold ${hold.holdMs}`)
})

test('hold time follows measured fills and spread, within its cap', () => {
  const hold = new HoldTimeEstimator()
  for (let i = 0; i < 100; i++) hold.addFillSample(10)
  assert.ok(hold.holdMs >= 10 && hold.holdMs < 20, `hold ${hold.holdMs}`)
  hold.setSpread(50, 2)
  assert.ok(hold.holdMs >= 58, `hold ${hold.holdMs}`)
  hold.setSpread(1000, 0)
  assert.equal(hold.holdMs, MAX_HOLD_MS)
})

test('a sequence far beyond the window skips ahead instead of growing without bound', () => {
  const { out, buffer } = collector()
  const rb = buffer(undefined, 8)
  rb.push(0, 2, { bucket: 0, seq: 2 }, 0)
  rb.push(0, 20, { bucket: 0, seq: 20 }, 0)
  assert.ok(out.some((i) => i.seq === 2), 'the held item was released in order')
  assert.ok(rb.stats.skipped >= 2)
  assert.ok(out.every((item, i) => i === 0 || item.seq > out[i - 1]!.seq))
})

test('isNext says whether a push delivers at once: the next sequence, or any after a resync', () => {
  const out: number[] = []
  const rb = new ReorderBuffer<number>({ deliver: (x) => out.push(x), windowPackets: 8 })
  assert.equal(rb.isNext(0, 0), true)
  assert.equal(rb.isNext(0, 1), false)
  rb.push(0, 0, 100, 0)
  assert.equal(rb.isNext(0, 0), false, 'a duplicate is not next')
  assert.equal(rb.isNext(0, 1), true)
  assert.equal(rb.isNext(0, -1), false)
  assert.equal(rb.isNext(0, 1.5), false)
  assert.equal(rb.isNext(99, 0), false, 'no such bucket')
  rb.resync(0)
  assert.equal(rb.isNext(0, 42), true, 'after a resync the next sequence seen starts the bucket')
})

test('onSkip names each sequence given up on: by the hold, by abandon (waiting or not), not a delivered one', () => {
  const skips: string[] = []
  const rb = new ReorderBuffer<number>({ deliver: () => {}, windowPackets: 16, onSkip: (bucket, seq, nowMs) => skips.push(`${bucket}/${seq}@${nowMs}`) })
  rb.push(0, 0, 0, 0)
  rb.push(0, 3, 3, 1) // 1 and 2 missing
  rb.expire(1 + rb.holdTime.holdMs)
  assert.deepEqual(skips, [`0/1@${1 + rb.holdTime.holdMs}`, `0/2@${1 + rb.holdTime.holdMs}`])
  skips.length = 0
  rb.abandon(0, 4, 500) // nothing waits behind it: passed over
  rb.push(0, 6, 6, 501)
  rb.abandon(0, 5, 502) // the hole the bucket waits on
  assert.deepEqual(skips, ['0/4@500', '0/5@502'])
  assert.equal(rb.stats.skipped, 4)
})

test('ignoresLateRepairs: a repair after its hole was skipped is dropped as late without lengthening the hold; a late first send still lengthens it', () => {
  const hold = new HoldTimeEstimator()
  const rb = new ReorderBuffer<Item>({ deliver: () => {}, holdTime: hold, ignoresLateRepairs: true })
  const holdMs = hold.holdMs
  rb.push(0, 1, { bucket: 0, seq: 1 }, 0)
  rb.push(0, 3, { bucket: 0, seq: 3 }, 0)
  rb.expire(holdMs)
  assert.equal(rb.stats.skipped, 2)
  rb.push(0, 0, { bucket: 0, seq: 0 }, holdMs + 100, true)
  assert.equal(rb.stats.late, 1)
  assert.equal(hold.holdMs, holdMs, 'a late repair leaves the hold')
  rb.push(0, 2, { bucket: 0, seq: 2 }, holdMs + 100)
  assert.equal(rb.stats.late, 2)
  assert.ok(hold.holdMs > holdMs, `a late first send lengthens it: ${hold.holdMs}`)
  // Without the option a late repair lengthens it as any late arrival does.
  const plain = new HoldTimeEstimator()
  const rbPlain = new ReorderBuffer<Item>({ deliver: () => {}, holdTime: plain })
  rbPlain.push(0, 1, { bucket: 0, seq: 1 }, 0)
  rbPlain.expire(holdMs)
  rbPlain.push(0, 0, { bucket: 0, seq: 0 }, holdMs + 100, true)
  assert.ok(plain.holdMs > holdMs, `hold ${plain.holdMs}`)
})
