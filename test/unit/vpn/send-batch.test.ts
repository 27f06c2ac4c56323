// SendBatch over real loopback sockets: datagrams queued unsealed are sealed at the flush (one
// call per key) and open at the peer; a key change flushes what waits for the old key first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UdpSocket, encodeAddress, ADDR_BYTES } from '../../../src/native/index.js'
import { SendBatch } from '../../../src/vpn/send-batch.js'
import { VpnSession, type SessionTimings } from '../../../src/vpn/session.js'
import { InitHandshake, readInit, writeResponse } from '../../../src/vpn/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { SEALED_HEADER_BYTES, TAG_BYTES } from '../../../src/vpn/wire.js'

const timings: SessionTimings = { rekeyIntervalMs: 1000, rekeyGraceMs: 500, rekeyRetryMs: 100, maxKeyAgeMs: 5000 }

function pair (): { client: VpnSession, server: VpnSession } {
  const psk = generateKey()
  const init = new InitHandshake(psk, 11, { timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), pathId: 0 })
  const decision = readInit([psk], init.datagram)
  assert.ok(decision.ok)
  const { datagram, secrets } = writeResponse(decision.response, 22, decision.senderIndex)
  const done = init.finish(datagram)
  assert.ok(done)
  return { client: new VpnSession(done.secrets, true, 11, 22, psk, timings, 0), server: new VpnSession(secrets, false, 22, 11, psk, timings, 0) }
}

test('unsealed datagrams (copied in, or written in place) are sealed at the flush and open at the peer, in order, mixed with sealed ones; a key change flushes first', async (t) => {
  const { client, server } = pair()
  const receiver = UdpSocket.open({ address: '127.0.0.1', coalesce: true })
  t.after(() => receiver.close())
  const got: string[] = []
  receiver.onBatch((count) => {
    const buf = Buffer.from(receiver.arena.buffer, receiver.arena.byteOffset, receiver.arena.byteLength)
    for (let i = 0; i < count; i++) {
      const d = Buffer.from(buf.subarray(receiver.offsets[i]!, receiver.offsets[i]! + receiver.lengths[i]!))
      const r = server.open(d, d.length, 0)
      got.push(r === 'ok' ? d.subarray(SEALED_HEADER_BYTES, d.length - TAG_BYTES).toString() : r)
    }
  })
  receiver.start()
  const sender = UdpSocket.open({ address: '127.0.0.1' })
  t.after(() => sender.close())
  const addrs = new Uint8Array(ADDR_BYTES)
  encodeAddress('127.0.0.1', receiver.port, addrs, 0)
  const batch = new SendBatch(sender, 256, 8)
  client.beforeSendKeyChange = () => batch.flush()
  const scratch = Buffer.alloc(256)
  const send = (text: string, mode: 'sealed' | 'unsealed' | 'in place'): void => {
    const total = SEALED_HEADER_BYTES + text.length + TAG_BYTES
    if (mode === 'in place') {
      // Written straight into the batch's slot (the Peer's path when io offers slotFor).
      const slot = batch.slotFor(total - TAG_BYTES)!
      slot.write(text, SEALED_HEADER_BYTES)
      batch.commitUnsealed(total - TAG_BYTES, addrs, 0, client.sendKey, client.sealLater(slot))
      return
    }
    scratch.write(text, SEALED_HEADER_BYTES)
    if (mode === 'sealed') { client.seal(scratch, total); batch.queue(scratch, total, addrs, 0); return }
    const counter = client.sealLater(scratch)
    batch.queueUnsealed(scratch, total - TAG_BYTES, addrs, 0, client.sendKey, counter)
  }
  // More than the batch holds (early flushes, one of them inside slotFor), the three ways mixed.
  for (let i = 0; i < 12; i++) send(`packet ${i}`, i === 5 ? 'sealed' : i % 3 === 0 ? 'in place' : 'unsealed')
  send('before the key goes', 'in place')
  client.wipe() // flushes through beforeSendKeyChange while the key still exists
  batch.flush() // nothing left
  for (const deadline = Date.now() + 5000; got.length < 13 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(got, [...Array.from({ length: 12 }, (_, i) => `packet ${i}`), 'before the key goes'])
  assert.equal(batch.dropped, 0)
})

test('each datagram goes to the address of its own slot, whichever array (4-byte aligned or not) and slot it names, alternating within a batch', { timeout: 10_000 }, async (t) => {
  const receivers = [UdpSocket.open({ address: '127.0.0.1' }), UdpSocket.open({ address: '127.0.0.1' }), UdpSocket.open({ address: '127.0.0.1' })]
  const got: string[][] = receivers.map(() => [])
  receivers.forEach((r, k) => {
    t.after(() => r.close())
    r.onBatch((count) => {
      for (let i = 0; i < count; i++) got[k]!.push(Buffer.from(r.arena.subarray(r.offsets[i]!, r.offsets[i]! + r.lengths[i]!)).toString())
    })
    r.start()
  })
  const sender = UdpSocket.open({ address: '127.0.0.1' })
  t.after(() => sender.close())
  // Slot 1 of an aligned array; slot 0 and 1 of an array starting at an odd byte offset (copied bytewise).
  const aligned = new Uint8Array(2 * ADDR_BYTES)
  encodeAddress('127.0.0.1', receivers[0]!.port, aligned, 1)
  const unaligned = new Uint8Array(2 * ADDR_BYTES + 1).subarray(1)
  encodeAddress('127.0.0.1', receivers[1]!.port, unaligned, 0)
  encodeAddress('127.0.0.1', receivers[2]!.port, unaligned, 1)
  const targets: Array<[Uint8Array, number, number]> = [[aligned, 1, 0], [unaligned, 0, 1], [unaligned, 1, 2]]
  const batch = new SendBatch(sender, 64, 4)
  const want: string[][] = receivers.map(() => [])
  for (let i = 0; i < 10; i++) {
    const [addrs, index, k] = targets[(i * 7) % 3]!
    const text = `to ${k} #${i}`
    batch.queue(Buffer.from(text), text.length, addrs, index)
    want[k]!.push(text)
  }
  batch.flush()
  for (const deadline = Date.now() + 5000; got.flat().length < 10 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(got, want)
})
