import { test } from 'node:test'
import assert from 'node:assert/strict'
import sodium from 'sodium-native'
import {
  CookieKeys, CookieMaker, CookieJar, writeMac, isMacValid,
  MAC_BYTES, SEALED_COOKIE_BYTES, COOKIE_SECRET_LIFETIME_MS, COOKIE_CLIENT_LIFETIME_MS,
} from '../../../src/crypto/cookie.js'
import { HandshakeLoad } from '../../../src/crypto/handshake-load.js'

/** Deterministic "randomness": a counter, so tests can tell secrets apart and repeat exactly. */
function countingRandom (): (buf: Buffer) => void {
  let n = 0
  return (buf) => { buf.fill(0); buf.writeUInt32BE(++n, 0) }
}

const psk = Buffer.alloc(32, 7)
const otherPsk = Buffer.alloc(32, 8)
const alice = Buffer.from('4\0\x13\x88\x7f\x0a\x00\x01'.padEnd(20, '\0'), 'latin1')   // 127.10.0.1:5000 in the socket's slot format
const mallory = Buffer.from('4\0\x13\x88\x7f\x0a\x00\x02'.padEnd(20, '\0'), 'latin1')

function mac (key: Uint8Array, message: Uint8Array): Buffer {
  const out = Buffer.alloc(MAC_BYTES)
  writeMac(out, key, message)
  return out
}

test('mac1 keys are derived per pre-shared key and label; a MAC checks only under its key and message', () => {
  const a = new CookieKeys(psk); const b = new CookieKeys(otherPsk)
  assert.notDeepEqual(a.mac1Key, b.mac1Key)
  assert.notDeepEqual(a.mac1Key, a.replyKey, 'mac1 and reply keys are separated by their labels')
  assert.deepEqual(new CookieKeys(psk).mac1Key, a.mac1Key, 'deterministic')
  const message = Buffer.from('an INIT up to its mac1')
  const m = mac(a.mac1Key, message)
  assert.equal(isMacValid(a.mac1Key, message, m), true)
  assert.equal(isMacValid(b.mac1Key, message, m), false, 'another key')
  for (let i = 0; i < message.length; i++) {
    const changed = Buffer.from(message); changed[i]! ^= 1
    assert.equal(isMacValid(a.mac1Key, changed, m), false, `byte ${i} changed`)
  }
  assert.equal(isMacValid(a.mac1Key, message, m.subarray(1)), false, 'short MAC')
})

test('cookie round trip: the server seals, the client opens it only for the INIT it sent, mac2 proves the address', () => {
  const keys = new CookieKeys(psk)
  const maker = new CookieMaker(0, countingRandom())
  const jar = new CookieJar()
  const initMac1 = Buffer.alloc(MAC_BYTES, 0xaa)
  const sealed = Buffer.alloc(SEALED_COOKIE_BYTES)
  maker.sealReply(sealed, alice, initMac1, keys.replyKey, 1000)

  assert.equal(jar.accept(0, sealed, Buffer.alloc(MAC_BYTES, 0xab), keys.replyKey, 1000), false, 'bound to the INIT it answers (its mac1)')
  assert.equal(jar.accept(0, sealed, initMac1, new CookieKeys(otherPsk).replyKey, 1000), false, 'only a holder of the key can open it')
  for (const at of [0, 30, SEALED_COOKIE_BYTES - 1]) {
    const forged = Buffer.from(sealed); forged[at]! ^= 1
    assert.equal(jar.accept(0, forged, initMac1, keys.replyKey, 1000), false, `byte ${at} changed`)
  }
  assert.equal(jar.cookie(0, 1000), undefined, 'nothing kept from failed replies')
  assert.equal(jar.accept(0, sealed, initMac1, keys.replyKey, 1000), true)
  const cookie = jar.cookie(0, 1000)!
  assert.deepEqual(cookie, maker.cookieFor(alice, 1000))

  const init = Buffer.from('the next INIT, up to its mac2')
  const mac2 = mac(cookie, init)
  assert.equal(maker.isMac2Valid(init, mac2, alice, 2000), true)
  assert.equal(maker.isMac2Valid(init, mac2, mallory, 2000), false, 'a cookie proves one address only')
  assert.equal(maker.isMac2Valid(Buffer.from('another INIT, up to its mac2'), mac2, alice, 2000), false, 'mac2 covers the INIT')
  assert.equal(maker.isMac2Valid(init, Buffer.alloc(MAC_BYTES), alice, 2000), false, 'a zero mac2 means no cookie')
})

