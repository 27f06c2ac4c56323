// Typings for the part of noise-handshake gst uses: the handshake state machine only.
declare module 'noise-handshake' {
  interface KeyPair { publicKey: Uint8Array, secretKey: Uint8Array }
  class NoiseState {
    constructor (pattern: 'NNpsk0' | 'NN' | 'XX' | 'IK', initiator: boolean, staticKeypair?: KeyPair | null, opts?: { psk?: Uint8Array })
    initialise (prologue: Uint8Array, remoteStatic?: Uint8Array): void
    /** Next handshake message carrying an (encrypted once keys exist) payload. */
    send (payload?: Uint8Array): Uint8Array
    /** Consumes a handshake message; throws if it does not authenticate. Returns the payload. */
    recv (message: Uint8Array): Uint8Array
    readonly complete: boolean
    /** After completion: this side's sending key (initiator: k1). */
    readonly tx: Uint8Array | null
    /** After completion: this side's receiving key. */
    readonly rx: Uint8Array | null
    readonly hash: Uint8Array | null
  }
  export = NoiseState
}
