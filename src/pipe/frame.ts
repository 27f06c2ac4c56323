/**
 * Frames: the plaintext inside a sealed record (docs/PROTOCOL.md, "Frames").
 *
 *   offset size
 *   0      1    frame type (FrameType)
 *   1      4    stream id, big-endian (0 for session frames)
 *   5..         payload, by type
 */
export const FRAME_HEADER_BYTES = 5

export const enum FrameType {
  /** Client opens stream `id` towards the server's target. Payload: empty. */
  Open = 1,
  /** Stream bytes. Payload: the bytes (at most MAX_FRAME_PAYLOAD_BYTES). */
  Data = 2,
  /** The receiver grants more send credit. Payload: u32 increment in bytes. */
  Window = 3,
  /** The sender will send no more data on the stream (half-close). Payload: empty. */
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
  1: 'OPEN', 2: 'DATA', 3: 'WINDOW', 4: 'FIN', 5: 'RESET', 6: 'PING', 7: 'PONG', 8: 'REKEY_INIT', 9: 'REKEY_REPLY', 10: 'CLOSE',
}

/** For logs and test names. */
export function frameName (type: number): string {
  return frameNames[type] ?? `UNKNOWN(${type})`
}
