// The per-packet header writers (byte stores, not Buffer's writeUInt32BE) read back with
// Buffer's readers at the edges of each field's range.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeSealedHeader, writeDataHeader, readSealedCounter, DatagramType, MessageKind, SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'

test('SEALED and DATA headers read back field by field at the edges of their ranges', { timeout: 10_000 }, () => {
  const buf = Buffer.alloc(64, 0xaa)
  for (const [index, counter] of [[0, 0], [1, 1], [2 ** 31, 2 ** 32 - 1], [2 ** 32 - 1, 2 ** 32], [0x01020304, 2 ** 53 - 1]] as const) {
    writeSealedHeader(buf, 0x1ff, index, counter)
    assert.equal(buf[0], DatagramType.Sealed)
    assert.equal(buf[1], 0xff)
    assert.equal(buf.readUInt32BE(2), index)
    assert.equal(readSealedCounter(buf), counter)
  }
  for (const [bucket, flowSeq, pathSeq] of [[0, 0, 0], [65535, 2 ** 32 - 1, 2 ** 32], [255, 2 ** 40 + 7, 2 ** 31]] as const) {
    writeDataHeader(buf, SEALED_HEADER_BYTES, 3, bucket, flowSeq, pathSeq, 1234.5)
    assert.equal(buf[SEALED_HEADER_BYTES], MessageKind.Data)
    assert.equal(buf[SEALED_HEADER_BYTES + 1], 3)
    assert.equal(buf.readUInt16BE(SEALED_HEADER_BYTES + 2), bucket)
    assert.equal(buf.readUInt32BE(SEALED_HEADER_BYTES + 4), flowSeq % 2 ** 32)
    assert.equal(buf.readUInt32BE(SEALED_HEADER_BYTES + 8), pathSeq % 2 ** 32)
    assert.equal(buf.readDoubleBE(SEALED_HEADER_BYTES + 12), 1234.5)
  }
  assert.ok(buf.subarray(SEALED_HEADER_BYTES + 20).every((b) => b === 0xaa), 'nothing written past the DATA header')
})
