/**
 * ChaCha20-Poly1305 (IETF) with an explicit 64-bit counter as the nonce: the counter travels in
 * the clear header, which is authenticated as associated data, so no nonce is ever implicit or
 * reused. Counters are JS numbers: rekeying long before 2^53 keeps them exact.
 *
 * Three bindings of the same algorithm, interchangeable on the wire (tests check byte equality):
 * - OpenSSL through our addon, in place, no allocation per call: 1.7x libsodium at 1400 bytes and
 *   2.4-2.8x at 16-64 KiB here (bench/aead.ts). Used by `sealRange`/`openRange` when built.
 * - libsodium (sodium-native), in place: the fallback when the addon lacks OpenSSL.
 * - OpenSSL through node:crypto (`sealPieces`/`openToBuffer`): into fresh buffers, for callers
 *   that want the output separate from the input.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import sodium from 'sodium-native'
import { NativeAead, isNativeAeadAvailable } from '../native/aead.js'

export const AEAD_KEY_BYTES = 32
export const TAG_BYTES = 16
/** Our choice: rotate keys well before counters get anywhere near 2^64 (DESIGN.md section 3). */
export const MAX_MESSAGES_PER_KEY = 2 ** 40

const TWO_POW_32 = 2 ** 32
const OPENSSL_NAME = 'chacha20-poly1305'
const EMPTY = Buffer.alloc(0)

/** Writes `counter` into the 12-byte nonce: 4 zero bytes then the counter, little-endian. */
export function writeNonce (nonce: Buffer, counter: number): void {
  nonce.writeUInt32LE(0, 0)
  nonce.writeUInt32LE(counter % TWO_POW_32, 4)
  nonce.writeUInt32LE(Math.floor(counter / TWO_POW_32), 8)
}

/** One direction's key. Owns its key bytes and wipes them on `wipe()`. */
export class AeadKey {
  private readonly nonce = Buffer.alloc(12)
  private readonly key: Buffer
  private readonly native: NativeAead | undefined

  constructor (key: Uint8Array) {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError('AEAD key must be 32 bytes')
    this.key = Buffer.from(key)
    this.native = isNativeAeadAvailable() ? NativeAead.create(key) : undefined
  }

  /**
   * Seals in place within one buffer: associated data buf[adStart, adEnd), plaintext
   * buf[adEnd, textEnd) encrypted in place, tag written to buf[textEnd, textEnd + 16).
   */
  sealRange (buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): void {
    if (this.native !== undefined) {
      this.native.sealInPlace(buf, adStart, adEnd, textEnd, counter)
      return
    }
    this.sealInPlace(buf.subarray(adStart, adEnd), buf.subarray(adEnd, textEnd), buf.subarray(textEnd, textEnd + TAG_BYTES), counter)
  }

  /**
   * Seals like `sealRange` a record whose plaintext is dst[adEnd, headEnd) followed by
   * src[srcStart, srcEnd): the latter lands encrypted at dst[headEnd, headEnd + n), the tag
   * after it, and src is left as it was. With the addon the payload's copy and its encryption
   * are one pass; without it, a copy then sealRange.
   */
  sealFrom (dst: Uint8Array, adStart: number, adEnd: number, headEnd: number, src: Uint8Array, srcStart: number, srcEnd: number, counter: number): void {
    if (this.native !== undefined) {
      this.native.sealFrom(dst, adStart, adEnd, headEnd, src, srcStart, srcEnd, counter)
      return
    }
    dst.set(src.subarray(srcStart, srcEnd), headEnd)
    this.sealRange(dst, adStart, adEnd, headEnd + (srcEnd - srcStart), counter)
  }

  /** Opens what `sealRange` sealed, in place; false (and no usable plaintext) if it does not authenticate. */
  openRange (buf: Uint8Array, adStart: number, adEnd: number, textEnd: number, counter: number): boolean {
    // The counter comes off the wire before authentication: one we would never send (>= 2^53)
    // is simply a forgery, not a reason to throw.
    if (textEnd + TAG_BYTES > buf.length || adEnd > textEnd || !Number.isSafeInteger(counter) || counter < 0) return false
    if (this.native !== undefined) return this.native.openInPlace(buf, adStart, adEnd, textEnd, counter)
    return this.openInPlace(buf.subarray(adStart, adEnd), buf.subarray(adEnd, textEnd), buf.subarray(textEnd, textEnd + TAG_BYTES), counter)
  }

