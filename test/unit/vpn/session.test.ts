// VPN session keys over a lossy, reordering transport, with a fake clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VpnSession, type SessionTimings } from '../../../src/vpn/session.js'
import { InitHandshake, readInit, writeResponse } from '../../../src/vpn/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { SEALED_HEADER_BYTES, TAG_BYTES } from '../../../src/vpn/wire.js'

const timings: SessionTimings = { rekeyIntervalMs: 1000, rekeyGraceMs: 500, rekeyRetryMs: 100, maxKeyAgeMs: 5000 }

function pair (): { client: VpnSession, server: VpnSession } {
  const psk = generateKey()
  const init = new InitHandshake(psk, 11, { timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), pathId: 3 })
  const decision = readInit([psk], init.datagram)
  assert.ok(decision.ok)
  assert.equal(decision.payload.pathId, 3)
  assert.equal(decision.senderIndex, 11)
  const { datagram, secrets } = writeResponse(decision.response, 22, decision.senderIndex)
  const done = init.finish(datagram)
  assert.ok(done)
  assert.equal(done.remoteIndex, 22)
  return {
    client: new VpnSession(done.secrets, true, 11, 22, psk, timings, 0),
    server: new VpnSession(secrets, false, 22, 11, psk, timings, 0),
  }
}

function packet (from: VpnSession, text: string): Buffer {
  const length = SEALED_HEADER_BYTES + text.length + TAG_BYTES
  const d = Buffer.alloc(length)
  d.write(text, SEALED_HEADER_BYTES)
  from.seal(d, length)
  return d
}

function receive (to: VpnSession, d: Buffer, nowMs: number): string {
  const copy = Buffer.from(d)
  const r = to.open(copy, copy.length, nowMs)
  return r === 'ok' ? copy.subarray(SEALED_HEADER_BYTES, copy.length - TAG_BYTES).toString() : r
}

test('datagrams open once, in any order; forgeries and replays are refused', () => {
  const { client, server } = pair()
  const a = packet(client, 'aa'); const b = packet(client, 'bb')
  assert.equal(a.readUInt32BE(2), 22, 'carries the receiver index')
  assert.equal(receive(server, b, 1), 'bb')
  assert.equal(receive(server, a, 1), 'aa')
  assert.equal(receive(server, a, 1), 'replay')
  const forged = Buffer.from(b); forged[SEALED_HEADER_BYTES]! ^= 1
  assert.equal(receive(server, forged, 1), 'decrypt')
  const header = Buffer.from(packet(client, 'cc')); header[9]! ^= 1
  assert.equal(receive(server, header, 1), 'decrypt', 'the header is authenticated')
  assert.equal(receive(client, packet(server, 'back'), 1), 'back')
})

test('rotation survives a lost reply and a duplicated init; no datagram is lost across it', () => {
  const { client, server } = pair()
  assert.equal(client.rekeyMessageDue(500), null)
  const init1 = client.rekeyMessageDue(1000)!
  assert.ok(init1)
  const reply = server.onRekeyInit(init1)!
  // The reply is lost. The server still seals with the old keys, which the client can open.
  assert.equal(receive(client, packet(server, 'still old keys'), 1010), 'still old keys')
  assert.equal(client.rekeyMessageDue(1050), null, 'not yet time to resend')
  const init2 = client.rekeyMessageDue(1100)!
  assert.deepEqual(init2, init1, 'the same message again')
  assert.deepEqual(server.onRekeyInit(init2), reply, 'a duplicate gets the cached reply, not new keys')
  const inFlightOld = packet(client, 'sent before the switch')
  assert.equal(client.onRekeyReply(reply, 1110), true)
  assert.equal(client.onRekeyReply(reply, 1111), false, 'a duplicate reply changes nothing')
  const firstNew = packet(client, 'new keys')
  assert.equal(firstNew[1], 1, 'epoch 1')
  assert.equal(receive(server, firstNew, 1120), 'new keys')
  assert.equal(server.sendEpoch, 1, 'the server switched once it saw the new keys in use')
  assert.equal(receive(server, inFlightOld, 1130), 'sent before the switch', 'late old-epoch datagram within grace')
  assert.equal(receive(client, packet(server, 'server new'), 1140), 'server new')
  const late = packet(client, 'xx') // epoch 1: fine
  server.sweep(2000)
  assert.deepEqual(server.receiveEpochs, [1], 'old keys wiped after grace')
  assert.equal(receive(server, late, 2000), 'xx')
  assert.equal(client.rotations, 1)
  assert.equal(server.rotations, 1)
})

test('keys that never rotate expire', () => {
  const { client, server } = pair()
  assert.equal(client.isUsable(4999), true)
  assert.equal(client.isUsable(5000), false)
  const init = client.rekeyMessageDue(1000)!
  const reply = server.onRekeyInit(init)!
  client.onRekeyReply(reply, 4000)
  assert.equal(client.isUsable(8999), true)
})

test('a rekey init from another session does not authenticate', () => {
  const a = pair(); const b = pair()
  const init = a.client.rekeyMessageDue(1000)!
  assert.equal(b.server.onRekeyInit(init), null)
})
