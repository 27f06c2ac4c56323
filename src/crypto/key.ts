/**
 * Pre-shared keys: 32 random bytes, written as base64. A string that is not a valid key is
 * treated as a passphrase and stretched with Argon2id (weaker than a generated key: say so).
 */
import sodium from 'sodium-native'
import { UsageError } from '../errors.js'

export const KEY_BYTES = 32

/** Whether two keys are the same bytes, in constant time (a server compares its peers' keys). */
export function sameKey (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium.sodium_memcmp(a, b)
}

/** Argon2id cost for passphrases: libsodium's "moderate" (about 0.5-1 s and 256 MiB, once at start). */
const PASSPHRASE_OPS = sodium.crypto_pwhash_OPSLIMIT_MODERATE
const PASSPHRASE_MEM = sodium.crypto_pwhash_MEMLIMIT_MODERATE
/**
 * Both ends must derive the same key from the same passphrase with nothing exchanged first,
 * so the salt is fixed (domain-separated). This is why a generated key is better.
 */
const PASSPHRASE_SALT = Buffer.from('gst passphrase 1', 'utf8') // 16 bytes = crypto_pwhash_SALTBYTES

export interface ParsedKey {
  key: Buffer
  /** True when the text was not a base64 key and was stretched as a passphrase. */
  fromPassphrase: boolean
}

export function generateKey (): Buffer {
  const key = Buffer.alloc(KEY_BYTES)
  sodium.randombytes_buf(key)
  return key
}

export function encodeKey (key: Uint8Array): string {
  return Buffer.from(key).toString('base64')
}

const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$|^[A-Za-z0-9_-]{43}=?$/

/** Parses key text (already read from a file, env var or argument). Never echoes the text in errors. */
export function decodeKey (text: string): ParsedKey {
  const trimmed = text.trim()
  if (trimmed.length === 0) throw new UsageError('the key is empty: make one with `gst keygen > tunnel.key`')
  if (BASE64_KEY.test(trimmed)) {
    const key = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64')
    if (key.length === KEY_BYTES) return { key, fromPassphrase: false }
  }
  if (trimmed.length < 8) throw new UsageError('the key is neither a 32-byte base64 key nor a passphrase of at least 8 characters: make one with `gst keygen`')
  return { key: stretchPassphrase(trimmed), fromPassphrase: true }
}

export function stretchPassphrase (passphrase: string): Buffer {
  const key = Buffer.alloc(KEY_BYTES)
  const secret = Buffer.from(passphrase, 'utf8')
  sodium.crypto_pwhash(key, secret, PASSPHRASE_SALT, PASSPHRASE_OPS, PASSPHRASE_MEM, sodium.crypto_pwhash_ALG_ARGON2ID13)
  sodium.sodium_memzero(secret)
  return key
}
