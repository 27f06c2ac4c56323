/**
 * KEY arguments: `@FILE`, `env:NAME`, or the key itself (gstunnel style). The key never needs to be
 * on the command line: a key file or an environment variable always works. A key file with any
 * group or other permission bit is refused (exit 2), as ssh refuses such a private key.
 */
import { open } from 'node:fs/promises'
import { decodeKey } from '../src/crypto/key.js'
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'

/** True when any group or other permission bit is set (ssh's test for private keys). */
export function isReadableByOthers (mode: number): boolean {
  return (mode & 0o077) !== 0
}

/** The one-line refusal for a key file with group/other bits: says what to run. */
export function keyModeMessage (path: string, mode: number): string {
  return `KEY file ${path} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 ${path}`
}

export async function loadKey (spec: string, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  let text: string
  if (spec.startsWith('@')) {
    const path = spec.slice(1)
    let mode: number
    try {
      // One open file for both the mode and the bytes: the file checked is the file read.
      const handle = await open(path, 'r')
      try {
        mode = (await handle.stat()).mode & 0o777
        text = isReadableByOthers(mode) ? '' : await handle.readFile('utf8')
      } finally {
        await handle.close()
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message
      throw new UsageError(`couldn't read key file ${path}: ${why}`)
    }
    // Like ssh with a private key: a secret others can read is no secret, so refuse to use it.
    if (isReadableByOthers(mode)) throw new UsageError(keyModeMessage(path, mode))
  } else if (spec.startsWith('env:')) {
    const name = spec.slice(4)
    const value = env[name]
    if (value === undefined || value === '') throw new UsageError(`environment variable ${name} (named by KEY env:${name}) is not set`)
    text = value
  } else {
    text = spec
  }
  const parsed = decodeKey(text)
  if (parsed.fromPassphrase) log.warn('the key is a passphrase, stretched with Argon2id; a generated key is stronger: `gst keygen > tunnel.key`')
  return parsed.key
}
