// The native ChaCha20-Poly1305 (OpenSSL EVP through native/aead.c) against libsodium and the
// RFC 8439 vector, both ways against src/crypto/aead.ts, and every way to misuse it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, randomBytes } from 'node:crypto'
import sodium from 'sodium-native'
import { NativeAead, isNativeAeadAvailable, nativeAeadVersion } from '../../src/native/index.js'
import { AeadKey, TAG_BYTES, writeNonce } from '../../src/crypto/aead.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s:]/g, ''), 'hex')

/** Seeded xorshift32, so a failing size or counter is reproducible. */
function rng (seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return (n) => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x % n
  }
}

/** The reference: libsodium, detached, with our nonce layout. Returns ciphertext || tag. */
function sodiumSeal (key: Uint8Array, ad: Uint8Array, text: Uint8Array, counter: number): Buffer {
  const nonce = Buffer.alloc(12)
  writeNonce(nonce, counter)
  const out = Buffer.alloc(text.length + TAG_BYTES)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.subarray(0, text.length), out.subarray(text.length), text, ad, null, nonce, key)
  return out
}

test('the native AEAD is available and runs node\'s OpenSSL 3', () => {
  assert.equal(isNativeAeadAvailable(), true)
  assert.match(nativeAeadVersion() ?? '', /^OpenSSL 3\./)
})

test('RFC 8439 section 2.8.2: libsodium and OpenSSL (node:crypto) both produce the vector', () => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f')
  const nonce = hex('070000004041424344454647')
  const ad = hex('50515253c0c1c2c3c4c5c6c7')
  const plaintext = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
  const ciphertext = hex(`
    d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
    92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b6116`)
  const tag = hex('1ae10b594f09e26a7e902ecbd0600691')

  const text = Buffer.from(plaintext)
  const sodiumTag = Buffer.alloc(16)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, sodiumTag, text, ad, null, nonce, key)
  assert.deepEqual(text, ciphertext)
  assert.deepEqual(sodiumTag, tag)

  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  cipher.setAAD(ad, { plaintextLength: plaintext.length })
  assert.deepEqual(Buffer.concat([cipher.update(plaintext), cipher.final()]), ciphertext)
  assert.deepEqual(cipher.getAuthTag(), tag)
})

test('native seal equals libsodium byte for byte for random sizes 0..70000, AD lengths and counters', () => {
  const rand = rng(0x6a656164)
  const key = randomBytes(32)
  const aead = NativeAead.create(key)
  const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 1400, 16384, 65535, 65536, 70000]
  for (let i = 0; i < 60; i++) sizes.push(rand(70001))
  const counters = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, 2 ** 53 - 1]
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!
    const adLen = rand(41)
    const lead = rand(9)     // the record need not start at 0
    const trail = rand(5)    // nor end the buffer
    const counter = i < counters.length ? counters[i]! : rand(2 ** 31) * 4099 + rand(4099)
    const ad = randomBytes(adLen)
    const plain = randomBytes(size)
    const buf = Buffer.alloc(lead + adLen + size + TAG_BYTES + trail, 0xee)
    ad.copy(buf, lead)
    plain.copy(buf, lead + adLen)
    const adEnd = lead + adLen
    const textEnd = adEnd + size
    aead.sealInPlace(buf, lead, adEnd, textEnd, counter)
    const what = `size ${size}, ad ${adLen}, counter ${counter}`
    assert.ok(buf.subarray(adEnd, textEnd + TAG_BYTES).equals(sodiumSeal(key, ad, plain, counter)), what)
    assert.ok(buf.subarray(lead, adEnd).equals(ad), `AD untouched: ${what}`)
    assert.ok(buf.subarray(0, lead).every((b) => b === 0xee) && buf.subarray(textEnd + TAG_BYTES).every((b) => b === 0xee), `nothing outside the record written: ${what}`)
    assert.equal(aead.openInPlace(buf, lead, adEnd, textEnd, counter), true, what)
    assert.ok(buf.subarray(adEnd, textEnd).equals(plain), what)
  }
})

test('interop both ways with AeadKey (libsodium) sealInPlace/openInPlace', () => {
  const key = randomBytes(32)
  const native = NativeAead.create(key)
  const js = new AeadKey(key)
  for (const [size, counter] of [[0, 0], [1, 1], [1400, 2 ** 32 + 7], [65536, 2 ** 40]] as const) {
    const ad = randomBytes(24)
    const plain = randomBytes(size)

    const buf = Buffer.concat([ad, plain, Buffer.alloc(TAG_BYTES)])
    native.sealInPlace(buf, 0, 24, 24 + size, counter)
    assert.equal(js.openInPlace(buf.subarray(0, 24), buf.subarray(24, 24 + size), buf.subarray(24 + size), counter), true, `native -> sodium ${size}`)
    assert.ok(buf.subarray(24, 24 + size).equals(plain))

    js.sealInPlace(buf.subarray(0, 24), buf.subarray(24, 24 + size), buf.subarray(24 + size), counter)
    assert.equal(native.openInPlace(buf, 0, 24, 24 + size, counter), true, `sodium -> native ${size}`)
    assert.ok(buf.subarray(24, 24 + size).equals(plain))
  }
})

