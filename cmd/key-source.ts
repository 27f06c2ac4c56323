/**
 * KEY arguments: `@FILE`, `env:NAME`, or the key itself (gstunnel style). The key never needs to be
 * on the command line: a key file or an environment variable always works.
 */
import { readFile, stat } from 'node:fs/promises'
import { decodeKey } from '../src/crypto/key.js'
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'

export async function loadKey (spec: string, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  let text: string
  if (spec.startsWith('@')) {
    const path = spec.slice(1)
    try {
      text = await readFile(path, 'utf8')
      const mode = (await stat(path)).mode & 0o777
      if ((mode & 0o077) !== 0) log.warn(`key file ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${path}`)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message
      throw new UsageError(`couldn't read key file ${path}: ${why}`)
    }
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
