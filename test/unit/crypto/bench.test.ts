// src/crypto/bench.ts: the measuring loop under a fake clock (batch growth, untimed work left out,
// at least one operation), the figures' arithmetic, and the real AEAD/handshake rows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BENCH_PACKET_SIZES, aeadFigures, benchAead, benchHandshake, fullHandshake, handshakeFigures, measureRate } from '../../../src/crypto/bench.js'
import { generateKey } from '../../../src/crypto/key.js'

/** A clock that moves only when told to. */
function fakeClock (): { nowMs: () => number, advance: (ms: number) => void } {
  let t = 1000
  return { nowMs: () => t, advance: (ms) => { t += ms } }
}

test('measureRate: batches double until one takes 5 ms, then stay; stops once the target is reached', () => {
  const clock = fakeClock()
  const batches: number[] = []
  const rate = measureRate(100, clock.nowMs, (n) => { batches.push(n); clock.advance(n * 0.001) })  // 1 µs per operation
  assert.equal(rate.count, batches.reduce((a, b) => a + b, 0))
  assert.ok(rate.elapsedMs >= 100, `elapsed ${rate.elapsedMs}`)
  assert.ok(Math.abs(rate.elapsedMs - rate.count * 0.001) < 1e-6)
  assert.deepEqual(batches.slice(0, 4), [1, 2, 4, 8])
  assert.equal(batches.at(-1), 8192, 'grows to the first power of two at or past 5 ms (5000 ops), then stays')
  assert.ok(rate.elapsedMs < 100 + 8192 * 0.001 + 1e-9, 'overshoots the target by at most one batch')
})

test('measureRate: untimed work between batches is not counted', () => {
  const clock = fakeClock()
  const rate = measureRate(10, clock.nowMs, (n) => clock.advance(n), (n) => clock.advance(1000 * n))
  assert.equal(rate.elapsedMs, rate.count)
  assert.ok(rate.count >= 10)
})

test('measureRate: a zero target still does one operation; maxBatch caps the batch', () => {
  const clock = fakeClock()
  assert.deepEqual(measureRate(0, clock.nowMs, (n) => clock.advance(n)), { count: 1, elapsedMs: 1 })
  const batches: number[] = []
  measureRate(50, clock.nowMs, (n) => { batches.push(n); clock.advance(n * 0.001) }, undefined, 16)
  assert.equal(batches.reduce((a, b) => Math.max(a, b), 0), 16)
  assert.equal(batches.at(-1), 16)
})

test('figures: MB/s is 10^6 bytes per second, ns per packet, handshakes per second', () => {
  assert.deepEqual(aeadFigures(1500, { count: 1000, elapsedMs: 2 }), { packets: 1000, mbPerSec: 750, nsPerPacket: 2000 })
  assert.deepEqual(handshakeFigures({ count: 50, elapsedMs: 100 }), { handshakes: 50, perSec: 500, usPerHandshake: 2000 })
})

test('benchAead: real seal and open rows for every size (a fake clock keeps it short)', () => {
  assert.deepEqual([...BENCH_PACKET_SIZES], [20, 64, 256, 512, 1024, 1280, 1420, 1500, 65536])
  for (const bytes of BENCH_PACKET_SIZES) {
    const clock = fakeClock()
    // Each clock read moves 1 ms: a 0.005 s target is a handful of batches of real crypto.
    const row = benchAead(bytes, 0.005, () => { clock.advance(1); return clock.nowMs() })
    assert.equal(row.bytes, bytes)
    for (const f of [row.seal, row.open]) {
      assert.ok(f.packets >= 1)
      assert.ok(f.mbPerSec > 0 && Number.isFinite(f.mbPerSec))
      assert.ok(f.nsPerPacket > 0)
    }
  }
})

test('benchAead with the real clock: every sealed packet opens (it throws otherwise)', () => {
  const row = benchAead(1420, 0.02, () => performance.now())
  assert.ok(row.open.packets > 1 && row.seal.packets > 1)
})

test('fullHandshake completes; benchHandshake counts them', () => {
  assert.equal(fullHandshake(generateKey(), Buffer.from('x')), true)
  const clock = fakeClock()
  const h = benchHandshake(0.003, () => { clock.advance(1); return clock.nowMs() })
  assert.ok(h.handshakes >= 1)
  assert.ok(h.perSec > 0 && h.usPerHandshake > 0)
})
