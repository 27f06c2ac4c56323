// Holes the sender will never fill (drop-tail losses it does not repair) are skipped at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ReorderBuffer } from '../../../src/multipath/reorder-buffer.js'

function buffer (): { reorder: ReorderBuffer<number>, delivered: number[] } {
  const delivered: number[] = []
  return { reorder: new ReorderBuffer<number>({ deliver: (item) => delivered.push(item) }), delivered }
}

test('an abandoned hole releases what waits behind it at once', () => {
  const { reorder, delivered } = buffer()
  reorder.push(0, 0, 0, 0)
  reorder.push(0, 2, 2, 1)
  reorder.push(0, 3, 3, 1)
  assert.deepEqual(delivered, [0])
  reorder.abandon(0, 1, 2)
  assert.deepEqual(delivered, [0, 2, 3])
  assert.equal(reorder.stats.skipped, 1)
  reorder.push(0, 1, 1, 3)
  assert.equal(reorder.stats.late, 1, 'a copy that shows up after all is dropped as late')
  assert.deepEqual(delivered, [0, 2, 3])
})

test('an abandon that arrives before the packet behind it means that packet is not held', () => {
  const { reorder, delivered } = buffer()
  reorder.push(0, 0, 0, 0)
  reorder.abandon(0, 1, 1)
  reorder.push(0, 2, 2, 2)
  assert.deepEqual(delivered, [0, 2])
  assert.equal(reorder.stats.held, 0)
})

test('abandoning anything but the next awaited sequence changes nothing', () => {
  const { reorder, delivered } = buffer()
  reorder.push(0, 0, 0, 0)
  reorder.push(0, 3, 3, 0)
  reorder.abandon(0, 2, 1) // behind the hole at 1: left to the hold time
  reorder.abandon(0, 0, 1) // already delivered
  reorder.abandon(0, -1, 1)
  assert.deepEqual(delivered, [0])
  assert.equal(reorder.stats.skipped, 0)
  reorder.push(0, 1, 1, 2)
  reorder.push(0, 2, 2, 2)
  assert.deepEqual(delivered, [0, 1, 2, 3])
})
