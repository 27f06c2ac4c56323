import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AeadKey, TAG_BYTES, writeNonce } from '../../../src/crypto/aead.js'

const key = Buffer.alloc(32, 0x42)

function seal (counter: number, text: string, ad = Buffer.from('hdr')): { ad: Buffer, body: Buffer, tag: Buffer } {
  const body = Buffer.from(text)
  const tag = Buffer.alloc(TAG_BYTES)
  new AeadKey(key).sealInPlace(ad, body, tag, counter)
  return { ad, body, tag }
}

test('round trip in place, with large counters', () => {
  for (const counter of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5]) {
    const { ad, body, tag } = seal(counter, 'hello gst')
    assert.notEqual(body.toString(), 'hello gst')
    assert.equal(new AeadKey(key).openInPlace(ad, body, tag, counter), true)
    assert.equal(body.toString(), 'hello gst')
  }
})

test('a flipped bit anywhere (header, ciphertext, tag) or a wrong counter fails', () => {
  const original = seal(7, 'the quick brown fox')
  const parts = ['ad', 'body', 'tag'] as const
  for (const part of parts) {
    for (let i = 0; i < original[part].length; i++) {
      const copy = { ad: Buffer.from(original.ad), body: Buffer.from(original.body), tag: Buffer.from(original.tag) }
      copy[part][i]! ^= 0x01
      assert.equal(new AeadKey(key).openInPlace(copy.ad, copy.body, copy.tag, 7), false, `${part}[${i}]`)
    }
  }
  const copy = { ad: Buffer.from(original.ad), body: Buffer.from(original.body), tag: Buffer.from(original.tag) }
  assert.equal(new AeadKey(key).openInPlace(copy.ad, copy.body, copy.tag, 8), false)
})

test('nonce layout: 4 zero bytes, then the counter little-endian', () => {
  const nonce = Buffer.alloc(12, 0xff)
  writeNonce(nonce, 2 ** 32 + 3)
  assert.equal(nonce.toString('hex'), '00000000' + '03000000' + '01000000')
})

test('a wiped key no longer opens', () => {
  const { ad, body, tag } = seal(1, 'x')
  const k = new AeadKey(key)
  k.wipe()
  assert.equal(k.openInPlace(ad, body, tag, 1), false)
})
