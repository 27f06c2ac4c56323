import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IncomingLoss } from '../../../src/vpn/incoming-loss.js'

/** Feeds `packets` path sequences with every `lossEvery`-th one lost, in windows of 250. */
function feed (loss: IncomingLoss, id: number, from: number, packets: number, lossEvery: number, received: { n: number }): number {
  let seq = from
  for (let end = from + packets; seq < end;) {
    const next = Math.min(end, seq + 250)
    for (let s = seq; s < next; s++) if (lossEvery === 0 || s % lossEvery !== 0) received.n++
    seq = next
    loss.update(id, seq - 1, received.n)
  }
  return seq
}

test('a path losing 5 % turns lossy; a clean one stays clean; each path on its own', () => {
  const loss = new IncomingLoss()
  const r0 = { n: 0 }
  const r1 = { n: 0 }
  loss.update(0, -1, 0)
  loss.update(1, -1, 0)
  feed(loss, 0, 0, 5000, 0, r0)
  feed(loss, 1, 0, 5000, 20, r1)
  assert.equal(loss.isLossy(0), false)
  assert.equal(loss.isLossy(1), true)
  assert.ok(Math.abs(loss.lossRatio(1) - 0.05) < 0.01, `ratio ${loss.lossRatio(1)}`)
})

test('lossy until the loss falls under the clean ratio (hysteresis), not at the first clean window', () => {
  const loss = new IncomingLoss()
  const r = { n: 0 }
  loss.update(0, -1, 0)
  let seq = feed(loss, 0, 0, 5000, 20, r)
  assert.equal(loss.isLossy(0), true)
  seq = feed(loss, 0, seq, 250, 0, r)
  assert.equal(loss.isLossy(0), true, 'one clean window is not enough')
  feed(loss, 0, seq, 10_000, 0, r)
  assert.equal(loss.isLossy(0), false)
})

test('no verdict on a few packets; a sequence going back (new session) starts over', () => {
  const loss = new IncomingLoss()
  loss.update(0, -1, 0)
  loss.update(0, 30, 15)
  assert.equal(loss.lossRatio(0), 0, 'under 32 packets: no window yet')
  const r = { n: 0 }
  feed(loss, 0, 0, 5000, 10, r)
  assert.equal(loss.isLossy(0), true)
  loss.update(0, 5, 6)
  assert.equal(loss.isLossy(0), false, 'a new sequence space forgets the old verdict')
})

test('before the first span, a gap makes the path lossy at once; the first full span then decides', () => {
  const loss = new IncomingLoss()
  loss.update(0, -1, 0)
  loss.update(1, -1, 0)
  loss.update(0, 9, 10)
  loss.update(1, 9, 9)
  assert.equal(loss.isLossy(0), false, 'no gap: no verdict, not lossy')
  assert.equal(loss.isLossy(1), true, 'a gap in the first packets: lossy before any span')
  assert.equal(loss.lossRatio(1), 0, 'no span counted yet')
  // The first span (32 packets) is clean apart from that one loss: still lossy (1 in 32).
  loss.update(1, 31, 31)
  assert.equal(loss.isLossy(1), true)
  // A path judged clean by a full span is not made lossy by a gap in the next partial span.
  loss.update(0, 40, 41)
  assert.equal(loss.isLossy(0), false)
  loss.update(0, 50, 50)
  assert.equal(loss.isLossy(0), false, 'after a verdict only full spans decide')
  // A later clean history clears the provisional verdict as any other.
  const r = { n: 31 }
  feed(loss, 1, 32, 10_000, 0, r)
  assert.equal(loss.isLossy(1), false)
})
