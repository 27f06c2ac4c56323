/**
 * Handshake payloads (docs/PROTOCOL.md, "Handshake"). They travel inside Noise messages, so
 * they are encrypted and authenticated by the pre-shared key.
 */
import { TIMESTAMP_BYTES } from '../crypto/tai64n.js'
import { ProtocolError } from '../errors.js'

/** 2: stream frames carry offsets (order-independent), subflows join sessions. */
export const PROTOCOL_VERSION = 2
export const CLIENT_ID_BYTES = 16
export const SESSION_ID_BYTES = 8
/** Prologues bind each handshake to its purpose (and a rekey to its session). */
export const SESSION_PROLOGUE = Buffer.from('gst pipe v1 session')
export const REKEY_PROLOGUE_PREFIX = Buffer.from('gst pipe v1 rekey')

export const JOIN_PROOF_BYTES = 32

export const enum HelloPurpose {
  /** The first subflow: creates a session. */
  NewSession = 1,
  /** A further subflow of an existing session (sessionId, pathId and a join proof follow). */
  JoinSession = 2,
}

/** What a JoinSession hello adds. */
export interface JoinRequest {
  sessionId: Buffer
  /** The client's path index (0..255): replay state is kept per path. */
  pathId: number
  /** Keyed BLAKE2b under the session's join key (see join.ts). */
  proof: Buffer
}

export interface Hello {
  purpose: HelloPurpose
  /** Strictly increasing per client id: replayed hellos are refused. */
  timestamp: Buffer
  /** Random per client process. */
  clientId: Buffer
  /** Bytes the client lets the server send on each stream before a WINDOW. */
  streamWindowBytes: number
  /** Present for JoinSession. */
  join?: JoinRequest
}

export interface Welcome {
  sessionId: Buffer
  /** Bytes the server lets the client send on each stream before a WINDOW. */
  streamWindowBytes: number
}

const HELLO_BYTES = 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES + 4
const JOIN_BYTES = SESSION_ID_BYTES + 1 + JOIN_PROOF_BYTES
const WELCOME_BYTES = 1 + SESSION_ID_BYTES + 4

export function encodeHello (hello: Hello): Buffer {
  const join = hello.purpose === HelloPurpose.JoinSession ? hello.join : undefined
  if (hello.purpose === HelloPurpose.JoinSession && join === undefined) throw new Error('a join hello needs its join request')
  const out = Buffer.alloc(HELLO_BYTES + (join ? JOIN_BYTES : 0))
  out[0] = PROTOCOL_VERSION
  out[1] = hello.purpose
  hello.timestamp.copy(out, 2)
  hello.clientId.copy(out, 2 + TIMESTAMP_BYTES)
  out.writeUInt32BE(hello.streamWindowBytes, 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES)
  if (join) {
    join.sessionId.copy(out, HELLO_BYTES)
    out[HELLO_BYTES + SESSION_ID_BYTES] = join.pathId
    join.proof.copy(out, HELLO_BYTES + SESSION_ID_BYTES + 1)
  }
  return out
}

export function decodeHello (payload: Buffer): Hello {
  if (payload.length < 2) throw new ProtocolError(`hello payload of ${payload.length} bytes`, 'handshake')
  if (payload[0] !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${payload[0]} (we speak ${PROTOCOL_VERSION})`, 'handshake')
  const purpose = payload[1]
  if (purpose !== HelloPurpose.NewSession && purpose !== HelloPurpose.JoinSession) throw new ProtocolError(`unknown hello purpose ${purpose}`, 'handshake')
  const expected = HELLO_BYTES + (purpose === HelloPurpose.JoinSession ? JOIN_BYTES : 0)
  if (payload.length !== expected) throw new ProtocolError(`hello payload of ${payload.length} bytes, expected ${expected}`, 'handshake')
  const streamWindowBytes = payload.readUInt32BE(2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES)
  if (streamWindowBytes < 4096) throw new ProtocolError(`stream window of ${streamWindowBytes} bytes is below 4096`, 'handshake')
  const hello: Hello = {
    purpose,
    timestamp: payload.subarray(2, 2 + TIMESTAMP_BYTES),
    clientId: payload.subarray(2 + TIMESTAMP_BYTES, 2 + TIMESTAMP_BYTES + CLIENT_ID_BYTES),
    streamWindowBytes,
  }
  if (purpose === HelloPurpose.JoinSession) {
    hello.join = {
      sessionId: payload.subarray(HELLO_BYTES, HELLO_BYTES + SESSION_ID_BYTES),
      pathId: payload[HELLO_BYTES + SESSION_ID_BYTES]!,
      proof: payload.subarray(HELLO_BYTES + SESSION_ID_BYTES + 1, expected),
    }
  }
  return hello
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
