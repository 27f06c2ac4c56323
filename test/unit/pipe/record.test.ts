import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { RecordReader, RecordType, encodeHandshakeRecord, MAX_RECORD_LENGTH } from '../../../src/pipe/record.js'
import { ProtocolError } from '../../../src/errors.js'

function records (count: number, seed: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const body = Buffer.alloc(((seed * 7919 + i * 104729) % 3000) + 1, i)
    out.push(encodeHandshakeRecord(RecordType.Hello, body))
  }
  return out
}

function readAll (stream: Buffer, cuts: number[]): Buffer[] {
  const got: Buffer[] = []
  const reader = new RecordReader((r) => got.push(Buffer.from(r)))
  let start = 0
  for (const cut of [...cuts.filter((c) => c > 0 && c < stream.length)].sort((a, b) => a - b).concat(stream.length)) {
    reader.push(stream.subarray(start, cut))
    start = cut
  }
  assert.equal(reader.hasPartial, false)
  return got
}

test('records come out whole under every chunking: one byte at a time, headers split, many per chunk', () => {
  const input = records(20, 1)
  const stream = Buffer.concat(input)
  assert.deepEqual(readAll(stream, []), input)
  assert.deepEqual(readAll(stream, Array.from({ length: stream.length }, (_, i) => i)), input)
  assert.deepEqual(readAll(stream, [1, 2, 3, 5, 7, 4000]), input)
})

test('random splits agree with the original records', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(100_000), { maxLength: 40 }), (n, cuts) => {
    const input = records(n, n)
    assert.deepEqual(readAll(Buffer.concat(input), cuts), input)
  }), { numRuns: 200 })
})

test('a record within one chunk is a view of it (no copy)', () => {
  const chunk = Buffer.concat(records(2, 3))
  const got: Buffer[] = []
  new RecordReader((r) => got.push(r)).push(chunk)
  assert.equal(got[0]!.buffer, chunk.buffer)
})

test('zero and oversized lengths are protocol errors, even when split', () => {
  const reader = new RecordReader(() => {})
  assert.throws(() => reader.push(Buffer.from([0, 0, 0, 0])), (e: unknown) => e instanceof ProtocolError && e.kind === 'malformed')
  const big = Buffer.alloc(4); big.writeUInt32BE(MAX_RECORD_LENGTH + 1, 0)
  const split = new RecordReader(() => {})
  split.push(big.subarray(0, 2))
  assert.throws(() => split.push(big.subarray(2)), (e: unknown) => e instanceof ProtocolError && e.kind === 'oversized')
})