test('the cookie secret rotates every 2 minutes; cookies of the previous secret still count, older ones do not', () => {
  const maker = new CookieMaker(0, countingRandom())
  const init = Buffer.from('INIT')
  const early = Buffer.from(maker.cookieFor(alice, 0))   // a copy: the maker reuses its buffer
  const earlyMac2 = mac(early, init)
  assert.equal(maker.isMac2Valid(init, earlyMac2, alice, COOKIE_SECRET_LIFETIME_MS - 1), true)
  const rotated = Buffer.from(maker.cookieFor(alice, COOKIE_SECRET_LIFETIME_MS))
  assert.notDeepEqual(rotated, early, 'a new secret makes new cookies')
  assert.equal(maker.isMac2Valid(init, earlyMac2, alice, COOKIE_SECRET_LIFETIME_MS + 1), true, 'previous secret')
  assert.equal(maker.isMac2Valid(init, earlyMac2, alice, 2 * COOKIE_SECRET_LIFETIME_MS), false, 'two secrets ago')
  assert.equal(maker.isMac2Valid(init, mac(rotated, init), alice, 2 * COOKIE_SECRET_LIFETIME_MS), true, 'the one before is now previous')
  // A server idle for longer than two lifetimes keeps no stale secret around.
  assert.equal(maker.isMac2Valid(init, mac(rotated, init), alice, 10 * COOKIE_SECRET_LIFETIME_MS), false)
})

test('the client forgets a cookie before the server could stop accepting it, per path', () => {
  const keys = new CookieKeys(psk)
  const maker = new CookieMaker(0, countingRandom())
  const jar = new CookieJar()
  const sealed = Buffer.alloc(SEALED_COOKIE_BYTES)
  const m1 = Buffer.alloc(MAC_BYTES, 1)
  maker.sealReply(sealed, alice, m1, keys.replyKey, 0)
  assert.equal(jar.accept(1, sealed, m1, keys.replyKey, 0), true)
  assert.equal(jar.cookie(0, 0), undefined, 'path 0 has none')
  assert.ok(jar.cookie(1, COOKIE_CLIENT_LIFETIME_MS - 1))
  assert.equal(jar.cookie(1, COOKIE_CLIENT_LIFETIME_MS), undefined)
  assert.ok(COOKIE_CLIENT_LIFETIME_MS < COOKIE_SECRET_LIFETIME_MS)
})

test('sealed replies use a fresh nonce each time', () => {
  const keys = new CookieKeys(psk)
  const maker = new CookieMaker(0)
  const a = Buffer.alloc(SEALED_COOKIE_BYTES); const b = Buffer.alloc(SEALED_COOKIE_BYTES)
  maker.sealReply(a, alice, Buffer.alloc(MAC_BYTES), keys.replyKey, 0)
  maker.sealReply(b, alice, Buffer.alloc(MAC_BYTES), keys.replyKey, 0)
  assert.notDeepEqual(a, b)
  assert.equal(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, 24)
})

test('handshake load: over the threshold within a second is load; it ends one hold time after the rate drops', () => {
  const load = new HandshakeLoad({ thresholdPerSecond: 10, holdMs: 1000 })
  let t = 0
  for (let i = 0; i < 10; i++) assert.equal(load.note(t += 50), false, `initiation ${i + 1} of 10 in half a second`)
  assert.equal(load.note(t += 50), true, 'the 11th within a second')
  assert.equal(load.isUnderLoad(t + 999), true, 'held')
  assert.equal(load.isUnderLoad(t + 1000), false, 'released after the hold time')
})

test('handshake load: a steady rate under the threshold is not load; the window slides across its boundary', () => {
  const load = new HandshakeLoad({ thresholdPerSecond: 10, holdMs: 1000 })
  for (let t = 0; t < 10_000; t += 125) assert.equal(load.note(t), false, `8/s at ${t} ms`)
  const burst = new HandshakeLoad({ thresholdPerSecond: 10 })
  // 8 at the end of one window and 8 at the start of the next: 16 within 200 ms is load.
  burst.note(0)   // opens the window at 0
  for (let i = 0; i < 8; i++) assert.equal(burst.note(900 + i), false)
  let loaded = false
  for (let i = 0; i < 8; i++) loaded = burst.note(1000 + i)
  assert.equal(loaded, true)
  assert.ok(burst.ratePerSecond(5000) === 0, 'an idle server forgets its rate')
})
