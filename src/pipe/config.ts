/** Tunables of the pipe, with their defaults and a check that names what is wrong. */
import { UsageError } from '../errors.js'

export interface PipeTunables {
  /** Rotate session keys this often (default 60 s). */
  rekeyIntervalMs: number
  /** Ping an idle session this often; drop it after 3 silent intervals (default 10 s). */
  keepaliveMs: number
  /** Old keys still open late records this long after a rotation (default 10 s). */
  rekeyGraceMs: number
  /** A handshake or rotation must complete within this (default 10 s). */
  handshakeTimeoutMs: number
  /** Per-stream receive window (default 1 MiB): bounds memory per stream. */
  streamWindowBytes: number
  /** Streams per session (default 65536). */
  maxStreams: number
  /** Received bytes held for slow readers per session before reading pauses (default 64 MiB). */
  sessionBufferBytes: number
  /** Server: time allowed to connect to the target (default 10 s). */
  connectTimeoutMs: number
  /** Server: sessions at once (default 10000). */
  maxSessions: number
  /** Server: handshakes per second per source address, and burst (default 20, 40). */
  handshakesPerSecond: number
  handshakeBurst: number
  /** Client: first and longest delay between reconnection attempts (default 0.2 s, 10 s). */
  reconnectMinMs: number
  reconnectMaxMs: number
  /** A session with no subflow left ends after this (default 30 s); the client keeps re-dialling meanwhile. */
  pathTimeoutMs: number
  /** Sent bytes kept per session until acknowledged; past it local sockets pause (default 32 MiB). */
  retransmitBufferBytes: number
  /** A subflow whose acknowledgements stall for max(4 x srtt, this) is dropped (default 0.75 s). */
  subflowStallMs: number
  /** Idle subflows are probed this often, so a dead idle path is noticed (default 0.25 s). */
  probeIntervalMs: number
}

export const DEFAULT_TUNABLES: Readonly<PipeTunables> = Object.freeze({
  rekeyIntervalMs: 60_000,
  keepaliveMs: 10_000,
  rekeyGraceMs: 10_000,
  handshakeTimeoutMs: 10_000,
  streamWindowBytes: 1_048_576,
  maxStreams: 65_536,
  sessionBufferBytes: 64 * 1_048_576,
  connectTimeoutMs: 10_000,
  maxSessions: 10_000,
  handshakesPerSecond: 20,
  handshakeBurst: 40,
  reconnectMinMs: 200,
  reconnectMaxMs: 10_000,
  pathTimeoutMs: 30_000,
  retransmitBufferBytes: 32 * 1_048_576,
  subflowStallMs: 750,
  probeIntervalMs: 250,
})

const bounds: { [K in keyof PipeTunables]: [min: number, max: number] } = {
  rekeyIntervalMs: [100, 86_400_000],
  keepaliveMs: [100, 3_600_000],
  rekeyGraceMs: [0, 600_000],
  handshakeTimeoutMs: [100, 600_000],
  streamWindowBytes: [65_536, 1 << 30],
  maxStreams: [1, 0xffff_ffff],
  sessionBufferBytes: [65_536, 2 ** 40],
  connectTimeoutMs: [10, 600_000],
  maxSessions: [1, 1_000_000],
  handshakesPerSecond: [0.01, 1_000_000],
  handshakeBurst: [1, 1_000_000],
  reconnectMinMs: [1, 600_000],
  reconnectMaxMs: [1, 3_600_000],
  pathTimeoutMs: [100, 86_400_000],
  retransmitBufferBytes: [1_048_576, 2 ** 40],
  subflowStallMs: [50, 600_000],
  probeIntervalMs: [10, 600_000],
}

export function resolveTunables (overrides: Partial<PipeTunables> = {}): PipeTunables {
  const merged = { ...DEFAULT_TUNABLES, ...overrides }
  for (const key of Object.keys(bounds) as Array<keyof PipeTunables>) {
    const value = merged[key]
    const [min, max] = bounds[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new UsageError(`${key} must be a number from ${min} to ${max} (got ${String(value)})`)
    }
  }
  return merged
}
