/**
 * Where control sockets live. Pure: cmd/ passes in the uid and environment it read.
 *
 *   root:                  /run/gst/NAME.sock
 *   others:                $XDG_RUNTIME_DIR/gst/NAME.sock, else /tmp/gst-UID/NAME.sock
 *   `--control-dir DIR`:   DIR/NAME.sock
 */
import { join } from 'node:path'
import { UsageError } from '../errors.js'

export const SOCKET_SUFFIX = '.sock'

/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107

/** Names are file names: letters, digits, `.`, `_`, `-`; not starting with `.` or `-`; at most 64. */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/

export function isValidInstanceName (name: string): boolean {
  return NAME_RE.test(name)
}

export function assertInstanceName (name: string, flag = '--name'): void {
  if (!isValidInstanceName(name)) {
    throw new UsageError(`${flag} takes 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-' (got "${name}")`)
  }
}

export interface ControlDirInputs {
  /** Effective uid (process.getuid()), or undefined where there is none. */
  uid: number | undefined
  /** $XDG_RUNTIME_DIR, if set. */
  runtimeDir: string | undefined
}

/** The directory control sockets live in by default. */
export function defaultControlDir ({ uid, runtimeDir }: ControlDirInputs): string {
  if (uid === 0) return '/run/gst'
  if (runtimeDir !== undefined && runtimeDir.startsWith('/')) return join(runtimeDir, 'gst')
  return `/tmp/gst-${uid ?? 'user'}`
}

/** DIR/NAME.sock, checked against the kernel's limit on socket path length. */
export function socketPath (dir: string, name: string): string {
  assertInstanceName(name)
  const path = join(dir, name + SOCKET_SUFFIX)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(`control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes: use a shorter --name or --control-dir`)
  }
  return path
}

/** The instance name of a socket file name, or undefined for anything else in the directory. */
export function instanceNameOf (fileName: string): string | undefined {
  if (!fileName.endsWith(SOCKET_SUFFIX)) return undefined
  const name = fileName.slice(0, -SOCKET_SUFFIX.length)
  return isValidInstanceName(name) ? name : undefined
}