  /**
   * Seals `count` records of an arena in one call (NativeAead.sealSlots): record i is
   * arena[i * slotBytes, + lengths[i]), its first adLen bytes associated data, its counter
   * counters[i]; each tag is appended and lengths[i] grows by 16. Without the addon, one at a
   * time through libsodium.
   */
  sealSlots (arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number, adLen: number, counters: Float64Array): void {
    if (this.native !== undefined) {
      this.native.sealSlots(arena, slotBytes, lengths, count, adLen, counters)
      return
    }
    for (let i = 0; i < count; i++) {
      const at = i * slotBytes
      this.sealRange(arena, at, at + adLen, at + lengths[i]!, counters[i]!)
      lengths[i] = lengths[i]! + TAG_BYTES
    }
  }

  /**
   * Opens records of one receive batch in one call (NativeAead.openSlots): for j in [first,
   * first + count), record i = indexes[j] is arena[offsets[i], + lengths[i]) with its first adLen
   * bytes as associated data and the tag last; ok[i] = 1 when it authenticates. Without the
   * addon, one at a time through libsodium.
   */
  openSlots (arena: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, indexes: Uint32Array, first: number, count: number, adLen: number, counters: Float64Array, ok: Uint8Array): void {
    if (this.native !== undefined) {
      this.native.openSlots(arena, offsets, lengths, indexes, first, count, adLen, counters, ok)
      return
    }
    for (let j = first; j < first + count; j++) {
      const i = indexes[j]!
      const at = offsets[i]!
      const length = lengths[i]!
      ok[i] = length >= adLen + TAG_BYTES && this.openRange(arena, at, at + adLen, at + length - TAG_BYTES, counters[i]!) ? 1 : 0
    }
  }

  /**
   * Encrypts `text` in place and writes the tag to `tag`. `ad` is authenticated, not encrypted.
   */
  sealInPlace (ad: Uint8Array, text: Uint8Array, tag: Uint8Array, counter: number): void {
    writeNonce(this.nonce, counter)
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, tag, text, ad, null, this.nonce, this.key)
  }

  /** Decrypts `text` in place; returns false (leaving garbage in `text`) if authentication fails. */
  openInPlace (ad: Uint8Array, text: Uint8Array, tag: Uint8Array, counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0) return false
    writeNonce(this.nonce, counter)
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(text, null, text, tag, ad, this.nonce, this.key)
      return true
    } catch {
      return false
    }
  }

  /**
   * Seals one plaintext given as `head` followed by body[start, end), without joining them.
   * Returns the ciphertext of each piece and the tag, in wire order.
   */
  sealPieces (ad: Uint8Array, head: Uint8Array, body: Uint8Array, start: number, end: number, counter: number): [Buffer, Buffer, Buffer] {
    writeNonce(this.nonce, counter)
    const cipher = createCipheriv(OPENSSL_NAME, this.key, this.nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: head.length + end - start })
    const headOut = cipher.update(head)
    const bodyOut = end > start ? cipher.update(body.subarray(start, end)) : EMPTY
    cipher.final()
    return [headOut, bodyOut, cipher.getAuthTag()]
  }

  /** Opens `ciphertext` into a new buffer; null if authentication fails (no plaintext escapes then). */
  openToBuffer (ad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, counter: number): Buffer | null {
    writeNonce(this.nonce, counter)
    const decipher = createDecipheriv(OPENSSL_NAME, this.key, this.nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: ciphertext.length })
    decipher.setAuthTag(tag)
    const plaintext = decipher.update(ciphertext)
    try {
      decipher.final()
    } catch {
      plaintext.fill(0)
      return null
    }
    return plaintext
  }

  wipe (): void {
    sodium.sodium_memzero(this.key)
    this.native?.wipe()
  }
}
