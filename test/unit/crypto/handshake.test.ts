import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HandshakeInitiator, acceptHandshake } from '../../../src/crypto/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'

const prologue = Buffer.from('gst test')

test('both sides derive mirrored keys and the same hash', () => {
  const psk = generateKey()
  const initiator = new HandshakeInitiator(psk, prologue, Buffer.from('hello'))
  const response = acceptHandshake([generateKey(), psk], prologue, initiator.message1)
  assert.ok(response)
  assert.equal(response.keyIndex, 1)
  assert.equal(response.payload.toString(), 'hello')
  const { message2, secrets: r } = response.reply(Buffer.from('welcome'))
  const done = initiator.finish(message2)
  assert.ok(done)
  assert.equal(done.payload.toString(), 'welcome')
  assert.deepEqual(done.secrets.tx, r.rx)
  assert.deepEqual(done.secrets.rx, r.tx)
  assert.deepEqual(done.secrets.hash, r.hash)
  assert.notDeepEqual(done.secrets.tx, done.secrets.rx)
})

test('fresh ephemeral keys: two handshakes with one psk give different keys', () => {
  const psk = generateKey()
  const keys = [0, 1].map(() => {
    const i = new HandshakeInitiator(psk, prologue, Buffer.alloc(0))
    return acceptHandshake([psk], prologue, i.message1)!.reply(Buffer.alloc(0)).secrets.tx.toString('hex')
  })
  assert.notEqual(keys[0], keys[1])
})

test('wrong key, wrong prologue, garbage and every flipped byte are refused', () => {
  const psk = generateKey()
  const initiator = new HandshakeInitiator(psk, prologue, Buffer.from('payload'))
  assert.equal(acceptHandshake([generateKey()], prologue, initiator.message1), null)
  assert.equal(acceptHandshake([psk], Buffer.from('other'), initiator.message1), null)
  assert.equal(acceptHandshake([psk], prologue, Buffer.alloc(10)), null)
  assert.equal(acceptHandshake([psk], prologue, Buffer.alloc(200, 1)), null)
  for (let i = 0; i < initiator.message1.length; i++) {
    const bad = Buffer.from(initiator.message1)
    bad[i]! ^= 0x80
    assert.equal(acceptHandshake([psk], prologue, bad), null, `byte ${i}`)
  }
})

test('a forged or altered reply is refused by the initiator', () => {
  const psk = generateKey()
  const initiator = new HandshakeInitiator(psk, prologue, Buffer.alloc(0))
  const { message2 } = acceptHandshake([psk], prologue, initiator.message1)!.reply(Buffer.from('x'))
  const bad = Buffer.from(message2)
  bad[bad.length - 1]! ^= 1
  assert.equal(initiator.finish(bad), null)
})
