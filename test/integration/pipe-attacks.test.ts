// An attacker on the wire or at the server's port: wrong keys, garbage, oversized and truncated
// records, replayed handshakes and records, flipped bits. Each is dropped with a log line and a
// counter, and never disturbs a good session.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startPipe, type PipeFixture } from './pipe-setup.js'
import { startTamperProxy } from '../helpers/tamper-proxy.js'
import { roundTrip, sha256, randomData, waitFor } from '../helpers/net.js'
import { generateKey } from '../../src/crypto/key.js'
import { RecordType } from '../../src/pipe/record.js'

/** A good client whose session must survive whatever the test throws at the server. */
async function withGoodSession (pipe: PipeFixture): Promise<() => Promise<void>> {
  const good = await pipe.addClient()
  const check = async (): Promise<void> => {
    const data = randomData(200_000)
    assert.equal((await roundTrip(good.port, data)).sha256, sha256(data), 'the good session still works')
    assert.equal(good.client.snapshot().handshakes, 1, 'the good session was never dropped')
  }
  await check()
  return check
}

async function sendRaw (port: number, bytes: Buffer, keepOpenMs = 0): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(bytes)
      if (keepOpenMs === 0) s.end()
      else setTimeout(() => s.destroy(), keepOpenMs)
    })
    s.on('error', () => resolve())
    s.on('close', () => resolve())
    s.resume()
  })
}

test('a wrong key fails the handshake on both sides; one log line per source and interval', async () => {
  const pipe = await startPipe({ reconnectMinMs: 20, reconnectMaxMs: 40 })
  try {
    const stillGood = await withGoodSession(pipe)
    const bad = await pipe.addClient({ key: generateKey(), wait: false })
    await waitFor(() => (pipe.server.snapshot().errors.handshake?.count ?? 0) >= 3, 3000, 'several failed attempts')
    assert.equal(pipe.serverLog.matching(/handshake from 127\.0\.0\.1:\d+ failed: wrong key/).length, 1, 'one line per source and interval')
    assert.ok(bad.log.matching(/failed: .*(closed|reset|ECONNRESET)/).length >= 1 || bad.log.matching(/failed/).length >= 1)
    assert.equal(bad.client.state === 'up', false)
    await stillGood()
  } finally {
    await pipe.close()
  }
})

test('garbage, oversized and truncated records drop only their own connection', async () => {
  const pipe = await startPipe()
  try {
    const stillGood = await withGoodSession(pipe)
    await sendRaw(pipe.serverPort, randomData(5000))
    const oversized = Buffer.alloc(8); oversized.writeUInt32BE(0xffffffff, 0)
    await sendRaw(pipe.serverPort, oversized)
    const truncated = Buffer.alloc(20); truncated.writeUInt32BE(1000, 0); truncated[4] = RecordType.Hello
    await sendRaw(pipe.serverPort, truncated)
    const empty = Buffer.alloc(4)
    await sendRaw(pipe.serverPort, empty)
    await waitFor(() => {
      const e = pipe.server.snapshot().errors
      return (e.oversized?.count ?? 0) >= 1 && (e.malformed?.count ?? 0) >= 2 &&
        (e.oversized?.count ?? 0) + (e.malformed?.count ?? 0) + (e.handshake?.count ?? 0) === 4
    }, 3000, 'each bad connection counted')
    assert.equal(pipe.serverLog.matching(/handshake from 127\.0\.0\.1/).length, 1, 'one line per source and interval, however many failures')
    await stillGood()
  } finally {
    await pipe.close()
  }
})

test('a replayed handshake is refused', async () => {
  const pipe = await startPipe()
  try {
    const proxy = await startTamperProxy(pipe.serverPort)
    const { client, port } = await pipe.addClient({ serverPort: proxy.port })
    const hello = proxy.captured[0]![0]!
    assert.equal(hello[4], RecordType.Hello)
    await sendRaw(pipe.serverPort, hello, 200)
    await waitFor(() => (pipe.server.snapshot().errors.replay?.count ?? 0) === 1, 2000, 'the replay to be counted')
    assert.equal(pipe.serverLog.matching(/replayed handshake/).length, 1)
    const data = randomData(10_000)
    assert.equal((await roundTrip(port, data)).sha256, sha256(data))
    assert.equal(client.snapshot().handshakes, 1)
    await proxy.close()
  } finally {
    await pipe.close()
  }
})

test('a replayed record kills that session (never delivered twice); the client re-establishes', async () => {
  const pipe = await startPipe({ reconnectMinMs: 20, reconnectMaxMs: 40 })
  try {
    const proxy = await startTamperProxy(pipe.serverPort)
    const { client, port } = await pipe.addClient({ serverPort: proxy.port })
    // Repeat the first sealed record of the session that carries data.
    let replayed = false
    proxy.setHook((record) => {
      if (!replayed && record[4] === RecordType.Sealed && record.length > 100) { replayed = true; return [record, record] }
      return [record]
    })
    const s = net.connect(port, '127.0.0.1'); s.on('error', () => {}); s.write(randomData(1000))
    await waitFor(() => (pipe.server.snapshot().errors.replay?.count ?? 0) === 1, 2000, 'the replay to be counted')
    assert.ok(pipe.serverLog.matching(/dropped: replayed record/).length === 1)
    proxy.setHook((r) => [r])
    await waitFor(() => client.snapshot().handshakes === 2 && client.state === 'up', 3000, 'a new session')
    const data = randomData(50_000)
    assert.equal((await roundTrip(port, data)).sha256, sha256(data))
    s.destroy()
    await proxy.close()
  } finally {
    await pipe.close()
  }
})

test('a flipped bit in a sealed record fails authentication and drops that session only', async () => {
  const pipe = await startPipe({ reconnectMinMs: 20, reconnectMaxMs: 40 })
  try {
    const stillGood = await withGoodSession(pipe)
    const proxy = await startTamperProxy(pipe.serverPort)
    const { client, port } = await pipe.addClient({ serverPort: proxy.port })
    let flipped = false
    proxy.setHook((record) => {
      if (!flipped && record[4] === RecordType.Sealed && record.length > 40) {
        flipped = true
        const bad = Buffer.from(record)
        bad[30]! ^= 0x04
        return [bad]
      }
      return [record]
    })
    const s = net.connect(port, '127.0.0.1'); s.on('error', () => {}); s.write(randomData(1000))
    await waitFor(() => (pipe.server.snapshot().errors.decrypt?.count ?? 0) === 1, 2000, 'the forgery to be counted')
    assert.equal(pipe.serverLog.matching(/failed authentication/).length, 1)
    await waitFor(() => client.snapshot().handshakes === 2 && client.state === 'up', 3000, 'a new session')
    await stillGood()
    s.destroy()
    await proxy.close()
  } finally {
    await pipe.close()
  }
})

test('a client that never finishes its handshake is dropped after the timeout', async () => {
  const pipe = await startPipe({ handshakeTimeoutMs: 200 })
  try {
    const stillGood = await withGoodSession(pipe)
    const idle = net.connect(pipe.serverPort, '127.0.0.1')
    idle.on('error', () => {})
    const closed = new Promise<void>((resolve) => idle.on('close', () => resolve()))
    await closed
    assert.ok(pipe.serverLog.matching(/handshake timed out/).length >= 1)
    await stillGood()
  } finally {
    await pipe.close()
  }
})
