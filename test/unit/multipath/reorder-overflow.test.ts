// The reorder buffer's cap: an arrival beyond the window while items wait forces the oldest holes
// to be given up; those are counted apart (overflowSkipped) from holes given up on by hold time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ReorderBuffer } from '../../../src/multipath/reorder-buffer.js'

function buffer (windowPackets: number): { reorder: ReorderBuffer<number>, delivered: number[] } {
  const delivered: number[] = []
  return { reorder: new ReorderBuffer<number>({ deliver: (item) => delivered.push(item), buckets: 1, windowPackets }), delivered }
}

test('an arrival beyond a window that holds items skips the oldest holes and counts them as overflow', () => {
  const { reorder, delivered } = buffer(8)
  reorder.push(0, 0, 0, 0)
  for (const seq of [2, 3, 5]) reorder.push(0, seq, seq, 0) // holes at 1 and 4
  assert.deepEqual(delivered, [0])
  reorder.push(0, 10, 10, 0) // needs next >= 3: hole 1 goes (2 delivered), then 3 is there
  assert.deepEqual(delivered, [0, 2, 3])
  assert.equal(reorder.stats.overflowSkipped, 1)
  reorder.push(0, 13, 13, 0) // needs next >= 6: hole 4 goes, 5 delivered
  assert.deepEqual(delivered, [0, 2, 3, 5])
  assert.equal(reorder.stats.overflowSkipped, 2)
  assert.equal(reorder.stats.skipped, 2)
})

test('holes given up by hold time, abandon, or a jump over an empty window are not overflow', () => {
  const { reorder } = buffer(8)
  reorder.push(0, 0, 0, 0)
  reorder.push(0, 100, 100, 0) // nothing held: a gap, jumped over to the window's end (93..99 still open)
  reorder.expire(1e9) // 93..99 given up by hold time, 100 delivered
  reorder.push(0, 102, 102, 1e9)
  reorder.expire(2e9) // hole 101 given up by hold time
  reorder.abandon(0, 103, 2e9)
  assert.equal(reorder.stats.delivered, 3)
  assert.ok(reorder.stats.skipped > 90)
  assert.equal(reorder.stats.overflowSkipped, 0)
})
