// Resource caps of the pipe, hit on purpose: each is logged once (not once per refusal), counted,
// and leaves every other client and stream alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startPipe } from './pipe-setup.js'
import { roundTrip, randomData, sha256, waitFor } from '../helpers/net.js'

async function exact (port: number, bytes: number): Promise<boolean> {
  const data = randomData(bytes)
  return (await roundTrip(port, data)).sha256 === sha256(data)
}

test('session cap: extra clients are refused, logged once per source and interval and counted; the admitted one is unaffected', { timeout: 30_000 }, async () => {
  const pipe = await startPipe({ maxSessions: 1, reconnectMinMs: 20, reconnectMaxMs: 40 })
  try {
    const first = await pipe.addClient()
    const extra = await pipe.addClient({ wait: false })
    await waitFor(() => (pipe.server.snapshot().errors.limit?.count ?? 0) >= 5, 10_000, 'several refused attempts')
    assert.equal(pipe.serverLog.matching(/session limit of 1 reached/).length, 1, 'logged once')
    assert.notEqual(extra.client.snapshot().state, 'up')
    assert.ok(await exact(first.port, 500_000), 'the admitted client still moves data')
    assert.equal(first.client.snapshot().handshakes, 1)
    assert.equal(pipe.server.snapshot().sessionsActive, 1)
  } finally {
    await pipe.close()
  }
})

test('streams-per-session cap: the extra stream is refused, logged once and counted; open streams and other sessions go on', { timeout: 30_000 }, async () => {
  const pipe = await startPipe({ maxStreams: 2 })
  try {
    const a = await pipe.addClient()
    const b = await pipe.addClient()
    // Two streams held open on A's session, then three more that must be refused.
    const held = await Promise.all([0, 1].map(async () => await new Promise<net.Socket>((resolve) => { const s = net.connect(a.port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}) })))
    for (const s of held) s.write('x')
    await waitFor(() => pipe.server.snapshot().streamsActive >= 2, 5000, 'two streams open')
    const refused = await Promise.all([0, 1, 2].map(async () => await exact(a.port, 1000).catch(() => false)))
    assert.deepEqual(refused, [false, false, false], 'streams over the cap fail')
    const limitLines = [...pipe.serverLog.lines, ...a.log.lines].filter((l) => /stream limit of 2 reached/.test(l))
    assert.ok(limitLines.length >= 1 && limitLines.length <= 2, `logged once per side (${limitLines.length})`)
    // The held streams still work, and so does another session.
    const echoed = await new Promise<string>((resolve) => { held[0]!.once('data', (d) => resolve(String(d))); held[0]!.write('y') })
    assert.ok(echoed.length > 0, 'an open stream still echoes')
    assert.ok(await exact(b.port, 500_000), 'another session is unaffected')
    for (const s of held) s.destroy()
    // Both ends must have let go: the client counts a stream against its cap until the server's close
    // comes back, one round trip after the server's own count drops.
    await waitFor(() => pipe.server.snapshot().streamsActive === 0 && a.client.snapshot().streamsActive === 0, 5000, 'the held streams closed')
    assert.ok(await exact(a.port, 200_000), 'below the cap again, new streams work')
  } finally {
    await pipe.close()
  }
})
