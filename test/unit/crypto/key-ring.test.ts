import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyRing } from '../../../src/crypto/key-ring.js'
import { HandshakeInitiator, acceptHandshake, type HandshakeSecrets } from '../../../src/crypto/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { TAG_BYTES } from '../../../src/crypto/aead.js'

function handshake (psk: Buffer): [HandshakeSecrets, HandshakeSecrets] {
  const i = new HandshakeInitiator(psk, Buffer.alloc(0), Buffer.alloc(0))
  const { message2, secrets } = acceptHandshake([psk], Buffer.alloc(0), i.message1)!.reply(Buffer.alloc(0))
  return [i.finish(message2)!.secrets, secrets]
}

function send (from: KeyRing, text: string): { epoch: number, counter: number, body: Buffer, tag: Buffer } {
  const counter = from.nextSendCounter()
  const body = Buffer.from(text); const tag = Buffer.alloc(TAG_BYTES)
  from.sendKey.sealInPlace(Buffer.alloc(0), body, tag, counter)
  return { epoch: from.sendEpoch & 0xff, counter, body, tag }
}

function receive (to: KeyRing, msg: ReturnType<typeof send>, nowMs: number): string | null {
  const rx = to.receiveKey(msg.epoch, nowMs)
  if (!rx) return null
  const body = Buffer.from(msg.body)
  if (!rx.key.openInPlace(Buffer.alloc(0), body, msg.tag, msg.counter)) return null
  if (!rx.window.accept(msg.counter)) return null
  to.confirmReceive(rx, nowMs)
  return body.toString()
}

test('rotation: old epoch opens during grace, then is wiped; counters restart', () => {
  const psk = generateKey()
  const [i0, r0] = handshake(psk)
  const client = new KeyRing(i0, 1000); const server = new KeyRing(r0, 1000)
  const late = send(client, 'late')
  assert.equal(receive(server, send(client, 'a'), 0), 'a')

  const [i1, r1] = handshake(psk)
  server.installNext(r1); server.switchSendKey() // responder switches after replying
  const fromServer = send(server, 'new epoch from server')
  assert.equal(fromServer.epoch, 1)
  assert.equal(fromServer.counter, 0)
  client.installNext(i1)
  assert.equal(receive(client, fromServer, 10), 'new epoch from server')
  client.switchSendKey()
  assert.equal(receive(server, send(client, 'b'), 20), 'b')
  assert.equal(receive(server, late, 500), 'late', 'late record of the old epoch within grace')
  assert.equal(receive(server, late, 600), null, 'replay refused')
  server.sweep(2000)
  assert.deepEqual(server.receiveEpochs, [1])
  assert.equal(server.rotations, 1)
})

test('a forged record naming the new epoch does not start the old keys\' grace time; an authentic one does', () => {
  const psk = generateKey()
  const [i0, r0] = handshake(psk)
  const client = new KeyRing(i0, 1000); const server = new KeyRing(r0, 1000)
  const late = send(client, 'late')
  const [i1, r1] = handshake(psk)
  server.installNext(r1); server.switchSendKey()
  client.installNext(i1); client.switchSendKey()
  const fresh = send(client, 'new')
  const forged = { ...fresh, tag: Buffer.alloc(TAG_BYTES) }
  assert.equal(receive(server, forged, 10), null, 'the forgery fails authentication')
  server.sweep(5000)
  assert.deepEqual(server.receiveEpochs, [0, 1], 'the old epoch keeps its keys: no grace time started')
  assert.equal(receive(server, late, 5000), 'late')
  assert.equal(receive(server, fresh, 6000), 'new')
  server.sweep(6500)
  assert.deepEqual(server.receiveEpochs, [0, 1], 'within the grace time')
  server.sweep(7001)
  assert.deepEqual(server.receiveEpochs, [1], 'the authentic record started it')
})