test('a view with a byte offset: offsets are relative to the view', () => {
  const key = randomBytes(32)
  const aead = NativeAead.create(key)
  const backing = new Uint8Array(200).fill(0xaa)
  const view = backing.subarray(50, 150)
  view.set(Buffer.from('header'), 0)
  view.set(Buffer.from('payload'), 6)
  aead.sealInPlace(view, 0, 6, 13, 9)
  assert.ok(Buffer.from(view.subarray(6, 29)).equals(sodiumSeal(key, Buffer.from('header'), Buffer.from('payload'), 9)))
  assert.ok(backing.subarray(0, 50).every((b) => b === 0xaa) && backing.subarray(50 + 29).every((b) => b === 0xaa))
})

test('every flipped byte of AD, ciphertext or tag, a wrong counter and a wrong key fail, zeroing the text', () => {
  const key = randomBytes(32)
  const aead = NativeAead.create(key)
  const adLen = 13
  const size = 40
  const sealed = Buffer.concat([randomBytes(adLen), randomBytes(size), Buffer.alloc(TAG_BYTES)])
  aead.sealInPlace(sealed, 0, adLen, adLen + size, 1234)
  for (let i = 0; i < sealed.length; i++) {
    const copy = Buffer.from(sealed)
    copy[i]! ^= 0x80
    assert.equal(aead.openInPlace(copy, 0, adLen, adLen + size, 1234), false, `byte ${i}`)
    assert.ok(copy.subarray(adLen, adLen + size).every((b) => b === 0), `text zeroed after byte ${i}`)
  }
  for (const counter of [1233, 1235, 1234 + 2 ** 32]) {
    assert.equal(aead.openInPlace(Buffer.from(sealed), 0, adLen, adLen + size, counter), false, `counter ${counter}`)
  }
  assert.equal(NativeAead.create(randomBytes(32)).openInPlace(Buffer.from(sealed), 0, adLen, adLen + size, 1234), false, 'wrong key')
  // A shifted split between AD and text authenticates different data.
  assert.equal(aead.openInPlace(Buffer.from(sealed), 0, adLen - 1, adLen + size, 1234), false, 'AD boundary moved')
  assert.equal(aead.openInPlace(Buffer.from(sealed), 0, adLen, adLen + size, 1234), true, 'the original still opens')
})

test('a wiped key: sealing throws ERR_INVALID_STATE, opening returns false, wipe is idempotent', () => {
  const aead = NativeAead.create(randomBytes(32))
  const buf = Buffer.alloc(64)
  aead.sealInPlace(buf, 0, 8, 40, 1)
  aead.wipe()
  aead.wipe()
  const before = Buffer.from(buf)
  assert.throws(() => aead.sealInPlace(buf, 0, 8, 40, 2), { code: 'ERR_INVALID_STATE' })
  assert.deepEqual(buf, before, 'nothing written by a refused seal')
  assert.equal(aead.openInPlace(buf, 0, 8, 40, 1), false)
  assert.throws(() => aead.sealSlots(new Uint8Array(64), 64, new Uint32Array([8]), 1, 8, new Float64Array([1])), { code: 'ERR_INVALID_STATE' })
})

test('bad arguments throw TypeError/RangeError and leave the buffer untouched', () => {
  const aead = NativeAead.create(randomBytes(32))
  const buf = Buffer.alloc(64, 7)
  const range = { name: 'RangeError', code: 'ERR_INVALID_ARG' }
  const type = { name: 'TypeError', code: 'ERR_INVALID_ARG' }
  const cases: Array<[string, number, number, number, number]> = [
    ['tag past the end', 0, 8, 49, 0],
    ['textEnd past the end', 0, 8, 64, 0],
    ['adStart > adEnd', 9, 8, 40, 0],
    ['adEnd > textEnd', 0, 41, 40, 0],
    ['negative adStart', -1, 8, 40, 0],
    ['fractional adEnd', 0, 8.5, 40, 0],
    ['NaN textEnd', 0, 8, NaN, 0],
    ['huge offset', 0, 8, 2 ** 40, 0],
    ['counter 2^53', 0, 8, 40, 2 ** 53],
    ['negative counter', 0, 8, 40, -1],
    ['fractional counter', 0, 8, 40, 1.5],
    ['infinite counter', 0, 8, 40, Infinity],
  ]
  for (const [what, adStart, adEnd, textEnd, counter] of cases) {
    assert.throws(() => aead.sealInPlace(buf, adStart, adEnd, textEnd, counter), range, `seal: ${what}`)
    assert.throws(() => aead.openInPlace(buf, adStart, adEnd, textEnd, counter), range, `open: ${what}`)
  }
  assert.throws(() => aead.sealInPlace(Buffer.alloc(15), 0, 0, 0, 0), range, 'buffer shorter than a tag')
  assert.throws(() => aead.sealInPlace(buf, '0' as unknown as number, 8, 40, 0), range, 'offset as a string')
  assert.throws(() => aead.sealInPlace('text' as unknown as Uint8Array, 0, 0, 0, 0), type, 'not bytes')
  assert.throws(() => aead.sealInPlace(buf, 0, 8, 40, BigInt(1) as unknown as number), range, 'bigint counter')
  assert.ok(buf.every((b) => b === 7), 'buffer untouched')

  assert.throws(() => NativeAead.create(Buffer.alloc(31)), range, 'short key')
  assert.throws(() => NativeAead.create(Buffer.alloc(33)), range, 'long key')
  assert.throws(() => NativeAead.create('k'.repeat(32) as unknown as Uint8Array), type, 'key as a string')
})

