// Opening a receive batch with one addon call per key gives what opening each datagram alone gives.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VpnSession, type SessionTimings } from '../../../src/vpn/session.js'
import { BatchOpener } from '../../../src/vpn/batch-opener.js'
import { InitHandshake, readInit, writeResponse } from '../../../src/vpn/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { SEALED_HEADER_BYTES, TAG_BYTES, readSealedCounter } from '../../../src/vpn/wire.js'

const timings: SessionTimings = { rekeyIntervalMs: 1000, rekeyGraceMs: 500, rekeyRetryMs: 100, maxKeyAgeMs: 5000 }

function pair (): { client: VpnSession, server: VpnSession } {
  const psk = generateKey()
  const init = new InitHandshake(psk, 11, { timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), pathId: 0 })
  const decision = readInit([psk], init.datagram)
  assert.ok(decision.ok)
  const { datagram, secrets } = writeResponse(decision.response, 22, decision.senderIndex)
  const done = init.finish(datagram)
  assert.ok(done)
  return {
    client: new VpnSession(done.secrets, true, 11, 22, psk, timings, 0),
    server: new VpnSession(secrets, false, 22, 11, psk, timings, 0),
  }
}

function sealed (from: VpnSession, text: string): Buffer {
  const d = Buffer.alloc(SEALED_HEADER_BYTES + text.length + TAG_BYTES)
  d.write(text, SEALED_HEADER_BYTES)
  from.seal(d, d.length)
  return d
}

/** Lays datagrams out like a coalescing socket's arena (back to back, at odd offsets). */
function arenaOf (datagrams: Buffer[]): { arena: Buffer, offsets: Uint32Array, lengths: Uint32Array } {
  const offsets = new Uint32Array(datagrams.length)
  const lengths = new Uint32Array(datagrams.length)
  let at = 3
  datagrams.forEach((d, i) => { offsets[i] = at; lengths[i] = d.length; at += d.length + 5 })
  const arena = Buffer.alloc(at)
  datagrams.forEach((d, i) => d.copy(arena, offsets[i]))
  return { arena, offsets, lengths }
}

test('a batch opened at once: the same outcomes and plaintexts as one open per datagram (forged, replayed, short, unknown epoch)', () => {
  const { client, server } = pair()
  const twin = pair().server // another session's receiver: the one-by-one reference
  const good = ['one', 'two', 'three', 'four'].map((t) => sealed(client, t))
  const forged = Buffer.from(good[1]!); forged[SEALED_HEADER_BYTES] = forged[SEALED_HEADER_BYTES]! ^ 1
  const otherEpoch = Buffer.from(good[2]!); otherEpoch[1] = 9
  const short = good[3]!.subarray(0, SEALED_HEADER_BYTES + 1 + TAG_BYTES)
  const batch = [good[0]!, forged, good[2]!, good[2]!, otherEpoch, short, good[3]!, good[1]!]
  const { arena, offsets, lengths } = arenaOf(batch)
  const opener = new BatchOpener(16)
  opener.begin(batch.length)
  batch.forEach((d, i) => {
    const rx = server.receiveKeyFor(d[1]!, d.length, 0)
    if (typeof rx !== 'string') opener.add(i, readSealedCounter(d), rx)
  })
  opener.openAll(arena, offsets, lengths)
  const outcomes = batch.map((_, i) => {
    const d = arena.subarray(offsets[i]!, offsets[i]! + lengths[i]!)
    const r = opener.result(i, server, arena, offsets[i]!, lengths[i]!, 0)
    return r === 'ok' ? d.subarray(SEALED_HEADER_BYTES, d.length - TAG_BYTES).toString() : r
  })
  assert.deepEqual(outcomes, ['one', 'decrypt', 'three', 'replay', 'epoch', 'short', 'four', 'two'])
  assert.equal(twin.open(Buffer.from(good[0]!), good[0]!.length, 0), 'decrypt', 'another session cannot open them')
  // The next batch starts clean: nothing from the last one is taken as opened.
  opener.begin(1)
  const again = arenaOf([good[0]!])
  opener.openAll(again.arena, again.offsets, again.lengths)
  const d = again.arena.subarray(again.offsets[0]!, again.offsets[0]! + again.lengths[0]!)
  assert.equal(opener.result(0, server, again.arena, again.offsets[0]!, d.length, 0), 'replay', 'not opened in the batch: opened on its own, and refused as a replay')
})
