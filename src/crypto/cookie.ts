/**
 * Proof of reachability for handshakes under load, after WireGuard's cookie reply (its
 * whitepaper, section 5.4.7). Every INIT ends with two MACs:
 *
 *   mac1 = BLAKE2b-128 keyed with HASH("gst vpn v1 mac1" ‖ psk), over the INIT up to mac1:
 *          only key holders can make it; checking it costs one keyed hash, no Noise work.
 *   mac2 = BLAKE2b-128 keyed with a cookie, over the INIT up to mac2 (zero without a cookie).
 *
 * A server under load answers an INIT whose mac2 is not valid for its source address with a
 * cookie reply instead of doing the handshake: cookie = BLAKE2b-128 keyed with a server secret
 * (changed every 2 minutes) over the source address, sealed with XChaCha20-Poly1305 under
 * HASH("gst vpn v1 cookie" ‖ psk) and the INIT's mac1 as associated data. So only a key holder
 * that receives at that address can read it, and only for the INIT it sent. The client sends its
 * next INIT with mac2 under the cookie: the address is proven, and per-address rate limits mean
 * something again.
 *
 * Pure apart from sodium: time comes in as `nowMs`, randomness through an injectable function.
 */
import sodium from 'sodium-native'

/** Length of mac1, mac2 and a cookie (from WireGuard). */
export const MAC_BYTES = 16
export const COOKIE_BYTES = 16
export const COOKIE_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
/** A sealed cookie: nonce, then the encrypted cookie and its tag. */
export const SEALED_COOKIE_BYTES = COOKIE_NONCE_BYTES + COOKIE_BYTES + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
/** From WireGuard: the server's cookie secret changes every 2 minutes. */
export const COOKIE_SECRET_LIFETIME_MS = 120_000
/** Our choice: a client stops using a cookie 10 s before a server could have stopped accepting it. */
export const COOKIE_CLIENT_LIFETIME_MS = COOKIE_SECRET_LIFETIME_MS - 10_000

const MAC1_LABEL = Buffer.from('gst vpn v1 mac1')
const COOKIE_LABEL = Buffer.from('gst vpn v1 cookie')

export type RandomFill = (buf: Buffer) => void
const sodiumRandom: RandomFill = (buf) => sodium.randombytes_buf(buf)

function labelledHash (label: Buffer, psk: Uint8Array): Buffer {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.concat([label, psk]))
  return out
}

/** The two keys a pre-shared key gives the cookie mechanism. */
export class CookieKeys {
  /** Keys mac1. */
  readonly mac1Key: Buffer
  /** Seals and opens cookie replies. */
  readonly replyKey: Buffer

  constructor (psk: Uint8Array) {
    this.mac1Key = labelledHash(MAC1_LABEL, psk)
    this.replyKey = labelledHash(COOKIE_LABEL, psk)
  }

  wipe (): void {
    sodium.sodium_memzero(this.mac1Key)
    sodium.sodium_memzero(this.replyKey)
  }
}

/** Writes BLAKE2b-128(key, message) into `out` (MAC_BYTES long). */
export function writeMac (out: Buffer, key: Uint8Array, message: Uint8Array): void {
  sodium.crypto_generichash(out, message, key)
}

const scratch = Buffer.alloc(MAC_BYTES)

/** True when `mac` is BLAKE2b-128(key, message); compared in constant time. */
export function isMacValid (key: Uint8Array, message: Uint8Array, mac: Uint8Array): boolean {
  if (mac.length !== MAC_BYTES) return false
  sodium.crypto_generichash(scratch, message, key)
  return sodium.sodium_memcmp(scratch, mac)
}

/**
 * Server side: makes cookies for source addresses, seals them into replies, and checks mac2.
 * Cookies made under the current or the previous secret are accepted, so a cookie lives at
 * least one secret lifetime whenever it was made.
 */
export class CookieMaker {
  private current = Buffer.alloc(32)
  private previous = Buffer.alloc(32)
  private hasPrevious = false
  private rotatedAtMs: number
  private readonly cookie = Buffer.alloc(COOKIE_BYTES)

