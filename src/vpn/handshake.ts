/**
 * The VPN's handshake datagrams (INIT, RESPONSE, COOKIE_REPLY) around Noise NNpsk0
 * (src/crypto/handshake.ts) and the cookie mechanism (src/crypto/cookie.ts).
 *
 *   INIT         0 type, 1 version, 2 u32 sender index, 6 Noise message 1, then mac1 (16), mac2 (16)
 *   COOKIE_REPLY 0 type, 1 version, 2 u32 receiver index (the INIT's sender index), 6 24-byte nonce,
 *                30 the sealed cookie (16 + 16-byte tag)
 *   INIT payload (31 bytes): 0 u8 version, 1 12-byte TAI64N timestamp, 13 16-byte client id, 29 u8 path id, 30 u8 flags
 *   RESPONSE payload (1 byte): 0 u8 version
 */
import { HandshakeInitiator, acceptHandshake, type HandshakeResponse, type HandshakeSecrets } from '../crypto/handshake.js'
import { CookieKeys, CookieMaker, CookieJar, MAC_BYTES, SEALED_COOKIE_BYTES, isMacValid, writeMac } from '../crypto/cookie.js'
import { TIMESTAMP_BYTES } from '../crypto/tai64n.js'
import { DatagramType, INIT_HEADER_BYTES, PROTOCOL_VERSION, RESPONSE_HEADER_BYTES } from './wire.js'

/** mac1 and mac2 at the end of every INIT. */
export const INIT_MACS_BYTES = 2 * MAC_BYTES
export const COOKIE_REPLY_HEADER_BYTES = 6
export const COOKIE_REPLY_BYTES = COOKIE_REPLY_HEADER_BYTES + SEALED_COOKIE_BYTES
/** The smallest INIT that can hold a Noise message 1 (its ephemeral key and tag) and both MACs. */
const MIN_INIT_BYTES = INIT_HEADER_BYTES + 48 + INIT_MACS_BYTES

