// The VPN's INIT MACs and COOKIE_REPLY datagram (src/vpn/handshake.ts) end to end, without sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { InitHandshake, readInit, initKeyIndex, hasValidMac2, writeCookieReply, cookieReplyReceiverIndex, COOKIE_REPLY_BYTES } from '../../../src/vpn/handshake.js'
import { CookieMaker, CookieJar } from '../../../src/crypto/cookie.js'
import { encodeAddress, ADDR_BYTES } from '../../../src/native/index.js'
import { generateKey } from '../../../src/crypto/key.js'

const payload = (pathId: number): { timestamp: Buffer, clientId: Buffer, pathId: number } => ({ timestamp: Buffer.alloc(12, pathId + 1), clientId: Buffer.alloc(16, 2), pathId })

function address (ip: string, port: number): Uint8Array {
  const out = new Uint8Array(ADDR_BYTES)
  encodeAddress(ip, port, out, 0)
  return out
}

test('mac1 names the key before any Noise work; a changed byte anywhere before mac2 fails it', () => {
  const keys = [generateKey(), generateKey(), generateKey()]
  const init = new InitHandshake(keys[2]!, 77, payload(0))
  assert.equal(initKeyIndex(keys, init.datagram), 2)
  assert.equal(initKeyIndex([generateKey()], init.datagram), -1, 'not from a key holder')
  for (let i = 0; i < init.datagram.length - 16; i++) {
    const forged = Buffer.from(init.datagram); forged[i]! ^= 0x40
    assert.equal(initKeyIndex(keys, forged), -1, `byte ${i}`)
    assert.equal(readInit(keys, forged).ok, false, `byte ${i}`)
  }
  const decision = readInit(keys, init.datagram)
  assert.ok(decision.ok && decision.keyIndex === 2 && decision.senderIndex === 77)
  assert.equal(initKeyIndex(keys, init.datagram.subarray(0, 60)), -1, 'truncated')
})

test('under load: cookie reply, then an INIT with mac2 proves the address it came from', () => {
  const psk = generateKey()
  const maker = new CookieMaker(0)
  const jar = new CookieJar()
  const alice = address('127.10.0.1', 40000)
  const first = new InitHandshake(psk, 5, payload(1))
  assert.equal(hasValidMac2(maker, first.datagram, alice, 10), false, 'no cookie yet')

  const reply = writeCookieReply(maker, first.datagram, psk, alice, 10)
  assert.equal(reply.length, COOKIE_REPLY_BYTES)
  assert.equal(cookieReplyReceiverIndex(reply), 5)
  const other = new InitHandshake(psk, 5, payload(1))
  assert.equal(other.acceptCookie(reply, psk, jar, 20), false, 'a reply to another INIT (other mac1), even with the same index')
  assert.equal(first.acceptCookie(reply, generateKey(), jar, 20), false, 'another key')
  const truncated = reply.subarray(0, reply.length - 1)
  assert.equal(first.acceptCookie(truncated, psk, jar, 20), false)
  assert.equal(first.acceptCookie(reply, psk, jar, 20), true)

  const second = new InitHandshake(psk, 6, payload(1), jar.cookie(1, 30))
  assert.equal(hasValidMac2(maker, second.datagram, alice, 30), true)
  assert.equal(hasValidMac2(maker, second.datagram, address('127.10.0.1', 40001), 30), false, 'another port')
  assert.equal(hasValidMac2(maker, second.datagram, address('127.10.0.2', 40000), 30), false, 'another host')
  assert.equal(jar.cookie(0, 30), undefined, 'the cookie belongs to the path it came on')
  assert.ok(readInit([psk], second.datagram).ok, 'mac2 does not change the handshake')
})
