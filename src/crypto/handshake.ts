/**
 * Noise NNpsk0_25519_ChaChaPoly_BLAKE2b, used for the handshake only (its transport cipher has a
 * 32-bit implicit nonce): the pre-shared key authenticates both sides, fresh ephemeral keys on
 * each side give forward secrecy. Results are plain key material that `TransportKeys` takes over.
 *
 *   initiator                                responder
 *   message 1: e, payload (sealed under psk+e) ->
 *                                          <-  message 2: e, ee, payload
 */
import Noise from 'noise-handshake'
import sodium from 'sodium-native'

export const PATTERN = 'NNpsk0'
/** Noise overhead of each message: an ephemeral public key and a payload tag. */
export const HANDSHAKE_OVERHEAD_BYTES = 32 + 16

/** Key material a completed handshake hands over. The owner must wipe it (`wipeSecrets`). */
export interface HandshakeSecrets {
  /** This side's sending key. */
  tx: Buffer
  /** This side's receiving key. */
  rx: Buffer
  /** Handshake hash: binds later in-session rekeys to this session. */
  hash: Buffer
}

/** NN never uses a static key; a shared dummy spares a key generation per handshake. */
const UNUSED_STATIC = { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(32) }

function takeSecrets (state: Noise): HandshakeSecrets {
  const tx = Buffer.from(state.tx!)
  const rx = Buffer.from(state.rx!)
  const hash = Buffer.from(state.hash!)
  sodium.sodium_memzero(state.tx!)
  sodium.sodium_memzero(state.rx!)
  return { tx, rx, hash }
}

export function wipeSecrets (secrets: HandshakeSecrets): void {
  sodium.sodium_memzero(secrets.tx)
  sodium.sodium_memzero(secrets.rx)
  sodium.sodium_memzero(secrets.hash)
}

export class HandshakeInitiator {
  private readonly state: Noise
  /** The first message, to send to the responder. */
  readonly message1: Buffer

  /**
   * `payload` may be a function of this handshake's ephemeral public key (message 1's first 32
   * bytes), for payloads that must be bound to this very handshake (a pipe subflow's join proof).
   */
  constructor (psk: Uint8Array, prologue: Uint8Array, payload: Uint8Array | ((ephemeralPublicKey: Buffer) => Uint8Array)) {
    this.state = new Noise(PATTERN, true, UNUSED_STATIC, { psk })
    this.state.initialise(prologue)
    if (typeof payload === 'function') {
      const state = this.state as unknown as { e: { publicKey: Uint8Array } | null, curve: { generateKeyPair: () => { publicKey: Uint8Array } } }
      state.e = state.curve.generateKeyPair() // the library uses a preset ephemeral key as is
      payload = payload(Buffer.from(state.e.publicKey))
    }
    this.message1 = Buffer.from(this.state.send(payload))
  }

  /** Consumes the responder's message; returns its payload and the session secrets, or null if it does not authenticate. */
  finish (message2: Uint8Array): { payload: Buffer, secrets: HandshakeSecrets } | null {
    let payload: Uint8Array
    try {
      payload = this.state.recv(message2)
    } catch {
      return null
    }
    if (!this.state.complete) return null
    return { payload: Buffer.from(payload), secrets: takeSecrets(this.state) }
  }
}

/** A message 1 that authenticated under one of the responder's keys, awaiting the reply. */
export class HandshakeResponse {
  constructor (private readonly state: Noise, readonly payload: Buffer, readonly keyIndex: number) {}

  /** Builds message 2 and returns it with the session secrets. */
  reply (payload: Uint8Array): { message2: Buffer, secrets: HandshakeSecrets } {
    const message2 = Buffer.from(this.state.send(payload))
    return { message2, secrets: takeSecrets(this.state) }
  }
}

/**
 * Tries message 1 against each pre-shared key (one Noise state each: cheap, no DH happens before
 * the psk-protected payload authenticates). Returns null when no key fits: wrong key or garbage.
 */
export function acceptHandshake (psks: readonly Uint8Array[], prologue: Uint8Array, message1: Uint8Array): HandshakeResponse | null {
  for (let i = 0; i < psks.length; i++) {
    const state = new Noise(PATTERN, false, UNUSED_STATIC, { psk: psks[i]! })
    state.initialise(prologue)
    try {
      const payload = state.recv(message1)
      return new HandshakeResponse(state, Buffer.from(payload), i)
    } catch {
      // not this key (or not a handshake at all)
    }
  }
  return null
}
