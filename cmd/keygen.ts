/** `gst keygen [FILE]`: a new random key, base64, owner-only when written to a file. */
import { fstatSync, fchmodSync, writeFileSync } from 'node:fs'
import { encodeKey, generateKey } from '../src/crypto/key.js'
import { UsageError } from '../src/errors.js'

export function keygen (file: string | undefined): void {
  const line = encodeKey(generateKey()) + '\n'
  if (file !== undefined) {
    try {
      writeFileSync(file, line, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new UsageError(e.code === 'EEXIST' ? `${file} exists: remove it first (keys are never overwritten)` : `couldn't write ${file}: ${e.message}`)
    }
    return
  }
  // `gst keygen > tunnel.key`: the shell created the file with the umask's mode; make it owner-only.
  try {
    if (fstatSync(1).isFile()) fchmodSync(1, 0o600)
  } catch {
    // not a file we may change (a pipe, a terminal): nothing to protect
  }
  process.stdout.write(line)
}
