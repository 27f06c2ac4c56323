// The cmd/ adapter from pipe statistics to a StatusReport.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pipeClientReport, pipeServerReport, type ReportContext } from '../../../cmd/pipe-status.js'
import { assertStatusReport } from '../../../src/control/status.js'
import type { PipeSessionSnapshot } from '../../../src/pipe/session-snapshot.js'

const startedAtMs = Date.parse('2025-01-01T00:00:00.000Z')
const ctx = (mode: 'pipe-server' | 'pipe-client'): ReportContext => ({
  instance: { name: 'n', mode, pid: 1, version: '0.1.0', listen: '127.0.0.1:1', target: mode === 'pipe-server' ? '127.0.0.1:2' : null, server: mode === 'pipe-client' ? '127.0.0.1:3' : null },
  startedAtMs,
  nowMs: startedAtMs + 10_000,
  nowMonotonicMs: 50_000, // monotonic 50 000 is wall start + 10 s
})
const snap: PipeSessionSnapshot = {
  id: 4, peer: '127.0.0.1:9', local: '127.0.0.1:3', openedAtMs: 45_000, rttMs: 0.5, rekeys: 3, bytesIn: 10, bytesOut: 20, streamsActive: 1, streamsTotal: 5,
  scheduler: 'auto', retransmitBytes: 0, peakRetransmitBytes: 0, resentUnits: 0, capHits: { streams: 0, buffer: 2 },
  subflows: [{ pathId: 0, path: '127.0.0.1:9', local: '127.0.0.1:3', remote: '127.0.0.1:9', state: 'up', rttMs: 0.5, cwnd: 10, rateBitsPerSec: undefined, bytesIn: 10, bytesOut: 20, openedAtMs: 45_000 }],
}

test('server: sessions with one TCP path each, monotonic times as wall-clock ISO, refused = connect errors', () => {
  const r = pipeServerReport(ctx('pipe-server'), {
    sessionsActive: 1, sessionsTotal: 4, streamsActive: 1, streamsTotal: 9, handshakes: 4, rekeys: 7,
    errors: { connect: { count: 2, lastSource: '127.0.0.1:2', lastAtMs: 49_000 }, decrypt: { count: 1, lastSource: '1.2.3.4:5', lastAtMs: 40_000 } },
  }, [snap])
  assertStatusReport(r)
  assert.equal(r.at, '2025-01-01T00:00:10.000Z')
  assert.equal(r.instance.uptimeS, 10)
  assert.equal(r.instance.startedAt, '2025-01-01T00:00:00.000Z')
  assert.deepEqual(r.sessions[0], {
    id: '4', peer: '127.0.0.1:9', state: 'up', since: '2025-01-01T00:00:05.000Z', rttMs: 0.5, rekeys: 3, bytesIn: 10, bytesOut: 20,
    streams: { active: 1, total: 5 },
    paths: [{ id: '0', local: '127.0.0.1:3', remote: '127.0.0.1:9', state: 'up', rttMs: 0.5, lossPct: null, rateBitsPerSec: null, mtuBytes: null, bytesIn: 10, bytesOut: 20 }],
    subflows: [{ path: '127.0.0.1:9', pathId: 0, local: '127.0.0.1:3', remote: '127.0.0.1:9', state: 'up', rttMs: 0.5, cwnd: 10, rateBps: null, bytesSent: 20, bytesReceived: 10, since: '2025-01-01T00:00:05.000Z' }],
    scheduler: 'auto', retransmitBytes: 0, resentFrames: 0, capHits: { streams: 0, buffer: 2 },
  })
  assert.deepEqual(r.streams, { active: 1, total: 9, refused: 2 })
  assert.deepEqual(r.errors.connect, { count: 2, lastSource: '127.0.0.1:2', lastAt: '2025-01-01T00:00:09.000Z' })
  assert.deepEqual(r.errors.decrypt, { count: 1, lastSource: '1.2.3.4:5', lastAt: '2025-01-01T00:00:00.000Z' })
  assert.deepEqual(r.errors.replay, { count: 0, lastSource: null, lastAt: null })
})

test('client: its one session, also while reconnecting', () => {
  const stats = { state: 'backoff' as const, handshakes: 1, rekeys: 0, streamsActive: 0, streamsTotal: 3, streamsRefused: 2, sessionRttMs: undefined, bufferedBytes: 0, peakBufferedBytes: 0, errors: { connect: { count: 1, lastSource: '127.0.0.1:3', lastAtMs: 49_500 } } }
  const down = pipeClientReport(ctx('pipe-client'), stats, undefined, 48_000)
  assertStatusReport(down)
  assert.equal(down.sessions.length, 1)
  assert.deepEqual(down.sessions[0], { id: '-', peer: '127.0.0.1:3', state: 'backoff', since: '2025-01-01T00:00:08.000Z', rttMs: null, rekeys: 0, bytesIn: 0, bytesOut: 0, streams: { active: 0, total: 0 }, paths: [] })
  assert.deepEqual(down.streams, { active: 0, total: 3, refused: 2 })
  assert.equal(down.errors.connect.count, 1)
  const up = pipeClientReport(ctx('pipe-client'), { ...stats, state: 'up' }, snap, 45_000)
  assert.equal(up.sessions[0]!.state, 'up')
  assert.equal(up.sessions[0]!.rekeys, 3)
})
