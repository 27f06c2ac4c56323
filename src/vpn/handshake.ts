/**
 * The VPN's handshake datagrams (INIT, RESPONSE) around Noise NNpsk0 (src/crypto/handshake.ts).
 *
 *   INIT payload (31 bytes): 0 u8 version, 1 12-byte TAI64N timestamp, 13 16-byte client id, 29 u8 path id, 30 u8 flags
 *   RESPONSE payload (1 byte): 0 u8 version
 */
import { HandshakeInitiator, acceptHandshake, type HandshakeResponse, type HandshakeSecrets } from '../crypto/handshake.js'
import { TIMESTAMP_BYTES } from '../crypto/tai64n.js'
import { DatagramType, INIT_HEADER_BYTES, PROTOCOL_VERSION, RESPONSE_HEADER_BYTES } from './wire.js'

export const SESSION_PROLOGUE = Buffer.from('gst vpn v1 session')
export const REKEY_PROLOGUE_PREFIX = Buffer.from('gst vpn v1 rekey')
export const CLIENT_ID_BYTES = 16
const INIT_PAYLOAD_BYTES = 1 + TIMESTAMP_BYTES + CLIENT_ID_BYTES + 2

export interface InitPayload {
  timestamp: Buffer
  clientId: Buffer
  pathId: number
}

export function rekeyPrologue (sessionHash: Buffer): Buffer {
  return Buffer.concat([REKEY_PROLOGUE_PREFIX, sessionHash])
}

/** Client side: builds an INIT datagram and finishes on the matching RESPONSE. */
export class InitHandshake {
  readonly datagram: Buffer
  private readonly noise: HandshakeInitiator

  constructor (psk: Uint8Array, readonly senderIndex: number, payload: InitPayload) {
    const plain = Buffer.alloc(INIT_PAYLOAD_BYTES)
    plain[0] = PROTOCOL_VERSION
    payload.timestamp.copy(plain, 1)
    payload.clientId.copy(plain, 1 + TIMESTAMP_BYTES)
    plain[1 + TIMESTAMP_BYTES + CLIENT_ID_BYTES] = payload.pathId
    this.noise = new HandshakeInitiator(psk, SESSION_PROLOGUE, plain)
    this.datagram = Buffer.alloc(INIT_HEADER_BYTES + this.noise.message1.length)
    this.datagram[0] = DatagramType.Init
    this.datagram[1] = PROTOCOL_VERSION
    this.datagram.writeUInt32BE(senderIndex, 2)
    this.noise.message1.copy(this.datagram, INIT_HEADER_BYTES)
  }

  /** Secrets and the server's index, or null if the response does not authenticate. */
  finish (response: Buffer): { secrets: HandshakeSecrets, remoteIndex: number } | null {
    if (response.length < RESPONSE_HEADER_BYTES || response[0] !== DatagramType.Response) return null
    if (response.readUInt32BE(6) !== this.senderIndex) return null
    const done = this.noise.finish(response.subarray(RESPONSE_HEADER_BYTES))
    if (done === null || done.payload[0] !== PROTOCOL_VERSION) return null
    return { secrets: done.secrets, remoteIndex: response.readUInt32BE(2) }
  }
}

/** The client's index a RESPONSE is for (to find the pending handshake). */
export function responseReceiverIndex (datagram: Buffer): number {
  return datagram.readUInt32BE(6)
}

export type InitDecision =
  | { ok: true, response: HandshakeResponse, payload: InitPayload, senderIndex: number }
  | { ok: false, reason: string }

/** Server side: authenticates an INIT against the configured keys. */
export function readInit (psks: readonly Uint8Array[], datagram: Buffer): InitDecision {
  if (datagram.length < INIT_HEADER_BYTES + 48 || datagram[1] !== PROTOCOL_VERSION) return { ok: false, reason: 'malformed or unknown-version handshake' }
  const response = acceptHandshake(psks, SESSION_PROLOGUE, datagram.subarray(INIT_HEADER_BYTES))
  if (response === null) return { ok: false, reason: 'wrong key, or not a gst client' }
  const p = response.payload
  if (p.length !== INIT_PAYLOAD_BYTES || p[0] !== PROTOCOL_VERSION) return { ok: false, reason: 'malformed handshake payload' }
  return {
    ok: true,
    response,
    senderIndex: datagram.readUInt32BE(2),
    payload: {
      timestamp: Buffer.from(p.subarray(1, 1 + TIMESTAMP_BYTES)),
      clientId: Buffer.from(p.subarray(1 + TIMESTAMP_BYTES, 1 + TIMESTAMP_BYTES + CLIENT_ID_BYTES)),
      pathId: p[1 + TIMESTAMP_BYTES + CLIENT_ID_BYTES]!,
    },
  }
}

/** Server side: the RESPONSE datagram for an accepted INIT. */
export function writeResponse (accepted: HandshakeResponse, senderIndex: number, receiverIndex: number): { datagram: Buffer, secrets: HandshakeSecrets } {
  const { message2, secrets } = accepted.reply(Buffer.from([PROTOCOL_VERSION]))
  const datagram = Buffer.alloc(RESPONSE_HEADER_BYTES + message2.length)
  datagram[0] = DatagramType.Response
  datagram[1] = PROTOCOL_VERSION
  datagram.writeUInt32BE(senderIndex, 2)
  datagram.writeUInt32BE(receiverIndex, 6)
  message2.copy(datagram, RESPONSE_HEADER_BYTES)
  return { datagram, secrets }
}
