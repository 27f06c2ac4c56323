/**
 * Frames: the plaintext inside a sealed record (docs/PROTOCOL.md, "Frames").
 *
 *   offset size
 *   0      1    frame type (FrameType)
 *   1      4    stream id, big-endian (0 for session frames)
 *   5..         payload, by type
 */
import { ProtocolError } from '../errors.js'

export const FRAME_HEADER_BYTES = 5

export const enum FrameType {
  /** Client opens stream `id` towards the server's target (any first frame of a stream also does). Payload: empty. */
  Open = 1,
  /** Stream bytes. Payload: u64 stream offset of the first byte, then the bytes (at most MAX_FRAME_PAYLOAD_BYTES). */
  Data = 2,
  /** The receiver's send limit. Payload: u64 absolute stream offset the peer may send up to (the largest one counts). */
  Window = 3,
  /** The sender will send no more data on the stream (half-close). Payload: u64 final size of the stream. */
  Fin = 4,
  /** Abort the stream in both directions. Payload: u8 ResetReason, then optional UTF-8 detail. */
  Reset = 5,
  /** Keepalive. Payload: 8 opaque bytes to echo. */
  Ping = 6,
  /** Keepalive answer. Payload: the ping's 8 bytes. */
  Pong = 7,
  /** Initiator starts a key rotation. Payload: Noise message 1 bound to the session. */
  RekeyInit = 8,
  /** Responder's answer; its later records use the new keys. Payload: Noise message 2. */
  RekeyReply = 9,
  /** The sender closes the session. Payload: u8 CloseReason, then optional UTF-8 detail. */
  Close = 10,
  /** Subflow acknowledgement. Payload: u64 count of ack-eliciting frames received on this subflow, u8 flags (1 = the sender stopped reading: its local readers are slow). */
  Ack = 11,
}

/** Bytes of the u64 offset that DATA, FIN and WINDOW carry. */
export const OFFSET_BYTES = 8
const TWO_POW_32 = 2 ** 32

/** Writes a u64 (a safe integer) big-endian. */
export function writeU64 (buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), at)
  buf.writeUInt32BE(value % TWO_POW_32, at + 4)
}

/** Reads a u64 big-endian; above 2^53 it is not a number we ever send: a protocol error. */
export function readU64 (buf: Buffer, at: number): number {
  const high = buf.readUInt32BE(at)
  if (high >= 0x200000) throw new ProtocolError(`offset field ${high.toString(16)}xxxxxxxx beyond 2^53`, 'malformed')
  return high * TWO_POW_32 + buf.readUInt32BE(at + 4)
}

/**
 * Frames the receiver counts and acknowledges (every type but ACK and PONG, so acknowledgements
 * never call for acknowledgements): a subflow's ACK says how many of them arrived on it.
 */
export function isAckEliciting (type: number): boolean {
  return type !== FrameType.Ack && type !== FrameType.Pong
}

export const enum ResetReason {
  /** The local socket closed abnormally or errored. */
  Aborted = 1,
  /** The server could not connect to its target (refused, unreachable, timed out). */
  ConnectFailed = 2,
  /** A limit (streams per session, memory) was hit. */
  Limit = 3,
  /** The peer sent something invalid for this stream. */
  Protocol = 4,
}

export const enum CloseReason {
  Normal = 1,
  Protocol = 2,
  Timeout = 3,
  Shutdown = 4,
}

const frameNames: Record<number, string> = {
  1: 'OPEN', 2: 'DATA', 3: 'WINDOW', 4: 'FIN', 5: 'RESET', 6: 'PING', 7: 'PONG', 8: 'REKEY_INIT', 9: 'REKEY_REPLY', 10: 'CLOSE', 11: 'ACK',
}

/** For logs and test names. */
export function frameName (type: number): string {
  return frameNames[type] ?? `UNKNOWN(${type})`
}
