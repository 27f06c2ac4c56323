// A StatusReport builder for rendering tests.
import { emptyErrorCounters, STATUS_VERSION, type PathStatus, type SessionStatus, type StatusReport } from '../../../src/control/status.js'

export function path (overrides: Partial<PathStatus> = {}): PathStatus {
  return {
    id: '0', local: '127.0.0.1:40000', remote: '127.0.0.1:43210', state: 'up', rttMs: 0.42, lossPct: null,
    rateBitsPerSec: null, mtuBytes: null, bytesIn: 0, bytesOut: 0, ...overrides,
  }
}

export function session (overrides: Partial<SessionStatus> = {}): SessionStatus {
  return {
    id: '1', peer: '127.0.0.1:43210', state: 'up', since: '2025-01-01T00:00:00.000Z', rttMs: 0.42, rekeys: 2,
    bytesIn: 1536, bytesOut: 20 * 1024 * 1024, streams: { active: 1, total: 12 }, paths: [path()], ...overrides,
  }
}

export function report (overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    version: STATUS_VERSION,
    at: '2025-01-01T00:02:05.000Z',
    instance: {
      name: 'office', mode: 'pipe-client', pid: 4242, version: '0.1.0', startedAt: '2025-01-01T00:00:00.000Z', uptimeS: 125,
      listen: '127.0.0.1:1080', target: null, server: '127.0.0.1:43210',
    },
    sessions: [session()],
    streams: { active: 1, total: 12, refused: 0 },
    errors: emptyErrorCounters(),
    ...overrides,
  }
}

/** A report `seconds` after the base time in which path 1/0 has carried the given byte totals. */
export function at (seconds: number, bytesIn: number, bytesOut = 0): StatusReport {
  const base = Date.parse('2025-01-01T00:00:00.000Z')
  return report({
    at: new Date(base + seconds * 1000).toISOString(),
    sessions: [session({ bytesIn, bytesOut, paths: [path({ bytesIn, bytesOut })] })],
  })
}