test('a handle that is not an AEAD key is rejected, not dereferenced', async () => {
  const { loadAddon } = await import('../../src/native/index.js')
  const addon = loadAddon() as unknown as Record<string, (...args: unknown[]) => unknown>
  const buf = Buffer.alloc(64)
  // An external of another part of the addon (an I/O handle) must not pass for a key.
  const { fd } = addon.udpOpen!('127.0.0.1', 0) as { fd: number }
  const io = addon.ioOpen!(fd, new Uint8Array(64), 64, new Uint32Array(1), new Float64Array(16), () => {})
  try {
    for (const handle of [{}, null, 1, 'key', io]) {
      assert.throws(() => addon.aeadSeal!(handle, buf, 0, 0, 0, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG' })
      assert.throws(() => addon.aeadOpen!(handle, buf, 0, 0, 0, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG' })
      assert.throws(() => addon.aeadWipe!(handle), { name: 'TypeError', code: 'ERR_INVALID_ARG' })
    }
  } finally {
    addon.ioClose!(io)
    addon.tunClose!(fd)
  }
})

test('sealSlots equals one sealInPlace per slot and appends the tags', () => {
  const key = randomBytes(32)
  const aead = NativeAead.create(key)
  const slotBytes = 2048
  const count = 33
  const adLen = 16
  const rand = rng(42)
  const arena = new Uint8Array(slotBytes * count)
  const lengths = new Uint32Array(count + 3)
  const counters = new Float64Array(count)
  const expected: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const len = adLen + (i === 0 ? 0 : rand(slotBytes - adLen - TAG_BYTES + 1))
    const packet = randomBytes(len)
    arena.set(packet, i * slotBytes)
    lengths[i] = len
    counters[i] = i === 1 ? 2 ** 53 - 1 : 1000 + i
    expected.push(Buffer.concat([packet.subarray(0, adLen), sodiumSeal(key, packet.subarray(0, adLen), packet.subarray(adLen), counters[i]!)]))
  }
  aead.sealSlots(arena, slotBytes, lengths, count, adLen, counters)
  for (let i = 0; i < count; i++) {
    assert.equal(lengths[i], expected[i]!.length, `length ${i}`)
    assert.ok(Buffer.from(arena.subarray(i * slotBytes, i * slotBytes + lengths[i]!)).equals(expected[i]!), `slot ${i}`)
    assert.equal(aead.openInPlace(arena.subarray(i * slotBytes, (i + 1) * slotBytes), 0, adLen, lengths[i]! - TAG_BYTES, counters[i]!), true)
  }
  assert.equal(lengths[count], 0, 'lengths past count untouched')
})

test('sealSlots checks everything before sealing anything', () => {
  const aead = NativeAead.create(randomBytes(32))
  const arena = new Uint8Array(4 * 100).fill(3)
  const ok = (): [Uint32Array, Float64Array] => [new Uint32Array([20, 20, 20, 20]), new Float64Array([1, 2, 3, 4])]
  const range = { name: 'RangeError', code: 'ERR_INVALID_ARG' }
  const bad: Array<[string, () => void]> = [
    ['no room for the tag in the last slot', () => { const [l, c] = ok(); l[3] = 85; aead.sealSlots(arena, 100, l, 4, 8, c) }],
    ['a packet shorter than adLen', () => { const [l, c] = ok(); l[2] = 7; aead.sealSlots(arena, 100, l, 4, 8, c) }],
    ['a bad counter', () => { const [l, c] = ok(); c[3] = -1; aead.sealSlots(arena, 100, l, 4, 8, c) }],
    ['count beyond the arena', () => { const [l, c] = ok(); aead.sealSlots(arena, 101, l, 4, 8, c) }],
    ['count beyond lengths', () => { const [, c] = ok(); aead.sealSlots(arena, 100, new Uint32Array(3), 4, 8, c) }],
    ['count beyond counters', () => { const [l] = ok(); aead.sealSlots(arena, 100, l, 4, 8, new Float64Array(3)) }],
    ['adLen beyond the slot', () => { const [l, c] = ok(); aead.sealSlots(arena, 100, l, 4, 101, c) }],
  ]
  for (const [what, call] of bad) assert.throws(call, range, what)
  assert.ok(arena.every((b) => b === 3), 'arena untouched')
  const [l, c] = ok()
  aead.sealSlots(arena, 100, l, 0, 8, c)
  assert.deepEqual([...l], [20, 20, 20, 20], 'count 0 seals nothing')
})

test('sealFrom (plaintext split between the record and a source buffer) equals libsodium over the joined text, native and fallback', () => {
  const rand = rng(0x66726f6d)
  const key = randomBytes(32)
  const native = NativeAead.create(key)
  const sizes = [0, 1, 13, 63, 64, 65, 1400, 65535, 65536]
  for (let i = 0; i < 40; i++) sizes.push(rand(70001))
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!
    const adLen = rand(20)
    const headLen = [0, 1, 5, 13, 64, 65][i % 6]!
    const counter = i === 0 ? 2 ** 53 - 1 : rand(2 ** 31) * 4099 + rand(4099)
    const ad = randomBytes(adLen)
    const head = randomBytes(headLen)
    const source = randomBytes(size + 10)
    const srcStart = rand(6)
    const payload = source.subarray(srcStart, srcStart + size)
    const sourceBefore = Buffer.from(source)
    const expected = Buffer.concat([ad, sodiumSeal(key, ad, Buffer.concat([head, payload]), counter)])
    const lead = rand(9)
    const makeRecord = (): Buffer => {
      const record = Buffer.alloc(lead + adLen + headLen + size + TAG_BYTES + rand(5), 0xee)
      ad.copy(record, lead)
      head.copy(record, lead + adLen)
      return record
    }
    const sealed = makeRecord()
    native.sealFrom(sealed, lead, lead + adLen, lead + adLen + headLen, source, srcStart, srcStart + size, counter)
    assert.ok(sealed.subarray(lead, lead + expected.length).equals(expected), `native, size ${size}, head ${headLen}`)
    assert.ok(source.equals(sourceBefore), 'the source is left as it was')
    const viaKey = makeRecord()
    new AeadKey(key).sealFrom(viaKey, lead, lead + adLen, lead + adLen + headLen, source, srcStart, srcStart + size, counter)
    assert.ok(viaKey.subarray(lead, lead + expected.length).equals(expected), `AeadKey, size ${size}`)
  }
})

test('sealFrom refuses bad ranges, an overlapping source and a wiped key, writing nothing', () => {
  const aead = NativeAead.create(randomBytes(32))
  const record = Buffer.alloc(128, 7)
  const source = Buffer.alloc(64, 9)
  const range = { name: 'RangeError', code: 'ERR_INVALID_ARG' }
  const cases: Array<[string, number, number, number, number, number, number]> = [
    ['text and tag past the end', 0, 14, 60, 0, 64, 0],
    ['adStart > adEnd', 15, 14, 27, 0, 10, 0],
    ['adEnd > headEnd', 0, 28, 27, 0, 10, 0],
    ['srcStart > srcEnd', 0, 14, 27, 10, 9, 0],
    ['srcEnd past the source', 0, 14, 27, 0, 65, 0],
    ['fractional srcStart', 0, 14, 27, 0.5, 10, 0],
    ['counter 2^53', 0, 14, 27, 0, 10, 2 ** 53],
  ]
  for (const [what, adStart, adEnd, headEnd, srcStart, srcEnd, counter] of cases) {
    assert.throws(() => aead.sealFrom(record, adStart, adEnd, headEnd, source, srcStart, srcEnd, counter), range, what)
  }
  // The source inside the record's own bytes (one buffer, two views) is refused.
  assert.throws(() => aead.sealFrom(record, 0, 14, 27, record, 40, 60, 1), range, 'source overlaps the text')
  assert.throws(() => aead.sealFrom(record.subarray(0, 64), 0, 14, 27, record.subarray(40), 0, 20, 1), range, 'overlap through views')
  assert.ok(record.every((b) => b === 7), 'record untouched')
  aead.sealFrom(record, 0, 14, 27, record, 100, 110, 1) // disjoint parts of one buffer are fine
  aead.wipe()
  assert.throws(() => aead.sealFrom(record, 0, 14, 27, source, 0, 10, 2), { code: 'ERR_INVALID_STATE' })
})
