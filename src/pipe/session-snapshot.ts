/** One pipe session as `gst show` sees it: read from the multiplexer and channel, never kept. */
import type { Multiplexer } from './mux.js'

export interface PipeSessionSnapshot {
  /** Unique within the process: 1, 2, ... in the order sessions came up. */
  id: number
  /** The other side's "host:port", and ours, of the session's TCP connection. */
  peer: string
  local: string
  /** When the session came up (monotonic ms of the instance's clock). */
  openedAtMs: number
  rttMs: number | undefined
  rekeys: number
  /** Bytes on the wire (records, encrypted) in each direction. */
  bytesIn: number
  bytesOut: number
  streamsActive: number
  streamsTotal: number
}

export function snapshotSession (id: number, mux: Multiplexer, openedAtMs: number): PipeSessionSnapshot {
  const channel = mux.channel
  const socket = channel.socket
  return {
    id,
    peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
    local: `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`,
    openedAtMs,
    rttMs: channel.stats.lastRttMs,
    rekeys: channel.rotations,
    bytesIn: channel.stats.bytesIn,
    bytesOut: channel.stats.bytesOut,
    streamsActive: mux.streams.size,
    streamsTotal: mux.streamsOpened,
  }
}
