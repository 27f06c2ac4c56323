// ChaCha20-Poly1305 (IETF) in place through the OpenSSL inside node (native/aead.c): the
// algorithm and nonce layout of src/crypto/aead.ts (4 zero bytes || counter u64 little-endian,
// 16-byte tag), interchangeable on the wire, without node:crypto's Cipher object and output
// Buffer per call and at OpenSSL's speed rather than libsodium's. Nothing is allocated per call.
//
// One record in a buffer: buf[adStart, adEnd) associated data, buf[adEnd, textEnd) the text,
// buf[textEnd, textEnd + 16) the tag.
import { loadAddon } from './addon.js'
import { NativeError } from './native-error.js'

/** Opaque native key state: one EVP_CIPHER_CTX per direction. */
export type AeadHandle = { readonly __brand: 'AeadHandle' }

/** What native/aead.c exports (the shared NativeAddon interface lists the rest of the addon). */
export interface NativeAeadAddon {
  aeadCreate(key: Uint8Array): AeadHandle
  aeadSeal(handle: AeadHandle, buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): void
  aeadSealFrom(handle: AeadHandle, dst: Uint8Array, adStart: number, adEnd: number, headEnd: number, src: Uint8Array, srcStart: number, srcEnd: number, counter: number): void
  aeadOpen(handle: AeadHandle, buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): boolean
  aeadSealSlots(handle: AeadHandle, arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number, adLen: number, counters: Float64Array): void
  aeadOpenSlots(handle: AeadHandle, arena: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, indexes: Uint32Array, first: number, count: number, adLen: number, counters: Float64Array, ok: Uint8Array): void
  aeadWipe(handle: AeadHandle): void
  aeadOpenSslVersion(): string
}

export const NATIVE_AEAD_KEY_BYTES = 32
export const NATIVE_AEAD_TAG_BYTES = 16

let cached: NativeAeadAddon | null | undefined

function aeadAddon (): NativeAeadAddon | null {
  if (cached !== undefined) return cached
  try {
    const addon = loadAddon() as unknown as Partial<NativeAeadAddon>
    cached = typeof addon.aeadCreate === 'function' ? addon as NativeAeadAddon : null
  } catch {
    cached = null
  }
  return cached
}

/**
 * True if the addon is built and exports the AEAD (it does not when node runs on an OpenSSL of
 * another major version than the headers the addon was compiled against).
 */
export function isNativeAeadAvailable (): boolean {
  return aeadAddon() !== null
}

/** The OpenSSL that seals, e.g. `OpenSSL 3.0.19 27 Jan 2026`; null without the native AEAD. */
export function nativeAeadVersion (): string | null {
  return aeadAddon()?.aeadOpenSslVersion() ?? null
}

/**
 * One direction's key (or both: sealing and opening use separate contexts). The key bytes are
 * copied into OpenSSL at creation; `wipe()` frees that state at once, the garbage collector
 * otherwise.
 *
 * Wrong arguments (offsets outside the buffer or out of order, a counter that is not an integer
 * in [0, 2^53)) throw TypeError/RangeError with code `ERR_INVALID_ARG`: they are bugs, not bad
 * packets. After `wipe()`, sealing throws (code `ERR_INVALID_STATE`) and opening returns false.
 */
export class NativeAead {
  private constructor (private readonly native: NativeAeadAddon, private readonly handle: AeadHandle) {}

  /** Throws NativeError (ENOENT) if the addon is not built; check isNativeAeadAvailable() first. */
  static create (key: Uint8Array): NativeAead {
    const native = aeadAddon()
    if (!native) loadAddon()  // throws the addon's own explanation when it is missing
    if (!native) throw new NativeError('the native addon has no AEAD (node runs an OpenSSL of another major version than it was built with)', 'ENOSYS')
    return new NativeAead(native, native.aeadCreate(key))
  }

  /** Encrypts buf[adEnd, textEnd) in place, authenticating buf[adStart, adEnd); tag to buf[textEnd, textEnd + 16). */
  sealInPlace (buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): void {
    this.native.aeadSeal(this.handle, buf, adStart, adEnd, textEnd, counter)
  }

  /**
   * Seals a record whose plaintext is in two places: dst[adEnd, headEnd) (encrypted in place),
   * then src[srcStart, srcEnd), encrypted into dst[headEnd, headEnd + n); dst[adStart, adEnd) is
   * authenticated and the tag follows the text. The payload's copy into the record and its
   * encryption are one pass; src is left as it was. src must not overlap the record.
   */
  sealFrom (dst: Uint8Array, adStart: number, adEnd: number, headEnd: number, src: Uint8Array, srcStart: number, srcEnd: number, counter: number): void {
    this.native.aeadSealFrom(this.handle, dst, adStart, adEnd, headEnd, src, srcStart, srcEnd, counter)
  }

  /**
   * Verifies the tag at buf[textEnd, textEnd + 16) and decrypts buf[adEnd, textEnd) in place.
   * False if the record is not authentic; buf[adEnd, textEnd) is zeroed then.
   */
  openInPlace (buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): boolean {
    return this.native.aeadOpen(this.handle, buf, adStart, adEnd, textEnd, counter)
  }

  /**
   * Seals `count` packets of an arena in one call: packet i is arena[i * slotBytes, + lengths[i]),
   * its first `adLen` bytes are the associated data, its counter is counters[i]. Appends each
   * tag and adds 16 to lengths[i]. All arguments are checked before anything is sealed.
   */
  sealSlots (arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number, adLen: number, counters: Float64Array): void {
    this.native.aeadSealSlots(this.handle, arena, slotBytes, lengths, count, adLen, counters)
  }

  /**
   * Opens a receive batch's records in one call: for j in [first, first + count), record
   * i = indexes[j] is arena[offsets[i], + lengths[i]) with its first `adLen` bytes as associated
   * data, its last 16 bytes as the tag and counters[i] as its counter; ok[i] becomes 1 when it
   * authenticates (decrypted in place), else 0 (its text zeroed). Nothing throws for a bad record.
   */
  openSlots (arena: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, indexes: Uint32Array, first: number, count: number, adLen: number, counters: Float64Array, ok: Uint8Array): void {
    this.native.aeadOpenSlots(this.handle, arena, offsets, lengths, indexes, first, count, adLen, counters, ok)
  }

  /** Frees the OpenSSL contexts now (OpenSSL cleanses their key state). Idempotent. */
  wipe (): void {
    this.native.aeadWipe(this.handle)
  }
}
