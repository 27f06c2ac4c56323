// The pace queue: FIFO release by time, growth past its first size without losing the order, full only at its largest.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PaceQueue } from '../../../src/vpn/pace-queue.js'

function datagram (n: number): Buffer { return Buffer.from([n & 0xff, n >> 8, 7]) }

function releaseAll (q: PaceQueue, dueMs: number): number[] {
  const out: number[] = []
  q.release(dueMs, (d, length, seq) => { assert.equal(length, 3); assert.equal(d[2], 7); out.push(d[0]! | (d[1]! << 8)); assert.equal(seq, out.at(-1)! + 1000) })
  return out
}

test('pace queue: releases only what is due, oldest first', () => {
  const q = new PaceQueue(16, 4, 4)
  for (let i = 0; i < 3; i++) q.push(datagram(i), 3, 10 * i, 1000 + i)
  assert.deepEqual(releaseAll(q, 15), [0, 1])
  assert.equal(q.size, 1)
  assert.equal(q.nextReleaseMs, 20)
  assert.deepEqual(releaseAll(q, Infinity), [2])
  assert.equal(q.nextReleaseMs, Infinity)
})

test('pace queue: grows past its first size, in order across the ring\'s wrap, and is full only at its largest', () => {
  const q = new PaceQueue(16, 4, 16)
  // Wrap the ring first: the head sits mid-ring when it grows.
  for (let i = 0; i < 3; i++) q.push(datagram(i), 3, i, 1000 + i)
  assert.deepEqual(releaseAll(q, 1), [0, 1])
  for (let i = 3; i < 17; i++) {
    assert.equal(q.isFull, false, `not full with ${q.size} queued`)
    q.push(datagram(i), 3, i, 1000 + i)
  }
  assert.equal(q.size, 15)
  q.push(datagram(17), 3, 17, 1017)
  assert.equal(q.isFull, true, '16 queued at a largest size of 16')
  assert.throws(() => q.push(datagram(18), 3, 18, 1018), /full/)
  assert.deepEqual(releaseAll(q, Infinity), Array.from({ length: 16 }, (_, i) => i + 2))
  q.push(datagram(30), 3, 30, 1030)
  q.clear()
  assert.equal(q.size, 0)
  assert.deepEqual(releaseAll(q, Infinity), [])
})
