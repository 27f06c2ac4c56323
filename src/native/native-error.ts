/**
 * A failed system call in the native addon, e.g. `couldn't open /dev/net/tun: EPERM (needs
 * CAP_NET_ADMIN)`. `code` is the errno name (`EPERM`, `EBUSY`) or `ERR_INVALID_ARG`.
 */
export class NativeError extends Error {
  override name = 'NativeError'
  constructor (message: string, readonly code: string) {
    super(message)
  }
}

/** Re-throws what the addon threw as a NativeError, keeping its message and code. */
export function rethrowNative (error: unknown): never {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    throw new NativeError(error.message, (error as unknown as { code: string }).code)
  }
  throw error
}
