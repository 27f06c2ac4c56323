import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SendSlab } from '../../../src/pipe/send-slab.js'

const shareMemory = (a: Buffer, b: Buffer): boolean => a.buffer === b.buffer

test('records while the socket queue holds others never overlap; a flushed socket starts the slab over', () => {
  const slab = new SendSlab(1024)
  const a = slab.take(100, true)
  const b = slab.take(200, false)
  const c = slab.take(50, false)
  assert.deepEqual([a.length, b.length, c.length], [100, 200, 50])
  assert.ok(shareMemory(a, b) && shareMemory(b, c), 'one slab')
  assert.ok(a.byteOffset + a.length <= b.byteOffset && b.byteOffset + b.length <= c.byteOffset, 'no overlap')
  assert.equal(b.byteOffset % 8, 0, 'records start 8-byte aligned')
  a.fill(1); b.fill(2); c.fill(3)
  assert.ok(a.every((x) => x === 1) && b.every((x) => x === 2), 'later records did not write over queued ones')
  const d = slab.take(64, true)
  assert.equal(d.byteOffset, a.byteOffset, 'reused from the start once flushed')
})

test('a full slab is left to its queued records and a new one is used; an oversized record gets its own buffer', () => {
  const slab = new SendSlab(1024)
  const first = slab.take(600, true)
  const second = slab.take(600, false)
  assert.ok(!shareMemory(first, second), 'second record in a new slab')
  first.fill(1)
  second.fill(2)
  assert.ok(first.every((x) => x === 1), 'the old slab is untouched')
  const big = slab.take(4096, true)
  assert.equal(big.length, 4096)
  assert.ok(!shareMemory(big, second))
  const after = slab.take(10, false)
  assert.ok(shareMemory(after, second), 'the oversized record did not replace the slab')
})
