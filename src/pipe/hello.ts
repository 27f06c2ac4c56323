/**
 * Handshake payloads (docs/PROTOCOL.md, "Handshake"). They travel inside Noise messages, so
 * they are encrypted and authenticated by the pre-shared key.
 */
import { TIMESTAMP_BYTES } from '../crypto/tai64n.js'
import { ProtocolError } from '../errors.js'

export const PROTOCOL_VERSION = 1
export const CLIENT_ID_BYTES = 16
export const SESSION_ID_BYTES = 8
/** Prologues bind each handshake to its purpose (and a rekey to its session). */
export const SESSION_PROLOGUE = Buffer.from('gst pipe v1 session')
export const REKEY_PROLOGUE_PREFIX = Buffer.from('gst pipe v1 rekey')

export const enum HelloPurpose {
  NewSession = 1,
}

export interface Hello {
  purpose: HelloPurpose
  /** Strictly increasing per client id: replayed hellos are refused. */
  timestamp: Buffer
  /** Random per client process. */
  clientId: Buffer
  /** Bytes the client lets the server send on each stream before a WINDOW. */
  streamWindowBytes: number
}

export interface Welcome {
  sessionId: Buffer
  /** Bytes the server lets the client send on each stream before a WINDOW. */
  streamWindowBytes: number
}

const HELLO_BYTES = 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES + 4
const WELCOME_BYTES = 1 + SESSION_ID_BYTES + 4

export function encodeHello (hello: Hello): Buffer {
  const out = Buffer.alloc(HELLO_BYTES)
  out[0] = PROTOCOL_VERSION
  out[1] = hello.purpose
  hello.timestamp.copy(out, 2)
  hello.clientId.copy(out, 2 + TIMESTAMP_BYTES)
  out.writeUInt32BE(hello.streamWindowBytes, 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES)
  return out
}

export function decodeHello (payload: Buffer): Hello {
  if (payload.length !== HELLO_BYTES) throw new ProtocolError(`hello payload of ${payload.length} bytes, expected ${HELLO_BYTES}`, 'handshake')
  if (payload[0] !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${payload[0]} (we speak ${PROTOCOL_VERSION})`, 'handshake')
  if (payload[1] !== HelloPurpose.NewSession) throw new ProtocolError(`unknown hello purpose ${payload[1]}`, 'handshake')
  const streamWindowBytes = payload.readUInt32BE(2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES)
  if (streamWindowBytes < 4096) throw new ProtocolError(`stream window of ${streamWindowBytes} bytes is below 4096`, 'handshake')
  return {
    purpose: payload[1],
    timestamp: payload.subarray(2, 2 + TIMESTAMP_BYTES),
    clientId: payload.subarray(2 + TIMESTAMP_BYTES, 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES),
    streamWindowBytes,
  }
}

export function encodeWelcome (welcome: Welcome): Buffer {
  const out = Buffer.alloc(WELCOME_BYTES)
  out[0] = PROTOCOL_VERSION
  welcome.sessionId.copy(out, 1)
  out.writeUInt32BE(welcome.streamWindowBytes, 1 + SESSION_ID_BYTES)
  return out
}

export function decodeWelcome (payload: Buffer): Welcome {
  if (payload.length !== WELCOME_BYTES || payload[0] !== PROTOCOL_VERSION) throw new ProtocolError('malformed welcome', 'handshake')
  const streamWindowBytes = payload.readUInt32BE(1 + SESSION_ID_BYTES)
  if (streamWindowBytes < 4096) throw new ProtocolError(`stream window of ${streamWindowBytes} bytes is below 4096`, 'handshake')
  return { sessionId: payload.subarray(1, 1 + SESSION_ID_BYTES), streamWindowBytes }
}

export function rekeyPrologue (sessionHash: Buffer): Buffer {
  return Buffer.concat([REKEY_PROLOGUE_PREFIX, sessionHash])
}
