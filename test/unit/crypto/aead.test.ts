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

test('OpenSSL and libsodium produce and accept the same records', () => {
  const ad = Buffer.from('header bytes')
  const head = Buffer.from([1, 2, 3, 4, 5])
  const body = Buffer.from('the body of the record, sealed in pieces')
  for (const counter of [0, 5, 2 ** 33 + 1]) {
    const [c1, c2, tag] = new AeadKey(key).sealPieces(ad, head, body, 4, body.length, counter)
    const joined = Buffer.concat([head, body.subarray(4)])
    const sodiumTag = Buffer.alloc(TAG_BYTES)
    new AeadKey(key).sealInPlace(ad, joined, sodiumTag, counter)
    assert.deepEqual(Buffer.concat([c1, c2]), joined, 'same ciphertext')
    assert.deepEqual(tag, sodiumTag, 'same tag')
    const opened = new AeadKey(key).openToBuffer(ad, joined, sodiumTag, counter)
    assert.deepEqual(opened, Buffer.concat([head, body.subarray(4)]))
  }
})

test('OpenSSL open refuses every flipped byte and releases no plaintext', () => {
  const ad = Buffer.from('hdr')
  const [c1, c2, tag] = new AeadKey(key).sealPieces(ad, Buffer.from('ab'), Buffer.from('cdefgh'), 0, 6, 9)
  const ct = Buffer.concat([c1, c2])
  for (let i = 0; i < ct.length; i++) {
    const bad = Buffer.from(ct); bad[i]! ^= 1
    assert.equal(new AeadKey(key).openToBuffer(ad, bad, tag, 9), null)
  }
  const badTag = Buffer.from(tag); badTag[0]! ^= 1
  assert.equal(new AeadKey(key).openToBuffer(ad, ct, badTag, 9), null)
  assert.equal(new AeadKey(key).openToBuffer(Buffer.from('hdx'), ct, tag, 9), null)
  assert.equal(new AeadKey(key).openToBuffer(ad, ct, tag, 10), null)
  assert.equal(new AeadKey(key).openToBuffer(ad, ct, tag, 9)!.toString(), 'abcdefgh')
})