/** Cookie keys of each pre-shared key, derived once (keys live as long as the process). */
const cookieKeysByPsk = new WeakMap<Uint8Array, CookieKeys>()
export function cookieKeysOf (psk: Uint8Array): CookieKeys {
  let keys = cookieKeysByPsk.get(psk)
  if (keys === undefined) cookieKeysByPsk.set(psk, keys = new CookieKeys(psk))
  return keys
}

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

  /** The path it was sent on (a cookie reply is for that path's source address). */
  readonly pathId: number

  /** `cookie`: the server's latest cookie for this path's address, for mac2 (none: zeros). */
  constructor (psk: Uint8Array, readonly senderIndex: number, payload: InitPayload, readonly cookie?: Uint8Array) {
    const plain = Buffer.alloc(INIT_PAYLOAD_BYTES)
    plain[0] = PROTOCOL_VERSION
    payload.timestamp.copy(plain, 1)
    payload.clientId.copy(plain, 1 + TIMESTAMP_BYTES)
    plain[1 + TIMESTAMP_BYTES + CLIENT_ID_BYTES] = payload.pathId
    this.pathId = payload.pathId
    this.noise = new HandshakeInitiator(psk, SESSION_PROLOGUE, plain)
    const macsAt = INIT_HEADER_BYTES + this.noise.message1.length
    this.datagram = Buffer.alloc(macsAt + INIT_MACS_BYTES)
    this.datagram[0] = DatagramType.Init
    this.datagram[1] = PROTOCOL_VERSION
    this.datagram.writeUInt32BE(senderIndex, 2)
    this.noise.message1.copy(this.datagram, INIT_HEADER_BYTES)
    writeMac(this.datagram.subarray(macsAt, macsAt + MAC_BYTES), cookieKeysOf(psk).mac1Key, this.datagram.subarray(0, macsAt))
    if (cookie !== undefined) writeMac(this.datagram.subarray(macsAt + MAC_BYTES), cookie, this.datagram.subarray(0, macsAt + MAC_BYTES))
  }

  /** This INIT's mac1: a cookie reply to it is sealed with it as associated data. */
  get mac1 (): Buffer {
    return this.datagram.subarray(this.datagram.length - INIT_MACS_BYTES, this.datagram.length - MAC_BYTES)
  }

  /**
   * Takes the cookie out of a COOKIE_REPLY to this INIT into `jar` (under this INIT's path).
   * False when it is not for this INIT or does not authenticate under `psk`.
   */
  acceptCookie (reply: Buffer, psk: Uint8Array, jar: CookieJar, nowMs: number): boolean {
    if (reply.length !== COOKIE_REPLY_BYTES || reply[0] !== DatagramType.CookieReply || reply[1] !== PROTOCOL_VERSION) return false
    if (reply.readUInt32BE(2) !== this.senderIndex) return false
    return jar.accept(this.pathId, reply.subarray(COOKIE_REPLY_HEADER_BYTES), this.mac1, cookieKeysOf(psk).replyKey, nowMs)
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

/**
 * Server side, before any Noise work: the index of the key whose mac1 the INIT carries, or -1
 * (not from a key holder, or not an INIT of this version). One keyed hash per configured key.
 */
export function initKeyIndex (psks: readonly Uint8Array[], datagram: Buffer): number {
  if (datagram.length < MIN_INIT_BYTES || datagram[1] !== PROTOCOL_VERSION) return -1
  const mac1At = datagram.length - INIT_MACS_BYTES
  const signed = datagram.subarray(0, mac1At)
  const mac1 = datagram.subarray(mac1At, mac1At + MAC_BYTES)
  for (let i = 0; i < psks.length; i++) if (isMacValid(cookieKeysOf(psks[i]!).mac1Key, signed, mac1)) return i
  return -1
}

/** Server side: whether the INIT's mac2 proves `source` (its cookie, made by `maker`). */
export function hasValidMac2 (maker: CookieMaker, datagram: Buffer, source: Uint8Array, nowMs: number): boolean {
  const mac2At = datagram.length - MAC_BYTES
  return maker.isMac2Valid(datagram.subarray(0, mac2At), datagram.subarray(mac2At), source, nowMs)
}

/** Server side: the COOKIE_REPLY for an INIT whose mac1 verified under key `psk`, from `source`. */
export function writeCookieReply (maker: CookieMaker, init: Buffer, psk: Uint8Array, source: Uint8Array, nowMs: number): Buffer {
  const reply = Buffer.alloc(COOKIE_REPLY_BYTES)
  reply[0] = DatagramType.CookieReply
  reply[1] = PROTOCOL_VERSION
  reply.writeUInt32BE(init.readUInt32BE(2), 2)
  const mac1At = init.length - INIT_MACS_BYTES
  maker.sealReply(reply.subarray(COOKIE_REPLY_HEADER_BYTES), source, init.subarray(mac1At, mac1At + MAC_BYTES), cookieKeysOf(psk).replyKey, nowMs)
  return reply
}

/** The client's index a COOKIE_REPLY is for. */
export function cookieReplyReceiverIndex (datagram: Buffer): number {
  return datagram.length >= COOKIE_REPLY_HEADER_BYTES ? datagram.readUInt32BE(2) : -1
}

export type InitDecision =
  | { ok: true, response: HandshakeResponse, payload: InitPayload, senderIndex: number, /** which of the keys */ keyIndex: number }
  | { ok: false, reason: string }

/**
 * Server side: authenticates an INIT (its mac1, then its Noise message) against the configured
 * keys. `keyIndex` is initKeyIndex's answer when the caller already has it. mac2 is not checked
 * here (only under load; see hasValidMac2).
 */
export function readInit (psks: readonly Uint8Array[], datagram: Buffer, keyIndex = initKeyIndex(psks, datagram)): InitDecision {
  if (datagram.length < MIN_INIT_BYTES || datagram[1] !== PROTOCOL_VERSION) return { ok: false, reason: 'malformed or unknown-version handshake' }
  if (keyIndex < 0) return { ok: false, reason: 'wrong key, or not a gst client' }
  const response = acceptHandshake([psks[keyIndex]!], SESSION_PROLOGUE, datagram.subarray(INIT_HEADER_BYTES, datagram.length - INIT_MACS_BYTES))
  if (response === null) return { ok: false, reason: 'wrong key, or not a gst client' }
  const p = response.payload
  if (p.length !== INIT_PAYLOAD_BYTES || p[0] !== PROTOCOL_VERSION) return { ok: false, reason: 'malformed handshake payload' }
  return {
    ok: true,
    response,
    keyIndex,
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