  constructor (nowMs: number, private readonly random: RandomFill = sodiumRandom, private readonly lifetimeMs = COOKIE_SECRET_LIFETIME_MS) {
    this.random(this.current)
    this.rotatedAtMs = nowMs
  }

  /** Replaces the secret once it is a lifetime old (twice: both old secrets are then stale). */
  private rotate (nowMs: number): void {
    const age = nowMs - this.rotatedAtMs
    if (age < this.lifetimeMs) return
    if (age >= 2 * this.lifetimeMs) {
      this.hasPrevious = false
      sodium.sodium_memzero(this.previous)
    } else {
      const old = this.previous
      this.previous = this.current
      this.current = old
      this.hasPrevious = true
    }
    this.random(this.current)
    this.rotatedAtMs = nowMs
  }

  /** The cookie of `source` (any fixed encoding of address and port) under the current secret. */
  cookieFor (source: Uint8Array, nowMs: number): Buffer {
    this.rotate(nowMs)
    writeMac(this.cookie, this.current, source)
    return this.cookie
  }

  /** True when `mac2` is the MAC of `message` under the cookie `source` was given, now or one secret ago. */
  isMac2Valid (message: Uint8Array, mac2: Uint8Array, source: Uint8Array, nowMs: number): boolean {
    this.rotate(nowMs)
    if (isZero(mac2)) return false
    writeMac(this.cookie, this.current, source)
    if (isMacValid(this.cookie, message, mac2)) return true
    if (!this.hasPrevious) return false
    writeMac(this.cookie, this.previous, source)
    return isMacValid(this.cookie, message, mac2)
  }

  /**
   * Writes the sealed cookie for `source` into `out` (SEALED_COOKIE_BYTES): a random nonce, then
   * the cookie encrypted under `replyKey` with the INIT's mac1 as associated data.
   */
  sealReply (out: Buffer, source: Uint8Array, mac1: Uint8Array, replyKey: Uint8Array, nowMs: number): void {
    const nonce = out.subarray(0, COOKIE_NONCE_BYTES)
    this.random(nonce)
    const cookie = this.cookieFor(source, nowMs)
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(COOKIE_NONCE_BYTES, SEALED_COOKIE_BYTES), cookie, mac1, null, nonce, replyKey)
  }

  wipe (): void {
    sodium.sodium_memzero(this.current)
    sodium.sodium_memzero(this.previous)
    this.cookie.fill(0)
  }
}

/**
 * Client side: the cookie last received on each path (a cookie proves one source address, and
 * each path sends from its own), used for mac2 until it is too old.
 */
export class CookieJar {
  private readonly cookies = new Map<number, { cookie: Buffer, receivedAtMs: number }>()

  constructor (private readonly lifetimeMs = COOKIE_CLIENT_LIFETIME_MS) {}

  /**
   * Opens a sealed cookie (SEALED_COOKIE_BYTES) that answers the INIT with `mac1`, and keeps it
   * for `path`. False when it does not authenticate (not for that INIT, or not from a key holder).
   */
  accept (path: number, sealed: Uint8Array, mac1: Uint8Array, replyKey: Uint8Array, nowMs: number): boolean {
    if (sealed.length !== SEALED_COOKIE_BYTES) return false
    const cookie = Buffer.alloc(COOKIE_BYTES)
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, null, sealed.subarray(COOKIE_NONCE_BYTES), mac1, sealed.subarray(0, COOKIE_NONCE_BYTES), replyKey)
    } catch {
      return false
    }
    this.cookies.set(path, { cookie, receivedAtMs: nowMs })
    return true
  }

  /** The cookie for `path` if it is still fresh. */
  cookie (path: number, nowMs: number): Buffer | undefined {
    const entry = this.cookies.get(path)
    if (entry === undefined) return undefined
    if (nowMs - entry.receivedAtMs >= this.lifetimeMs) {
      this.cookies.delete(path)
      return undefined
    }
    return entry.cookie
  }
}

function isZero (bytes: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!
  return acc === 0
}
