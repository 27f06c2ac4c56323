// decodeKey on text that is not a passphrase (the Argon2 path costs about 1 s, so it is left out).
import fc from 'fast-check'
import { UsageError } from '../../../src/errors.js'
import { decodeKey, encodeKey, KEY_BYTES } from '../../../src/crypto/key.js'
import { nearValidString, onlyThrows, timeBoxed, type FuzzTarget } from '../lib.js'

const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$|^[A-Za-z0-9_-]{43}=?$/
/** decodeKey would stretch this as a passphrase: skipped. */
export function isPassphrase (text: string): boolean {
  const t = text.trim()
  return t.length >= 8 && !BASE64_KEY.test(t)
}

const keyText = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), fc.constantFrom('', '\n', ' ', '\r\n')).map(([k, url, ws]) => {
  const b64 = encodeKey(k)
  return (url ? Buffer.from(k).toString('base64url') : b64) + ws
})

export const cryptoKeyTarget: FuzzTarget = {
  name: 'crypto-key',
  about: 'decodeKey (non-passphrase text): only UsageError; a key is 32 bytes, and encodeKey/decodeKey round-trips',
  create () {
    const property = fc.property(fc.oneof(nearValidString(keyText), fc.string({ maxLength: 8 })), fc.uint8Array({ minLength: 32, maxLength: 32 }), (text, raw) => {
      timeBoxed(() => {
        const back = decodeKey(encodeKey(raw))
        if (back.fromPassphrase || !back.key.equals(Buffer.from(raw))) throw new Error('encodeKey/decodeKey round trip failed')
        if (isPassphrase(text)) return
        let parsed: ReturnType<typeof decodeKey> | undefined
        if (onlyThrows(() => { parsed = decodeKey(text) }, UsageError) === 'ok') {
          if (parsed!.fromPassphrase || parsed!.key.length !== KEY_BYTES) throw new Error(`key of ${parsed!.key.length} bytes from ${JSON.stringify(text)}`)
        }
      })
    })
    return { property }
  },
}
