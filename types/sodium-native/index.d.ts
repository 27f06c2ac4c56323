// Typings for the sodium-native calls gst uses (the package ships none, and the public
// @types lack the IETF ChaCha20-Poly1305 functions). Buffers are written in place.
declare module 'sodium-native' {
  type Bytes = Uint8Array

  export const crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
  export const crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number
  export const crypto_aead_chacha20poly1305_ietf_ABYTES: number
  /** Writes ciphertext and tag (m.length + ABYTES) to c; returns the bytes written. c may be m (in place). */
  export function crypto_aead_chacha20poly1305_ietf_encrypt (c: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number
  /** Throws if the tag does not verify; returns the plaintext length. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt (m: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number
  export function crypto_aead_chacha20poly1305_ietf_encrypt_detached (c: Bytes, mac: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number
  /** Throws if the tag does not verify. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt_detached (m: Bytes, nsec: null, c: Bytes, mac: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): void

  export const crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number
  export const crypto_aead_xchacha20poly1305_ietf_ABYTES: number
  /** Writes ciphertext and tag (m.length + ABYTES) to c; returns the bytes written. */
  export function crypto_aead_xchacha20poly1305_ietf_encrypt (c: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number
  /** Throws if the tag does not verify; returns the plaintext length. */
  export function crypto_aead_xchacha20poly1305_ietf_decrypt (m: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number

  export const crypto_pwhash_SALTBYTES: number
  export const crypto_pwhash_ALG_ARGON2ID13: number
  export const crypto_pwhash_OPSLIMIT_MODERATE: number
  export const crypto_pwhash_MEMLIMIT_MODERATE: number
  export const crypto_pwhash_OPSLIMIT_INTERACTIVE: number
  export const crypto_pwhash_MEMLIMIT_INTERACTIVE: number
  export function crypto_pwhash (out: Bytes, passwd: Bytes, salt: Bytes, opslimit: number, memlimit: number, alg: number): void

  export const crypto_generichash_BYTES: number
  export function crypto_generichash (out: Bytes, input: Bytes, key?: Bytes): void

  export function randombytes_buf (buf: Bytes): void
  export function sodium_memzero (buf: Bytes): void
  /** Constant-time equality of two buffers of the same length. */
  export function sodium_memcmp (a: Bytes, b: Bytes): boolean
}
